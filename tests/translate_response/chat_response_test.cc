// Non-stream Gemini -> OpenAI conversion: goldens NAME.gemini.json -> NAME.openai.json (compared
// as canonical JSON; id and created must exist and are replaced by placeholders), plus the
// mapping helpers and the failure cases.
#include "ringgate/translate/chat_response.h"

#include <gtest/gtest.h>

#include <charconv>
#include <string>

#include "golden.h"
#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

using testing::CanonicalJson;
using testing::ListGoldens;
using testing::ReadFile;
using testing::ReplaceAll;
using testing::TestdataPath;

constexpr std::string_view kModel = "gemini-2.5-flash";

// Checks id / created and swaps them (and the tool call ids derived from the id) for
// placeholders: "chatcmpl-ID", "call_ID_<n>", "created":0.
std::string Normalize(std::string out) {
  std::string_view id_key = "\"id\":\"chatcmpl-";
  size_t at = out.find(id_key);
  EXPECT_NE(at, std::string::npos) << out;
  if (at == std::string::npos)
    return out;
  size_t begin = at + id_key.size();
  size_t end = out.find('"', begin);
  std::string suffix = out.substr(begin, end - begin);
  EXPECT_EQ(suffix.size(), 24u);
  out = ReplaceAll(out, "chatcmpl-" + suffix, "chatcmpl-ID");
  out = ReplaceAll(out, "call_" + suffix + "_", "call_ID_");
  std::string_view created_key = "\"created\":";
  size_t c = out.find(created_key);
  EXPECT_NE(c, std::string::npos);
  if (c == std::string::npos)
    return out;
  size_t digits = c + created_key.size();
  size_t digits_end = out.find_first_not_of("0123456789", digits);
  int64_t created = 0;
  std::from_chars(out.data() + digits, out.data() + digits_end, created);
  EXPECT_GT(created, 1700000000);
  out.replace(digits, digits_end - digits, "0");
  return out;
}

TEST(ChatResponseGolden, AllFiles) {
  std::vector<std::string> names = ListGoldens(".gemini.json");
  EXPECT_GE(names.size(), 8u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    std::string input;
    ASSERT_TRUE(ReadFile(TestdataPath(name + ".gemini.json"), &input));
    std::string out = "PREFIX";  // output is appended
    Status status = TranslateChatResponse(input, {.model = kModel}, out);
    ASSERT_TRUE(status.ok()) << status.message();
    ASSERT_EQ(out.substr(0, 6), "PREFIX");
    std::string normalized = Normalize(out.substr(6));
    ASSERT_NE(CanonicalJson(normalized), "") << "output is not valid JSON: " << normalized;
    std::string expected_path = TestdataPath(name + ".openai.json");
    if (testing::UpdateGoldens()) {
      testing::WriteFile(expected_path, normalized + "\n");
      continue;
    }
    std::string expected;
    ASSERT_TRUE(ReadFile(expected_path, &expected)) << expected_path;
    EXPECT_EQ(CanonicalJson(normalized), CanonicalJson(expected)) << normalized;
  }
}

TEST(ChatResponse, FixedIdAndCreated) {
  std::string out;
  ASSERT_TRUE(
      TranslateChatResponse(
          R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f"}}]},"finishReason":"STOP"}]})",
          {.model = "m\"x", .id = "chatcmpl-abc", .created = 42}, out)
          .ok());
  EXPECT_EQ(
      out,
      R"({"id":"chatcmpl-abc","object":"chat.completion","created":42,"model":"m\"x",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[)"
      R"({"index":0,"id":"call_abc_0","type":"function","function":{"name":"f","arguments":"{}"}}]},)"
      R"("logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":0,)"
      R"("completion_tokens":0,"total_tokens":0,"completion_tokens_details":{"reasoning_tokens":0}}})");
}

TEST(ChatResponse, IdsAreUniqueAndCreatedIsNow) {
  std::string a, b;
  ASSERT_TRUE(TranslateChatResponse(R"({"candidates":[]})", {.model = kModel}, a).ok());
  ASSERT_TRUE(TranslateChatResponse(R"({"candidates":[]})", {.model = kModel}, b).ok());
  EXPECT_NE(a.substr(0, 40), b.substr(0, 40));
  EXPECT_NE(NewChatCompletionId(), NewChatCompletionId());
  EXPECT_EQ(NewChatCompletionId().size(), 9u + 24u);
}

TEST(ChatResponse, Failures) {
  std::string out;
  for (std::string_view bad : {"", "not json", "[1,2]", "{\"candidates\":[", "{} trailing",
                               R"({"candidates":[{"content":{"parts":[{"text":1}]}}]})",
                               R"({"candidates":[{"index":-1}]})"}) {
    SCOPED_TRACE(bad);
    Status status = TranslateChatResponse(bad, {.model = kModel}, out);
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(out, "");
  }
  Status status = TranslateChatResponse(
      R"({"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}})",
      {.model = kModel}, out);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("Resource has been exhausted"), std::string::npos);
  EXPECT_EQ(out, "");
}

TEST(ChatResponse, InPlaceParseNeedsPadding) {
  // With enough readable bytes after the input it is parsed where it lies; the result is the same.
  std::string body =
      R"({"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"STOP"}]})";
  std::string padded = body + std::string(64, ' ');
  std::string a, b;
  ASSERT_TRUE(
      TranslateChatResponse(body, {.model = kModel, .id = "chatcmpl-x", .created = 1}, a).ok());
  ASSERT_TRUE(TranslateChatResponse(std::string_view(padded.data(), body.size()), padded.size(),
                                    {.model = kModel, .id = "chatcmpl-x", .created = 1}, b)
                  .ok());
  EXPECT_EQ(a, b);
}

TEST(ChatResponse, FinishReasonMapping) {
  EXPECT_EQ(MapFinishReason("STOP", false), "stop");
  EXPECT_EQ(MapFinishReason("STOP", true), "tool_calls");
  EXPECT_EQ(MapFinishReason("MAX_TOKENS", true), "length");
  for (std::string_view r :
       {"SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
        "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_OTHER", "IMAGE_RECITATION"}) {
    EXPECT_EQ(MapFinishReason(r, false), "content_filter") << r;
  }
  for (std::string_view r : {"OTHER", "MALFORMED_FUNCTION_CALL", "FINISH_REASON_UNSPECIFIED",
                             "NO_IMAGE", "UNEXPECTED_TOOL_CALL", "SOMETHING_NEW", ""}) {
    EXPECT_EQ(MapFinishReason(r, false), "stop") << r;
  }
}

TEST(ChatResponse, UsageMapping) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  GeminiUsage u;
  u.prompt = 10;
  u.tool_use_prompt = 5;
  u.candidates = 7;
  u.thoughts = 100;
  u.cached = 4;
  u.has_cached = true;
  WriteOpenAiUsage(w, u);  // no totalTokenCount: the sum
  w.EndObject();
  EXPECT_EQ(
      out,
      R"({"usage":{"prompt_tokens":15,"completion_tokens":107,"total_tokens":122,)"
      R"("prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":100}}})");
}

TEST(ChatResponse, MinifyKeepsStrings) {
  std::string out;
  AppendMinifiedJson(out, "{ \"a b\" : [ 1 ,\n 2 ], \"c\\\" d\": \" \\\\ \" }");
  EXPECT_EQ(out, "{\"a b\":[1,2],\"c\\\" d\":\" \\\\ \"}");
}

}  // namespace
}  // namespace ringgate
