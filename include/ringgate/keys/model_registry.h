// Model names interned into small integer ids, so the key pool never hashes or copies a model
// name per request. One registry per core; ids are local to it (HealthEvents carry the name).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringgate {

using ModelId = uint16_t;

// A model name inside a HealthEvent: fixed size, trivially copyable. Names longer than kMax bytes
// are cut (the registry cuts them the same way, so both sides agree).
struct ModelName {
  static constexpr size_t kMax = 63;
  uint8_t size = 0;
  char data[kMax] = {};

  static ModelName From(std::string_view name);
  std::string_view view() const { return std::string_view(data, size); }
};

class ModelRegistry {
 public:
  // Id of the shared bucket every name beyond max_models falls into (clients can send any model
  // name; the registry must not grow without bound). Its name is "(other)".
  static constexpr ModelId kOverflow = 0;
  static constexpr size_t kDefaultMaxModels = 512;

  explicit ModelRegistry(size_t max_models = kDefaultMaxModels);

  // The id of name; allocates only the first time a name is seen. Names are cut to
  // ModelName::kMax bytes.
  ModelId Intern(std::string_view name);
  // Without interning (and without allocating).
  std::optional<ModelId> Find(std::string_view name) const;
  std::string_view Name(ModelId id) const;
  // Ids in use, kOverflow included: valid ids are [0, size()).
  size_t size() const { return names_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  size_t max_models_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, ModelId, Hash, std::equal_to<>> ids_;
};

}  // namespace ringgate
