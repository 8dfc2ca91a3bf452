// settings.json: HAJIMI's layout byte for byte (indent 4, Python's separators), a HAJIMI user's
// file surviving a round trip with the names ringgate does not know, and HAJIMI's precedence:
// the file over the environment, GEMINI_API_KEYS as a union in order, a flag of this run over
// the file, secrets never read or written, a bad value leaving the environment's.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <optional>

#include "ringgate/storage/json_text.h"
#include "ringgate/storage/settings_file.h"

namespace ringgate::testing {
namespace {

constexpr char kKey1[] = "AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1";
constexpr char kKey2[] = "AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2";
constexpr char kKey3[] = "AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA3";
constexpr char kKey4[] = "AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA4";

// A file as HAJIMI writes it (Vertex names and the legacy stats included).
constexpr char kHajimiFile[] = R"({
    "GEMINI_API_KEYS": "AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2,AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA3",
    "INVALID_API_KEYS": "",
    "FAKE_STREAMING": false,
    "FAKE_STREAMING_INTERVAL": 1.5,
    "FAKE_STREAMING_CHUNK_SIZE": 10,
    "FAKE_STREAMING_DELAY_PER_CHUNK": 0.1,
    "NONSTREAM_KEEPALIVE_ENABLED": true,
    "NONSTREAM_KEEPALIVE_INTERVAL": 5.0,
    "CONCURRENT_REQUESTS": 2,
    "MAX_RETRY_NUM": 20,
    "ENABLE_VERTEX": false,
    "GOOGLE_CREDENTIALS_JSON": "",
    "search": {
        "search_mode": true,
        "search_prompt": "（使用搜索工具）"
    },
    "ALLOWED_ORIGINS_STR": "https://file.example",
    "ALLOWED_ORIGINS": [
        "https://file.example"
    ],
    "PASSWORD": "from-file",
    "CREDENTIALS_DIR": "/hajimi/settings/credentials",
    "api_call_stats": {
        "calls": []
    }
})";

struct Env {
  std::map<std::string, std::string> values;
  EnvLookup Lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = values.find(std::string(name));
      return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }
};

auto NoFlags() {
  return [](std::string_view) { return false; };
}

SettingsFile Parse(std::string_view text) {
  Result<SettingsFile> file = ParseSettingsFile(text);
  EXPECT_TRUE(file.ok()) << file.status().message();
  return file.ok() ? *file : SettingsFile{};
}

std::string ValueOf(const SettingsList& list, std::string_view name) {
  for (const auto& [n, v] : list) {
    if (n == name)
      return v;
  }
  return "<missing>";
}

std::vector<std::string> Names(const SettingsList& list) {
  std::vector<std::string> names;
  for (const auto& entry : list)
    names.push_back(entry.first);
  return names;
}

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(ConfigOptionTest, SetByVariableNameWithTheEnvironmentsValidation) {
  Config config;
  EXPECT_TRUE(SetConfigOption(config, "MAX_RETRY_NUM", "9").ok());
  EXPECT_EQ(config.max_retry_num, 9u);
  EXPECT_TRUE(SetConfigOption(config, "FAKE_STREAMING_INTERVAL", "0.5").ok());
  EXPECT_EQ(config.fake_streaming_interval_ms, 500u);
  Status bad = SetConfigOption(config, "MAX_RETRY_NUM", "0");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("MAX_RETRY_NUM"), std::string::npos) << bad.message();
  EXPECT_EQ(config.max_retry_num, 9u) << "unchanged";
  EXPECT_FALSE(SetConfigOption(config, "NO_SUCH_SETTING", "1").ok());
  EXPECT_TRUE(IsConfigOption("ENABLE_STORAGE"));
  EXPECT_TRUE(IsConfigOption("STORAGE_DIR"));
  EXPECT_FALSE(IsConfigOption("search"));
  EXPECT_FALSE(SetConfigOption(config, "STORAGE_DIR", "").ok());
}

TEST(ConfigOptionTest, FlagGivenFindsBothSpellings) {
  const char* argv[] = {"ringgate", "--max-retry-num", "3", "--fake-streaming=false",
                        "--listen", "127.0.0.1:0"};
  int argc = static_cast<int>(std::size(argv));
  EXPECT_TRUE(ConfigFlagGiven(argc, argv, "MAX_RETRY_NUM"));
  EXPECT_TRUE(ConfigFlagGiven(argc, argv, "FAKE_STREAMING"));
  EXPECT_FALSE(ConfigFlagGiven(argc, argv, "FAKE_STREAMING_INTERVAL")) << "a prefix is not it";
  EXPECT_FALSE(ConfigFlagGiven(argc, argv, "MAX_EMPTY_RESPONSES"));
  EXPECT_FALSE(ConfigFlagGiven(argc, argv, "UNKNOWN"));
}

TEST(ConfigOptionTest, StorageIsOffByDefaultInHajimisDirectory) {
  Config config;
  EXPECT_FALSE(config.enable_storage);
  EXPECT_EQ(config.storage_dir, "/hajimi/settings/");
  const char* env[] = {"ENABLE_STORAGE=true", "STORAGE_DIR=/data/rg", nullptr};
  bool help = false;
  Result<Config> parsed = ParseConfig(1, std::array<const char*, 1>{"ringgate"}.data(), env, &help);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_TRUE(parsed->enable_storage);
  EXPECT_EQ(parsed->storage_dir, "/data/rg");
}

TEST(IndentJsonTest, LaysOutLikePythonJsonDumpsIndent4) {
  EXPECT_EQ(IndentJson(R"({"a":1,"b":{"c":[1,"x, y"],"d":{}},"e":[],"f":"q\"{"})"),
            "{\n"
            "    \"a\": 1,\n"
            "    \"b\": {\n"
            "        \"c\": [\n"
            "            1,\n"
            "            \"x, y\"\n"
            "        ],\n"
            "        \"d\": {}\n"
            "    },\n"
            "    \"e\": [],\n"
            "    \"f\": \"q\\\"{\"\n"
            "}");
  EXPECT_EQ(IndentJson("{ \"a\" : [ ] }"), "{\n    \"a\": []\n}") << "input whitespace ignored";
}

TEST(SettingsFileTest, ParseKeepsFileOrderAndRejectsWhatIsNotAnObject) {
  SettingsFile file = Parse(kHajimiFile);
  ASSERT_EQ(file.entries.size(), 18u);
  EXPECT_EQ(file.entries[0].first, "GEMINI_API_KEYS");
  EXPECT_EQ(file.entries.back().first, "api_call_stats");
  EXPECT_EQ(ValueOf(file.entries, "api_call_stats"), R"({"calls":[]})");
  EXPECT_FALSE(ParseSettingsFile("{\"A\": 1").ok());
  EXPECT_FALSE(ParseSettingsFile("[1, 2]").ok());
  EXPECT_FALSE(ParseSettingsFile("").ok());
}

TEST(SettingsFileTest, TheFileOverridesTheEnvironment) {
  Config config;
  config.max_retry_num = 7;  // as if MAX_RETRY_NUM=7 came from the environment
  config.fake_streaming = true;
  AppliedSettings applied =
      ApplySettingsFile(Parse(kHajimiFile), &config, Env{}.Lookup(), NoFlags());
  EXPECT_TRUE(applied.problems.empty()) << applied.problems.front();
  EXPECT_EQ(config.max_retry_num, 20u);
  EXPECT_FALSE(config.fake_streaming);
  EXPECT_EQ(config.fake_streaming_interval_ms, 1500u);
  EXPECT_EQ(config.nonstream_keepalive_interval_ms, 5000u);
  EXPECT_EQ(config.concurrent_requests, 2u);
  EXPECT_TRUE(config.search_mode);
  EXPECT_EQ(config.search_prompt, "（使用搜索工具）");
  for (const char* name : {"MAX_RETRY_NUM", "FAKE_STREAMING", "FAKE_STREAMING_INTERVAL",
                           "SEARCH_MODE", "SEARCH_PROMPT", "GEMINI_API_KEYS"}) {
    EXPECT_TRUE(Contains(applied.from_file, name)) << name;
  }
  EXPECT_FALSE(Contains(applied.from_file, "ENABLE_VERTEX")) << "unknown to ringgate";
}

TEST(SettingsFileTest, SecretsAndStartUpOnlyNamesInTheFileAreIgnored) {
  Config config;
  config.password = "from-env";
  config.allowed_origins = "https://env.example";
  AppliedSettings applied =
      ApplySettingsFile(Parse(kHajimiFile), &config, Env{}.Lookup(), NoFlags());
  EXPECT_EQ(config.password, "from-env");
  EXPECT_EQ(config.allowed_origins, "https://env.example")
      << "HAJIMI sets CORS up from the environment before it loads the file";
  EXPECT_FALSE(Contains(applied.from_file, "PASSWORD"));
}

TEST(SettingsFileTest, KeysAreTheUnionEnvironmentFirst) {
  Config config;
  config.gemini_api_keys = std::string(kKey1) + "," + kKey2;
  Env env;
  env.values["GEMINI_API_KEYS_1"] = kKey4;
  AppliedSettings applied = ApplySettingsFile(Parse(kHajimiFile), &config, env.Lookup(), NoFlags());
  EXPECT_EQ(config.gemini_api_keys, std::string(kKey1) + "," + kKey2 + "," + kKey4 + "," + kKey3);
  EXPECT_TRUE(Contains(applied.from_file, "GEMINI_API_KEYS"));

  // Nothing new in the file: the environment's text stays as it is.
  Config same;
  same.gemini_api_keys = std::string(kKey3) + " " + kKey2;
  AppliedSettings none = ApplySettingsFile(Parse(kHajimiFile), &same, Env{}.Lookup(), NoFlags());
  EXPECT_EQ(same.gemini_api_keys, std::string(kKey3) + " " + kKey2);
  EXPECT_FALSE(Contains(none.from_file, "GEMINI_API_KEYS"));
}

TEST(SettingsFileTest, AFlagOfThisRunWinsOverTheFile) {
  Config config;
  config.max_retry_num = 3;
  AppliedSettings applied =
      ApplySettingsFile(Parse(kHajimiFile), &config, Env{}.Lookup(),
                        [](std::string_view name) { return name == "MAX_RETRY_NUM"; });
  EXPECT_EQ(config.max_retry_num, 3u);
  EXPECT_FALSE(Contains(applied.from_file, "MAX_RETRY_NUM"));
  EXPECT_EQ(config.concurrent_requests, 2u) << "the other names still come from the file";
}

TEST(SettingsFileTest, ABadValueLeavesTheEnvironmentsValueAndSaysWhich) {
  Config config;
  config.max_retry_num = 7;
  config.concurrent_requests = 4;
  AppliedSettings applied = ApplySettingsFile(
      Parse(R"({"MAX_RETRY_NUM": "many", "CONCURRENT_REQUESTS": 0, "RANDOM_STRING": null,
                "MAX_EMPTY_RESPONSES": 9})"),
      &config, Env{}.Lookup(), NoFlags());
  EXPECT_EQ(config.max_retry_num, 7u);
  EXPECT_EQ(config.concurrent_requests, 4u) << "0 is out of range";
  EXPECT_TRUE(config.random_string);
  EXPECT_EQ(config.max_empty_responses, 9u);
  ASSERT_EQ(applied.problems.size(), 3u);
  EXPECT_NE(applied.problems[0].find("MAX_RETRY_NUM"), std::string::npos) << applied.problems[0];
  EXPECT_NE(applied.problems[2].find("null"), std::string::npos) << applied.problems[2];
  EXPECT_EQ(applied.from_file, std::vector<std::string>{"MAX_EMPTY_RESPONSES"});
}

TEST(SettingsFileTest, SettingsFromConfigUseHajimisTypes) {
  Config config;
  config.fake_streaming_interval_ms = 1000;
  config.nonstream_keepalive_interval_ms = 250;
  config.cache_expiry_time_ms = 21'600'000;
  config.allowed_origins = "https://a.example, https://b.example";
  SettingsList list = SettingsFromConfig(config);
  EXPECT_EQ(ValueOf(list, "FAKE_STREAMING_INTERVAL"), "1.0");
  EXPECT_EQ(ValueOf(list, "NONSTREAM_KEEPALIVE_INTERVAL"), "0.25");
  EXPECT_EQ(ValueOf(list, "CACHE_EXPIRY_TIME"), "21600");
  EXPECT_EQ(ValueOf(list, "FAKE_STREAMING"), "true");
  EXPECT_EQ(ValueOf(list, "MAX_RETRY_NUM"), "15");
  EXPECT_EQ(ValueOf(list, "ALLOWED_ORIGINS"), R"(["https://a.example","https://b.example"])");
  EXPECT_EQ(ValueOf(list, "ALLOWED_ORIGINS_STR"), R"("https://a.example, https://b.example")");
  EXPECT_EQ(
      ValueOf(list, "search"),
      R"({"search_mode":false,"search_prompt":"（使用搜索工具联网搜索，需要在content中结合搜索内容）"})");
  EXPECT_EQ(ValueOf(list, "PASSWORD"), "<missing>");
}

TEST(SettingsFileTest, RenderIsHajimisLayout) {
  SettingsList current = {{"FAKE_STREAMING", "false"},
                          {"MAX_RETRY_NUM", "15"},
                          {"SEARCH_MODE", "true"},
                          {"SEARCH_PROMPT", "\"搜索\""}};
  KeyLists keys{{kKey1, kKey2}, {kKey3}};
  EXPECT_EQ(RenderSettingsFile(current, keys, {}),
            "{\n"
            "    \"GEMINI_API_KEYS\": \"" +
                std::string(kKey1) + "," + kKey2 +
                "\",\n"
                "    \"INVALID_API_KEYS\": \"" +
                std::string(kKey3) +
                "\",\n"
                "    \"FAKE_STREAMING\": false,\n"
                "    \"search\": {\n"
                "        \"search_mode\": true,\n"
                "        \"search_prompt\": \"搜索\"\n"
                "    },\n"
                "    \"MAX_RETRY_NUM\": 15\n"
                "}");
}

// Load a HAJIMI file, change a value at run time, save: the unknown names keep their place and
// value, the known ones carry the new values, secrets are gone, and the saved file loads to the
// same configuration.
TEST(SettingsFileTest, AHajimiFileSurvivesARoundTrip) {
  SettingsFile loaded = Parse(kHajimiFile);
  Config config;
  config.gemini_api_keys = kKey1;
  ApplySettingsFile(loaded, &config, Env{}.Lookup(), NoFlags());
  config.max_retry_num = 33;  // an update-config
  SettingsList current = SettingsFromConfig(config);
  current.emplace_back("PASSWORD", "\"must-not-be-written\"");
  KeyLists keys{{kKey1, kKey2, kKey3}, {}};
  std::string text = RenderSettingsFile(current, keys, loaded.entries);

  SettingsFile saved = Parse(text);
  std::vector<std::string> names = Names(saved.entries);
  std::vector<std::string> loaded_names = Names(loaded.entries);
  loaded_names.erase(std::find(loaded_names.begin(), loaded_names.end(), "PASSWORD"));
  ASSERT_GE(names.size(), loaded_names.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + loaded_names.size()),
            loaded_names)
      << "the file's order first";
  EXPECT_FALSE(Contains(names, "PASSWORD"));
  EXPECT_EQ(text.find("must-not-be-written"), std::string::npos);
  EXPECT_EQ(ValueOf(saved.entries, "ENABLE_VERTEX"), "false");
  EXPECT_EQ(ValueOf(saved.entries, "FAKE_STREAMING_CHUNK_SIZE"), "10");
  EXPECT_EQ(ValueOf(saved.entries, "FAKE_STREAMING_DELAY_PER_CHUNK"), "0.1");
  EXPECT_EQ(ValueOf(saved.entries, "CREDENTIALS_DIR"), "\"/hajimi/settings/credentials\"");
  EXPECT_EQ(ValueOf(saved.entries, "api_call_stats"), R"({"calls":[]})");
  EXPECT_EQ(ValueOf(saved.entries, "MAX_RETRY_NUM"), "33");
  EXPECT_EQ(ValueOf(saved.entries, "FAKE_STREAMING_INTERVAL"), "1.5");
  EXPECT_EQ(ValueOf(saved.entries, "GEMINI_API_KEYS"),
            "\"" + std::string(kKey1) + "," + kKey2 + "," + kKey3 + "\"");
  EXPECT_TRUE(Contains(names, "MAX_REQUESTS_PER_MINUTE")) << "known names the file lacked follow";
  EXPECT_NE(text.find("\n    \"search\": {\n        \"search_mode\": true,"), std::string::npos)
      << text;

  Config reloaded;
  ApplySettingsFile(saved, &reloaded, Env{}.Lookup(), NoFlags());
  EXPECT_EQ(reloaded.max_retry_num, 33u);
  EXPECT_EQ(reloaded.fake_streaming_interval_ms, 1500u);
  EXPECT_FALSE(reloaded.fake_streaming);
  EXPECT_TRUE(reloaded.search_mode);
  EXPECT_EQ(reloaded.search_prompt, "（使用搜索工具）");
  EXPECT_EQ(reloaded.gemini_api_keys, std::string(kKey1) + "," + kKey2 + "," + kKey3);
}

TEST(SettingsFileTest, AStringAllowedOriginsBecomesHajimisTwoNames) {
  std::string text =
      RenderSettingsFile({{"ALLOWED_ORIGINS", "\"https://a.example,https://b\""}}, KeyLists{}, {});
  SettingsFile saved = Parse(text);
  EXPECT_EQ(ValueOf(saved.entries, "ALLOWED_ORIGINS_STR"), "\"https://a.example,https://b\"");
  EXPECT_EQ(ValueOf(saved.entries, "ALLOWED_ORIGINS"), R"(["https://a.example","https://b"])");
}

TEST(SettingsFileTest, AValueThatIsNotJsonIsLeftOutAndTheFileStaysValid) {
  std::string text =
      RenderSettingsFile({{"MAX_RETRY_NUM", "15,"}, {"RANDOM_STRING", "true"}}, KeyLists{}, {});
  SettingsFile saved = Parse(text);
  EXPECT_EQ(ValueOf(saved.entries, "MAX_RETRY_NUM"), "<missing>");
  EXPECT_EQ(ValueOf(saved.entries, "RANDOM_STRING"), "true");
}

}  // namespace
}  // namespace ringgate::testing
