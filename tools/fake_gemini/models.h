// The fake's model catalog: what models.list and models.get answer, with each model's JSON
// formatted once at start-up, and the precomputed embedding vectors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fake_gemini {

struct ModelInfo {
  std::string id;                    // "gemini-2.5-flash" (the name without "models/")
  std::vector<std::string> methods;  // supportedGenerationMethods
  bool thinking = false;
  bool embedding = false;
  int embedding_dims = 0;  // default (and maximum) outputDimensionality of embedding models
  std::string json;        // the models.get body
  std::string page_token;  // the nextPageToken that starts a page at this model
};

class ModelCatalog {
 public:
  ModelCatalog();

  const std::vector<ModelInfo>& models() const { return models_; }
  const ModelInfo* Find(std::string_view id) const;
  // Whether `model` serves `method` (batchEmbedContents goes with embedContent,
  // streamGenerateContent with generateContent).
  static bool Supports(const ModelInfo& model, std::string_view method);

  // Appends a models.list page. Returns false when `page_token` is not one this catalog issued.
  bool AppendPage(std::string& out, int page_size, std::string_view page_token) const;

  // Appends `{"values":[...]}` with `dims` values; the first depends on `seed`.
  void AppendEmbedding(std::string& out, int dims, uint64_t seed) const;

 private:
  std::vector<ModelInfo> models_;
  std::string full_list_;           // the whole list in one page (default page size covers it)
  std::string embedding_values_;    // "v1,v2,...": values 1..kMaxDims-1
  std::vector<size_t> value_ends_;  // value_ends_[i]: end of value i+1 in embedding_values_
};

}  // namespace fake_gemini
