// Model catalog: models.list pages (two pages with a nextPageToken), the /v1/models listing with
// SEARCH_MODE, EXTRA_MODELS, BLOCKED_MODELS and WHITELIST_MODELS, and the chat-time model check.
#include "ringgate/translate/models.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

namespace ringgate {
namespace {

constexpr char kPage1[] = R"({
  "models": [
    {
      "name": "models/gemini-2.5-flash",
      "version": "001",
      "displayName": "Gemini 2.5 Flash",
      "description": "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
      "inputTokenLimit": 1048576,
      "outputTokenLimit": 65536,
      "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
      "temperature": 1,
      "topP": 0.95,
      "topK": 64,
      "maxTemperature": 2,
      "thinking": true
    },
    {
      "name": "models/gemini-2.0-flash",
      "version": "2.0",
      "displayName": "Gemini 2.0 Flash",
      "description": "Gemini 2.0 Flash",
      "inputTokenLimit": 1048576,
      "outputTokenLimit": 8192,
      "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
      "temperature": 1,
      "topP": 0.95,
      "topK": 40,
      "maxTemperature": 2
    },
    {
      "name": "models/gemini-embedding-001",
      "version": "001",
      "displayName": "Gemini Embedding 001",
      "description": "Obtain a distributed representation of a text.",
      "inputTokenLimit": 2048,
      "outputTokenLimit": 1,
      "supportedGenerationMethods": ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"]
    },
    {
      "name": "models/gemini-1.5-flash",
      "version": "001",
      "displayName": "Gemini 1.5 Flash",
      "inputTokenLimit": 1000000,
      "outputTokenLimit": 8192,
      "supportedGenerationMethods": ["generateContent", "countTokens"]
    }
  ],
  "nextPageToken": "Chxtb2RlbHMvZ2VtaW5pLTIuNS1wcm8="
}
)";

constexpr char kPage2[] = R"({
  "models": [
    {
      "name": "models/gemini-2.5-pro",
      "baseModelId": "gemini-2.5-pro",
      "version": "2.5",
      "displayName": "Gemini 2.5 Pro \"stable\"",
      "description": "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
      "inputTokenLimit": 1048576,
      "outputTokenLimit": "65536",
      "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
      "temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2,
      "thinking": true,
      "someFutureField": {"nested": [1, 2, {"x": null}]}
    },
    {
      "name": "models/gemini-3-pro-preview",
      "version": "3-pro-preview-11-2025",
      "displayName": "Gemini 3 Pro Preview",
      "inputTokenLimit": 1048576,
      "outputTokenLimit": 65536,
      "supportedGenerationMethods": ["generateContent", "countTokens"],
      "thinking": true
    },
    {
      "name": "models/gemma-3-27b-it",
      "version": "001",
      "displayName": "Gemma 3 27B",
      "inputTokenLimit": 131072,
      "outputTokenLimit": 8192,
      "supportedGenerationMethods": ["generateContent", "countTokens"]
    },
    {
      "name": "models/imagen-4.0-generate-001",
      "version": "001",
      "displayName": "Imagen 4",
      "inputTokenLimit": 480,
      "outputTokenLimit": 8192,
      "supportedGenerationMethods": ["predict"]
    },
    {
      "name": "models/gemini-2.5-flash",
      "displayName": "duplicate from a shifting list",
      "supportedGenerationMethods": ["generateContent"]
    }
  ]
}
)";

ModelCatalog LoadedCatalog() {
  ModelCatalog catalog;
  EXPECT_TRUE(catalog.AddPage(kPage1).ok());
  EXPECT_EQ(catalog.next_page_token(), "Chxtb2RlbHMvZ2VtaW5pLTIuNS1wcm8=");
  EXPECT_TRUE(catalog.AddPage(kPage2).ok());
  EXPECT_EQ(catalog.next_page_token(), "");
  return catalog;
}

std::vector<std::string> Ids(const std::string& list_json) {
  std::vector<std::string> ids;
  simdjson::padded_string padded(list_json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  EXPECT_FALSE(parser.iterate(padded).get(doc));
  simdjson::ondemand::array data;
  EXPECT_FALSE(doc["data"].get_array().get(data));
  for (auto entry : data) {
    std::string_view id;
    EXPECT_FALSE(entry["id"].get_string().get(id));
    ids.emplace_back(id);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Parsing

TEST(ModelPageTest, ParsesFields) {
  Result<GeminiModelPage> page = ParseGeminiModelPage(kPage1);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->models.size(), 4u);
  EXPECT_EQ(page->next_page_token, "Chxtb2RlbHMvZ2VtaW5pLTIuNS1wcm8=");
  const GeminiModelInfo& flash = page->models[0];
  EXPECT_EQ(flash.id, "gemini-2.5-flash");
  EXPECT_EQ(flash.display_name, "Gemini 2.5 Flash");
  EXPECT_EQ(flash.input_token_limit, 1048576);
  EXPECT_EQ(flash.output_token_limit, 65536);
  EXPECT_EQ(flash.supported_generation_methods,
            (std::vector<std::string>{"generateContent", "countTokens", "createCachedContent",
                                      "batchGenerateContent"}));
  EXPECT_TRUE(flash.thinking);
  EXPECT_TRUE(flash.SupportsGenerateContent());
  EXPECT_FALSE(page->models[1].thinking);  // absent = false
  EXPECT_FALSE(page->models[2].SupportsGenerateContent());
  EXPECT_TRUE(page->models[2].Supports("embedContent"));
}

TEST(ModelPageTest, LastPageAndOddValues) {
  Result<GeminiModelPage> page = ParseGeminiModelPage(kPage2);
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->next_page_token, "");
  EXPECT_EQ(page->models[0].display_name, "Gemini 2.5 Pro \"stable\"");
  EXPECT_EQ(page->models[0].output_token_limit, 65536);  // an int64-style string
}

TEST(ModelPageTest, EmptyAndErrors) {
  Result<GeminiModelPage> empty = ParseGeminiModelPage("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->models.empty());

  Result<GeminiModelPage> no_name =
      ParseGeminiModelPage(R"({"models":[{"displayName":"x"},{"name":"models/a"}]})");
  ASSERT_TRUE(no_name.ok());
  ASSERT_EQ(no_name->models.size(), 1u);
  EXPECT_EQ(no_name->models[0].id, "a");

  Result<GeminiModelPage> error = ParseGeminiModelPage(
      R"({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}})");
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.status().message().find("API key not valid"), std::string::npos);

  EXPECT_FALSE(ParseGeminiModelPage("").ok());
  EXPECT_FALSE(ParseGeminiModelPage("[]").ok());
  EXPECT_FALSE(ParseGeminiModelPage(R"({"models":{}})").ok());
  EXPECT_FALSE(ParseGeminiModelPage(R"({"models":[1]})").ok());
  EXPECT_FALSE(ParseGeminiModelPage(R"({"models":[{"name":"models/a",)").ok());
  EXPECT_FALSE(ParseGeminiModelPage(R"({"models":[],"nextPageToken":5})").ok());
}

TEST(ModelPageTest, EveryTruncationFailsCleanly) {
  // Cut anywhere: an error or a (shorter) page, never a crash. Run under ASan to mean something.
  std::string_view full = kPage2;
  for (size_t n = 0; n < full.size(); ++n) {
    Result<GeminiModelPage> page = ParseGeminiModelPage(full.substr(0, n));
    if (page.ok()) {
      EXPECT_LE(page->models.size(), 5u);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Catalog

TEST(ModelCatalogTest, AccumulatesPagesChatOnly) {
  ModelCatalog catalog;
  EXPECT_FALSE(catalog.loaded());
  catalog = LoadedCatalog();
  EXPECT_TRUE(catalog.loaded());
  EXPECT_EQ(catalog.all_models().size(), 8u);  // the duplicate dropped
  std::vector<std::string> chat;
  for (const GeminiModelInfo* m : catalog.ChatModels())
    chat.push_back(m->id);
  EXPECT_EQ(chat,
            (std::vector<std::string>{"gemini-2.5-flash", "gemini-2.0-flash", "gemini-1.5-flash",
                                      "gemini-2.5-pro", "gemini-3-pro-preview", "gemma-3-27b-it"}));
  EXPECT_EQ(catalog.Find("gemini-2.5-flash")->display_name, "Gemini 2.5 Flash");  // first kept

  EXPECT_TRUE(catalog.Exists("gemini-2.5-pro"));
  EXPECT_TRUE(catalog.Exists("models/gemini-2.5-pro"));
  EXPECT_FALSE(catalog.Exists("gemini-embedding-001"));  // not a chat model
  EXPECT_NE(catalog.Find("gemini-embedding-001"), nullptr);
  EXPECT_FALSE(catalog.Exists("imagen-4.0-generate-001"));
  EXPECT_FALSE(catalog.Exists("gemini-9-ultra"));
  EXPECT_FALSE(catalog.Exists(""));

  EXPECT_TRUE(catalog.SupportsThinking("gemini-2.5-flash"));
  EXPECT_TRUE(catalog.SupportsThinking("gemini-3-pro-preview"));
  EXPECT_TRUE(catalog.SupportsThinking("gemini-2.5-pro-search"));
  EXPECT_FALSE(catalog.SupportsThinking("gemini-2.0-flash"));
  EXPECT_FALSE(catalog.SupportsThinking("gemini-2.0-flash-search"));
  EXPECT_FALSE(catalog.SupportsThinking("gemma-3-27b-it"));
  EXPECT_FALSE(catalog.SupportsThinking("unknown-model"));

  ModelCatalog copy = catalog;  // copies stay valid (no pointers into the source)
  catalog.Clear();
  EXPECT_FALSE(catalog.loaded());
  EXPECT_FALSE(catalog.Exists("gemini-2.5-pro"));
  EXPECT_TRUE(copy.Exists("gemini-2.5-pro"));
}

TEST(ModelCatalogTest, BadPageLeavesCatalogAlone) {
  ModelCatalog catalog;
  EXPECT_FALSE(catalog.AddPage("{not json").ok());
  EXPECT_FALSE(catalog.loaded());
}

// ---------------------------------------------------------------------------------------------
// Settings

TEST(ModelSettingsTest, FromEnv) {
  ModelListSettings defaults =
      ModelListSettingsFromEnv(std::nullopt, std::nullopt, std::nullopt, std::nullopt);
  EXPECT_FALSE(defaults.search_mode);
  EXPECT_TRUE(defaults.extra_models.empty());

  ModelListSettings s = ModelListSettingsFromEnv("Yes", " a , ,b", "gemini-2.0-flash,", "");
  EXPECT_TRUE(s.search_mode);
  EXPECT_EQ(s.extra_models, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.blocked_models, (std::vector<std::string>{"gemini-2.0-flash"}));
  EXPECT_TRUE(s.whitelist_models.empty());
  EXPECT_FALSE(ModelListSettingsFromEnv("on", {}, {}, {}).search_mode);
  EXPECT_TRUE(ModelListSettingsFromEnv("1", {}, {}, {}).search_mode);
}

TEST(ModelSettingsTest, SearchVariantRule) {
  EXPECT_TRUE(HasSearchVariant("gemini-2.5-pro"));
  EXPECT_TRUE(HasSearchVariant("gemini-2.0-flash"));
  EXPECT_TRUE(HasSearchVariant("gemini-3-pro-preview"));
  EXPECT_TRUE(HasSearchVariant("gemini-12-future"));
  EXPECT_FALSE(HasSearchVariant("gemini-1.5-flash"));
  EXPECT_FALSE(HasSearchVariant("gemini-flash-latest"));
  EXPECT_FALSE(HasSearchVariant("gemini-exp-1206"));
  EXPECT_FALSE(HasSearchVariant("gemma-3-27b-it"));
  EXPECT_FALSE(HasSearchVariant("models/gemini-2.5-pro"));
}

// ---------------------------------------------------------------------------------------------
// Listing

TEST(ModelListTest, PlainList) {
  ModelCatalog catalog = LoadedCatalog();
  std::string json = OpenAIModelList(catalog, {}, 1678888888);
  EXPECT_EQ(Ids(json),
            (std::vector<std::string>{"gemini-2.5-flash", "gemini-2.0-flash", "gemini-1.5-flash",
                                      "gemini-2.5-pro", "gemini-3-pro-preview", "gemma-3-27b-it"}));
  std::string_view head =
      R"({"object":"list","data":[{"id":"gemini-2.5-flash","object":"model",)"
      R"("created":1678888888,"owned_by":"organization-owner"},{"id":"gemini-2.0-flash",)";
  EXPECT_EQ(json.substr(0, head.size()), head);
  EXPECT_EQ(json.substr(json.size() - 3), "}]}");
}

TEST(ModelListTest, EmptyCatalog) {
  EXPECT_EQ(OpenAIModelList(ModelCatalog(), {}, 1), R"({"object":"list","data":[]})");
}

TEST(ModelListTest, SearchVariantsFollowTheirBaseThenExtras) {
  ModelCatalog catalog = LoadedCatalog();
  ModelListSettings settings;
  settings.search_mode = true;
  settings.extra_models = {"models/gemini-exp-1206", "my-tuned-model", "gemini-2.0-flash"};
  EXPECT_EQ(ListedModels(catalog, settings),
            (std::vector<std::string>{"gemini-2.5-flash", "gemini-2.5-flash-search",
                                      "gemini-2.0-flash", "gemini-2.0-flash-search",
                                      "gemini-1.5-flash", "gemini-2.5-pro", "gemini-2.5-pro-search",
                                      "gemini-3-pro-preview", "gemini-3-pro-preview-search",
                                      "gemma-3-27b-it", "gemini-exp-1206", "my-tuned-model"}));
  // Extras do not get -search variants; a duplicate extra is listed once.
}

TEST(ModelListTest, BlockedHidesModelAndItsSearchVariant) {
  ModelCatalog catalog = LoadedCatalog();
  ModelListSettings settings;
  settings.search_mode = true;
  settings.extra_models = {"my-tuned-model"};
  settings.blocked_models = {"gemini-2.5-flash", "gemini-3-pro-preview-search", "my-tuned-model"};
  EXPECT_EQ(ListedModels(catalog, settings),
            (std::vector<std::string>{"gemini-2.0-flash", "gemini-2.0-flash-search",
                                      "gemini-1.5-flash", "gemini-2.5-pro", "gemini-2.5-pro-search",
                                      "gemini-3-pro-preview", "gemma-3-27b-it"}));
  // AvailableModels (HAJIMI's unfiltered list, e.g. for the dashboard) keeps them.
  EXPECT_EQ(AvailableModels(catalog, settings).size(), 11u);  // 6 chat + 4 variants + 1 extra
}

TEST(ModelListTest, WhitelistIsExactAndWinsOverBlocked) {
  ModelCatalog catalog = LoadedCatalog();
  ModelListSettings settings;
  settings.search_mode = true;
  settings.whitelist_models = {"gemini-2.5-pro-search", "gemini-2.0-flash", "not-upstream"};
  settings.blocked_models = {"gemini-2.0-flash"};
  // Listed in catalog order; a whitelisted name nobody offers is not invented.
  EXPECT_EQ(ListedModels(catalog, settings),
            (std::vector<std::string>{"gemini-2.0-flash", "gemini-2.5-pro-search"}));
}

// ---------------------------------------------------------------------------------------------
// Chat-time check

TEST(CheckModelTest, KnownAndUnknown) {
  ModelCatalog catalog = LoadedCatalog();
  ModelAccess ok = CheckModel("gemini-2.5-pro", catalog, {});
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.status(), 200);
  EXPECT_EQ(ok.upstream_model, "gemini-2.5-pro");
  EXPECT_FALSE(ok.search);
  EXPECT_EQ(ok.ErrorBody(), "");

  EXPECT_EQ(CheckModel("models/gemini-2.5-pro", catalog, {}).upstream_model, "gemini-2.5-pro");

  ModelAccess unknown = CheckModel("gpt-4o", catalog, {});
  EXPECT_FALSE(unknown.allowed);
  EXPECT_EQ(unknown.refusal, ModelRefusal::kUnknown);
  EXPECT_EQ(unknown.status(), 404);
  EXPECT_EQ(unknown.message, "The model `gpt-4o` does not exist or you do not have access to it.");
  EXPECT_EQ(unknown.ErrorBody(),
            R"({"error":{"message":"The model `gpt-4o` does not exist or you do not have access )"
            R"(to it.","type":"invalid_request_error","param":null,"code":"model_not_found"},)"
            R"("detail":"无效的模型"})");

  EXPECT_EQ(CheckModel("gemini-embedding-001", catalog, {}).refusal, ModelRefusal::kUnknown);
  ModelAccess empty = CheckModel("", catalog, {});
  EXPECT_FALSE(empty.allowed);
  EXPECT_EQ(empty.message, "you must provide a model parameter");
}

TEST(CheckModelTest, SearchVariants) {
  ModelCatalog catalog = LoadedCatalog();
  ModelListSettings on;
  on.search_mode = true;
  ModelAccess search = CheckModel("gemini-2.5-pro-search", catalog, on);
  EXPECT_TRUE(search.allowed);
  EXPECT_TRUE(search.search);
  EXPECT_EQ(search.upstream_model, "gemini-2.5-pro");
  // No variant for 1.5, gemma or an unknown base.
  EXPECT_FALSE(CheckModel("gemini-1.5-flash-search", catalog, on).allowed);
  EXPECT_FALSE(CheckModel("gemma-3-27b-it-search", catalog, on).allowed);
  EXPECT_FALSE(CheckModel("gemini-9-search", catalog, on).allowed);
  // Search mode off: no variants at all.
  EXPECT_FALSE(CheckModel("gemini-2.5-pro-search", catalog, {}).allowed);
}

TEST(CheckModelTest, Extras) {
  ModelCatalog catalog = LoadedCatalog();
  ModelListSettings settings;
  settings.extra_models = {"my-tuned-model", "models/gemini-exp-1206", "custom-search"};
  EXPECT_TRUE(CheckModel("my-tuned-model", catalog, settings).allowed);
  EXPECT_EQ(CheckModel("gemini-exp-1206", catalog, settings).upstream_model, "gemini-exp-1206");
  // With search mode off an extra ending in -search is called verbatim.
  ModelAccess verbatim = CheckModel("custom-search", catalog, settings);
  EXPECT_TRUE(verbatim.allowed);
  EXPECT_FALSE(verbatim.search);
  EXPECT_EQ(verbatim.upstream_model, "custom-search");
  // With search mode on it is stripped, as HAJIMI does for every -search name.
  settings.search_mode = true;
  ModelAccess stripped = CheckModel("custom-search", catalog, settings);
  EXPECT_TRUE(stripped.allowed);
  EXPECT_TRUE(stripped.search);
  EXPECT_EQ(stripped.upstream_model, "custom");
}

TEST(CheckModelTest, BlockedAndWhitelistEnforced) {
  ModelCatalog catalog = LoadedCatalog();
  ModelListSettings blocked;
  blocked.search_mode = true;
  blocked.blocked_models = {"gemini-2.5-pro"};
  EXPECT_EQ(CheckModel("gemini-2.5-pro", catalog, blocked).refusal, ModelRefusal::kBlocked);
  EXPECT_EQ(CheckModel("gemini-2.5-pro-search", catalog, blocked).refusal, ModelRefusal::kBlocked);
  EXPECT_EQ(CheckModel("gemini-2.5-pro", catalog, blocked).message,
            "The model `gemini-2.5-pro` does not exist or you do not have access to it.");
  EXPECT_TRUE(CheckModel("gemini-2.5-flash", catalog, blocked).allowed);

  ModelListSettings white;
  white.search_mode = true;
  white.whitelist_models = {"gemini-2.5-flash-search"};
  EXPECT_TRUE(CheckModel("gemini-2.5-flash-search", catalog, white).allowed);
  EXPECT_EQ(CheckModel("gemini-2.5-flash", catalog, white).refusal, ModelRefusal::kNotWhitelisted);
  EXPECT_EQ(CheckModel("nonexistent", catalog, white).refusal, ModelRefusal::kUnknown);
}

TEST(CheckModelTest, CatalogNotLoadedLetsNamesThrough) {
  ModelCatalog empty;
  ModelListSettings settings;
  settings.search_mode = true;
  settings.blocked_models = {"gemini-2.5-pro"};
  ModelAccess any = CheckModel("gemini-2.5-flash-search", empty, settings);
  EXPECT_TRUE(any.allowed);
  EXPECT_EQ(any.upstream_model, "gemini-2.5-flash");
  EXPECT_TRUE(any.search);
  EXPECT_FALSE(CheckModel("gemini-2.5-pro", empty, settings).allowed);  // lists still apply
  // A loaded but empty catalog knows there are no models.
  empty.AddPage(GeminiModelPage{});
  EXPECT_FALSE(CheckModel("gemini-2.5-flash", empty, {}).allowed);
}

}  // namespace
}  // namespace ringgate
