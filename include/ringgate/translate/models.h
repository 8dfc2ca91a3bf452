// Model catalog and model-name policy: Gemini models.list pages in, the OpenAI /v1/models list and
// the per-request model check out. Pure logic, no I/O: the caller fetches the pages.
//
//   ModelCatalog catalog;
//   std::string token;
//   do {
//     body = GET /v1beta/models?pageSize=1000[&pageToken=token]
//     if (Status s = catalog.AddPage(body); !s.ok()) ...
//     token = catalog.next_page_token();
//   } while (!token.empty());
//
//   OpenAIModelList(catalog, settings, 1678888888);      // GET /v1/models
//   ModelAccess access = CheckModel(request_model, catalog, settings);
//   if (!access.allowed) responder.Send(access.status(), "application/json", access.ErrorBody());
//   upstream model = access.upstream_model; add google_search when access.search.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/common/result.h"

namespace ringgate {

// One entry of Gemini's models.list (wire-formats 2.5).
struct GeminiModelInfo {
  std::string id;  // "gemini-2.5-flash" ("models/" stripped)
  std::string display_name;
  int64_t input_token_limit = 0;
  int64_t output_token_limit = 0;
  std::vector<std::string> supported_generation_methods;
  bool thinking = false;  // the "thinking" field; absent means false (proto3 omits false)

  bool Supports(std::string_view method) const;
  bool SupportsGenerateContent() const { return Supports("generateContent"); }
};

struct GeminiModelPage {
  std::vector<GeminiModelInfo> models;
  std::string next_page_token;  // empty on the last page
};

// Parses one page. Unknown fields are skipped; a model without a name is skipped. An upstream
// error body ({"error":{...}}) or malformed JSON gives an error Status.
Result<GeminiModelPage> ParseGeminiModelPage(std::string_view json);

// All models seen on the pages added so far, in upstream order. Chat questions (Exists,
// SupportsThinking, listing) consider only models whose supportedGenerationMethods includes
// generateContent.
class ModelCatalog {
 public:
  // Parses and adds one page; remembers its nextPageToken.
  Status AddPage(std::string_view json);
  void AddPage(GeminiModelPage page);
  void Clear();

  // Whether any page was added (even an empty one). Before that nothing is known.
  bool loaded() const { return loaded_; }
  // The last added page's nextPageToken: fetch it next; empty when the list is complete.
  const std::string& next_page_token() const { return next_page_token_; }

  // Chat-capable models (generateContent), in upstream order.
  std::vector<const GeminiModelInfo*> ChatModels() const;
  size_t chat_model_count() const { return chat_.size(); }
  // Every model, chat-capable or not (embedding, imagen, ...), in upstream order.
  const std::vector<GeminiModelInfo>& all_models() const { return models_; }

  // Any model by id ("models/" prefix accepted); nullptr when unknown.
  const GeminiModelInfo* Find(std::string_view id) const;
  // A chat-capable model with this id ("models/" prefix accepted). "-search" variants are not
  // catalog entries: CheckModel handles them.
  bool Exists(std::string_view model) const;
  // Whether the model takes a thinkingConfig (for ENABLE_THINKING). Accepts a "-search" variant
  // (looks at its base). Unknown models: false, since sending thinkingConfig to a model without
  // thinking fails the request while leaving it out only loses the thoughts.
  bool SupportsThinking(std::string_view model) const;

 private:
  std::vector<GeminiModelInfo> models_;
  std::vector<uint32_t> chat_;    // indexes into models_ (indexes keep the catalog copyable)
  std::vector<uint32_t> sorted_;  // indexes into models_, sorted by id
  // The model Find last found: nearly every request of a core asks for the same few models, and
  // each asks two or three times (exists, thinking). The catalog is per core, so no sharing.
  mutable uint32_t last_found_ = UINT32_MAX;
  std::string next_page_token_;
  bool loaded_ = false;
};

// HAJIMI's SEARCH_MODE, EXTRA_MODELS, BLOCKED_MODELS, WHITELIST_MODELS.
struct ModelListSettings {
  // Adds a "<model>-search" variant after every gemini-2 (and later) chat model; a request for it
  // calls <model> with the google_search tool.
  bool search_mode = false;
  // Appended after the upstream models, verbatim ("models/" stripped), without -search variants.
  std::vector<std::string> extra_models;
  // Hidden from the list and refused at chat time. Blocking a model also blocks its -search
  // variant. Ignored when whitelist_models is non-empty.
  std::vector<std::string> blocked_models;
  // When non-empty, only these exact names are listed and accepted.
  std::vector<std::string> whitelist_models;
};

// From raw environment values (std::nullopt = unset) with HAJIMI's rules: SEARCH_MODE true iff
// true/1/yes (case-insensitive); lists comma-separated, items trimmed, empties dropped.
ModelListSettings ModelListSettingsFromEnv(std::optional<std::string_view> search_mode,
                                           std::optional<std::string_view> extra_models,
                                           std::optional<std::string_view> blocked_models,
                                           std::optional<std::string_view> whitelist_models);

// Whether SEARCH_MODE adds a "-search" variant for this (chat) model: HAJIMI adds it for names
// starting "gemini-2"; we also add it for later generations ("gemini-3-pro-preview").
bool HasSearchVariant(std::string_view model_id);

// HAJIMI's AVAILABLE_MODELS: chat models, each followed by its -search variant when search_mode,
// then the extras; duplicates dropped. No block/allow filtering.
std::vector<std::string> AvailableModels(const ModelCatalog& catalog,
                                         const ModelListSettings& settings);
// AvailableModels filtered by the whitelist, or else by the blocklist: what /v1/models shows.
std::vector<std::string> ListedModels(const ModelCatalog& catalog,
                                      const ModelListSettings& settings);

// {"object":"list","data":[{"id":...,"object":"model","created":<created>,
//   "owned_by":"organization-owner"},...]} over ListedModels. HAJIMI's created is 1678888888.
std::string OpenAIModelList(const ModelCatalog& catalog, const ModelListSettings& settings,
                            int64_t created);

enum class ModelRefusal : uint8_t {
  kNone,
  kUnknown,         // not a catalog chat model, -search variant or extra
  kBlocked,         // on BLOCKED_MODELS (or its base is)
  kNotWhitelisted,  // WHITELIST_MODELS is set and does not name it
};

struct ModelAccess {
  bool allowed = false;
  ModelRefusal refusal = ModelRefusal::kNone;
  // What to call upstream: the requested name without "models/" and, in search mode, without
  // "-search".
  std::string_view upstream_model;  // a part of the requested name
  bool search = false;              // search mode and a "-search" name: add {"google_search":{}}
  std::string message;              // when refused: the OpenAI-style message

  int status() const { return allowed ? 200 : 404; }
  // {"error":{"message":...,"type":"invalid_request_error","param":null,
  //  "code":"model_not_found"},"detail":"无效的模型"}; empty when allowed.
  std::string ErrorBody() const;
};

// Chat-time check. Unlike HAJIMI (which checks only AVAILABLE_MODELS), the block and allow lists
// are enforced here too. While the catalog is not loaded, unknown names are let through (the
// upstream answers for them); the lists still apply.
ModelAccess CheckModel(std::string_view requested, const ModelCatalog& catalog,
                       const ModelListSettings& settings);

}  // namespace ringgate
