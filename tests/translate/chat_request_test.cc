// OpenAI -> Gemini request translation: golden files under tests/testdata/translate/request
// (NAME.openai.json in, NAME.gemini.json expected, or NAME.error.txt: status line, then a
// substring of the message; NAME.options.json sets ChatTranslateOptions), plus focused checks and
// a robustness test over mutated and truncated bodies.
//
// RINGGATE_UPDATE_GOLDENS=1 rewrites the .gemini.json files from the current output (review the
// diff before committing).
#include "ringgate/translate/chat_request.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ringgate {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = RINGGATE_TRANSLATE_TESTDATA;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Structural equality: objects compare as unordered maps, numbers by value.
bool JsonEqual(simdjson::dom::element a, simdjson::dom::element b, std::string path,
               std::string* diff) {
  using simdjson::dom::element_type;
  auto ta = a.type(), tb = b.type();
  bool na = ta == element_type::INT64 || ta == element_type::UINT64 || ta == element_type::DOUBLE;
  bool nb = tb == element_type::INT64 || tb == element_type::UINT64 || tb == element_type::DOUBLE;
  if (na && nb) {
    if (double(a.get_double().value()) != double(b.get_double().value())) {
      *diff = path + ": number differs";
      return false;
    }
    return true;
  }
  if (ta != tb) {
    *diff = path + ": type differs";
    return false;
  }
  switch (ta) {
    case element_type::OBJECT: {
      auto oa = a.get_object().value(), ob = b.get_object().value();
      if (oa.size() != ob.size()) {
        *diff =
            path + ": key count " + std::to_string(oa.size()) + " vs " + std::to_string(ob.size());
        return false;
      }
      for (auto [k, v] : oa) {
        simdjson::dom::element other;
        if (ob.at_key(k).get(other)) {
          *diff = path + "." + std::string(k) + ": missing in expected";
          return false;
        }
        if (!JsonEqual(v, other, path + "." + std::string(k), diff))
          return false;
      }
      return true;
    }
    case element_type::ARRAY: {
      auto aa = a.get_array().value(), ab = b.get_array().value();
      if (aa.size() != ab.size()) {
        *diff = path + ": array length differs";
        return false;
      }
      for (size_t i = 0; i < aa.size(); ++i) {
        if (!JsonEqual(aa.at(i).value(), ab.at(i).value(), path + "[" + std::to_string(i) + "]",
                       diff)) {
          return false;
        }
      }
      return true;
    }
    case element_type::STRING:
      if (a.get_string().value() != b.get_string().value()) {
        *diff = path + ": string differs";
        return false;
      }
      return true;
    case element_type::BOOL:
      if (a.get_bool().value() != b.get_bool().value()) {
        *diff = path + ": bool differs";
        return false;
      }
      return true;
    default:
      return true;  // null
  }
}

struct CaseOptions {
  ChatTranslateOptions options;
  std::vector<std::string> thinking_models;
  std::string search_prompt, disguise_first, disguise_last;
};

void LoadOptions(const fs::path& p, CaseOptions* co) {
  if (!fs::exists(p))
    return;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load(p.string());
  simdjson::dom::object o = doc.get_object();
  for (auto [k, v] : o) {
    if (k == "enable_thinking_config")
      co->options.enable_thinking_config = v.get_bool();
    if (k == "search_mode")
      co->options.search_mode = v.get_bool();
    if (k == "search_prompt")
      co->search_prompt = std::string(v.get_string().value());
    if (k == "tool_schema_mode" && v.get_string().value() == "openapi") {
      co->options.tool_schema_mode = ToolSchemaMode::kOpenApiSchema;
    }
    if (k == "thinking_models") {
      for (auto m : v.get_array())
        co->thinking_models.emplace_back(m.get_string().value());
    }
    if (k == "disguise") {
      co->disguise_first = std::string(v.at(0).get_string().value());
      co->disguise_last = std::string(v.at(1).get_string().value());
    }
  }
  co->options.search_prompt = co->search_prompt;
  co->options.disguise_first = co->disguise_first;
  co->options.disguise_last = co->disguise_last;
  if (!co->thinking_models.empty()) {
    const auto* models = &co->thinking_models;
    co->options.model_supports_thinking = [models](std::string_view m) {
      return std::find(models->begin(), models->end(), m) != models->end();
    };
  }
}

std::vector<std::string> CaseNames() {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(kDir)) {
    std::string f = entry.path().filename().string();
    const std::string suffix = ".openai.json";
    if (f.size() > suffix.size() && f.ends_with(suffix)) {
      names.insert(f.substr(0, f.size() - suffix.size()));
    }
  }
  return {names.begin(), names.end()};
}

TEST(TranslateRequestGolden, AllCases) {
  std::vector<std::string> names = CaseNames();
  ASSERT_GE(names.size(), 25u) << "testdata missing? " << kDir;
  bool update = std::getenv("RINGGATE_UPDATE_GOLDENS") != nullptr;
  ChatRequestTranslator translator;
  simdjson::dom::parser p1, p2;
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    std::string body = ReadFile(kDir / (name + ".openai.json"));
    CaseOptions co;
    LoadOptions(kDir / (name + ".options.json"), &co);
    ChatTranslateResult r = translator.Translate(body, co.options);
    fs::path error_file = kDir / (name + ".error.txt");
    if (fs::exists(error_file)) {
      std::istringstream in(ReadFile(error_file));
      int status = 0;
      std::string message;
      in >> status;
      in.ignore();
      std::getline(in, message);
      ASSERT_FALSE(r.ok()) << r->gemini_body;
      EXPECT_EQ(r.error().status, status);
      EXPECT_NE(r.error().message.find(message), std::string::npos) << "got: " << r.error().message;
      EXPECT_FALSE(r.error().code.empty());
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.error().message;
    fs::path expected_file = kDir / (name + ".gemini.json");
    if (update) {
      std::ofstream(expected_file, std::ios::binary) << r->gemini_body << "\n";
      continue;
    }
    ASSERT_TRUE(fs::exists(expected_file));
    simdjson::dom::element got, want;
    ASSERT_EQ(p1.parse(r->gemini_body).get(got), simdjson::SUCCESS) << r->gemini_body;
    ASSERT_EQ(p2.load(expected_file.string()).get(want), simdjson::SUCCESS);
    std::string diff;
    EXPECT_TRUE(JsonEqual(got, want, "$", &diff)) << diff << "\ngot: " << r->gemini_body;
  }
}

ChatTranslateResult Tr(std::string_view body, const ChatTranslateOptions& o = {}) {
  return TranslateChatRequest(body, o);
}

TEST(TranslateRequest, Metadata) {
  auto r = Tr(R"({"model":"models/gemini-2.5-flash-search","stream":true,"n":3,
                 "stream_options":{"include_usage":true},
                 "messages":[{"role":"user","content":"hi"}]})",
              ChatTranslateOptions{.search_mode = true});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->requested_model, "models/gemini-2.5-flash-search");
  EXPECT_EQ(r->upstream_model, "gemini-2.5-flash");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->candidate_count, 3);
  EXPECT_TRUE(r->search_tool);
  EXPECT_FALSE(r->thinking_config_sent);
}

TEST(TranslateRequest, NoDefaultTemperature) {
  auto r = Tr(R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->gemini_body.find("temperature"), std::string::npos);
  EXPECT_EQ(r->gemini_body.find("generationConfig"), std::string::npos);
}

// Sampling numbers reach Gemini as the client wrote them (any JSON number that fits a double);
// anything else is a 400 naming the field.
TEST(TranslateRequest, NumbersKeepTheClientsSpelling) {
  auto r = Tr(R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],
                 "temperature":0.70 ,"top_p":1e-1,"presence_penalty":-0.5,
                 "frequency_penalty":2})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->gemini_body.find(R"("temperature":0.70,"topP":1e-1)"), std::string::npos)
      << r->gemini_body;
  EXPECT_NE(r->gemini_body.find(R"("presencePenalty":-0.5,"frequencyPenalty":2)"),
            std::string::npos)
      << r->gemini_body;
  for (std::string_view bad : {R"("hot")", "true", "1e999", "[0.5]"}) {
    auto e = Tr(std::string(R"({"model":"gemini-2.5-flash","messages":[{"role":"user",)") +
                R"("content":"hi"}],"temperature":)" + std::string(bad) + "}");
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.error().status, 400) << bad;
    EXPECT_EQ(e.error().param, "temperature") << bad;
  }
}

TEST(TranslateRequest, ServerSideSignatureStore) {
  ChatTranslateOptions o;
  o.find_thought_signature = [](std::string_view id) -> std::string_view {
    return id == "call_9" ? "c3RvcmVk" : "";
  };
  auto r = Tr(R"({"model":"gemini-3-pro-preview","messages":[{"role":"user","content":"x"},
      {"role":"assistant","tool_calls":[{"id":"call_9","type":"function",
        "function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"call_9","content":"ok"}]})",
              o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->gemini_body.find(R"("thoughtSignature":"c3RvcmVk")"), std::string::npos)
      << r->gemini_body;
}

TEST(TranslateRequest, PaddedInputWithoutCopy) {
  std::string body = R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]})";
  size_t len = body.size();
  body.append(simdjson::SIMDJSON_PADDING, '\0');
  ChatRequestTranslator t;
  auto r = t.TranslatePadded(std::string_view(body.data(), len), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->gemini_body.find(R"("text":"hi")"), std::string::npos);
}

TEST(TranslateRequest, TranslatorIsReusableAfterErrors) {
  ChatRequestTranslator t;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(t.Translate("{", {}).ok());
    auto r = t.Translate(
        R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]})", {});
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
}

TEST(TranslateRequest, DeepNestingIsAnErrorNotACrash) {
  std::string args(5000, '[');
  std::string body = R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"},
      {"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":{"a":)" +
                     args + "1" + std::string(5000, ']') + "}}}]}]}";
  auto r = Tr(body);
  EXPECT_FALSE(r.ok());
}

// Mutations and truncations of every valid golden input: the translator must return either a
// body that is valid JSON or a 400 with a message, and never crash.
TEST(TranslateRequestRobustness, MutatedAndTruncatedBodies) {
  std::vector<std::string> bodies;
  for (const std::string& name : CaseNames()) {
    bodies.push_back(ReadFile(kDir / (name + ".openai.json")));
  }
  ChatRequestTranslator translator;
  simdjson::dom::parser validator;
  std::mt19937 rng(12345);
  static constexpr char kBytes[] = "{}[]\",:0123456789.eE-+tfnul \\\x00\xff\xc3";
  size_t ok = 0, errors = 0;
  ChatTranslateOptions options;
  options.search_mode = true;
  options.disguise_first = "r1";
  options.disguise_last = "r2";
  options.search_prompt = "sp";
  options.enable_thinking_config = true;
  options.model_supports_thinking = [](std::string_view) { return true; };
  auto check = [&](const std::string& body) {
    ChatTranslateResult r = translator.Translate(body, options);
    if (r.ok()) {
      ++ok;
      simdjson::dom::element e;
      EXPECT_EQ(validator.parse(r->gemini_body).get(e), simdjson::SUCCESS) << r->gemini_body;
    } else {
      ++errors;
      EXPECT_EQ(r.error().status, 400);
      EXPECT_FALSE(r.error().message.empty());
    }
  };
  // RINGGATE_FUZZ_ITERATIONS raises the number of mutations per body (default 300).
  const char* iterations_env = std::getenv("RINGGATE_FUZZ_ITERATIONS");
  int iterations = iterations_env != nullptr ? std::atoi(iterations_env) : 300;
  for (const std::string& base : bodies) {
    for (size_t cut = 0; cut < base.size(); cut += 1 + base.size() / 64) {
      check(base.substr(0, cut));
    }
    for (int i = 0; i < iterations; ++i) {
      std::string b = base;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !b.empty(); ++e) {
        size_t pos = rng() % b.size();
        char c = kBytes[rng() % (sizeof(kBytes) - 1)];
        switch (rng() % 3) {
          case 0:
            b[pos] = c;
            break;
          case 1:
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), c);
            break;
          default:
            b.erase(pos, 1 + rng() % 8);
            break;
        }
      }
      check(b);
    }
  }
  EXPECT_GT(ok, 0u);
  EXPECT_GT(errors, 0u);
}

}  // namespace
}  // namespace ringgate
