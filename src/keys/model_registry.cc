#include "ringgate/keys/model_registry.h"

#include <algorithm>
#include <cstring>

namespace ringgate {

ModelName ModelName::From(std::string_view name) {
  ModelName out;
  out.size = static_cast<uint8_t>(std::min(name.size(), kMax));
  std::memcpy(out.data, name.data(), out.size);
  return out;
}

ModelRegistry::ModelRegistry(size_t max_models)
    : max_models_(std::clamp<size_t>(max_models, 2, 65535)) {
  names_.emplace_back("(other)");
}

ModelId ModelRegistry::Intern(std::string_view name) {
  name = name.substr(0, ModelName::kMax);
  auto it = ids_.find(name);
  if (it != ids_.end())
    return it->second;
  if (names_.size() >= max_models_)
    return kOverflow;
  ModelId id = static_cast<ModelId>(names_.size());
  names_.emplace_back(name);
  ids_.emplace(std::string(name), id);
  return id;
}

std::optional<ModelId> ModelRegistry::Find(std::string_view name) const {
  name = name.substr(0, ModelName::kMax);
  auto it = ids_.find(name);
  if (it == ids_.end())
    return std::nullopt;
  return it->second;
}

std::string_view ModelRegistry::Name(ModelId id) const {
  return id < names_.size() ? std::string_view(names_[id]) : std::string_view(names_[kOverflow]);
}

}  // namespace ringgate
