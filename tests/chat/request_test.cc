// OpenAI request -> Gemini request, end to end: what ringgate actually sent upstream (read back
// from fake-gemini's request log) for system/developer messages, roles, a tool round trip,
// images, generation config and thinking; the upstream path and where the key travels; and 400s
// naming the field for bodies that cannot be translated (never a 500, the server keeps serving).
#include <string>
#include <vector>

#include "chat_harness.h"

namespace ringgate::testing {
namespace {

struct PlainConfig {
  static GatewayOptions Options() {
    GatewayOptions options;
    // RANDOM_STRING off: these tests read the translation itself (features_test.cc checks the
    // disguise turns).
    options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "RANDOM_STRING=false"};
    return options;
  }
};
using RequestTest = GatewayTest<PlainConfig>;

// Sends `body`, expects 200, and returns the one generateContent body the fake received.
std::unique_ptr<Json> SentBody(Gateway& gateway, std::string_view body,
                               RecordedRequest* recorded = nullptr) {
  HttpResponse response = gateway.Chat(body);
  EXPECT_EQ(response.status, 200) << response;
  std::vector<RecordedRequest> sent = gateway.Requests("generateContent");
  EXPECT_EQ(sent.size(), 1u);
  if (sent.empty())
    return ParseJson("");
  if (recorded != nullptr)
    *recorded = sent.back();
  auto json = ParseJson(sent.back().body);
  EXPECT_TRUE(json->ok) << sent.back().body;
  return json;
}

TEST_F(RequestTest, PathAndKeyTravelLikeGemini) {
  RecordedRequest sent;
  auto body = SentBody(gateway(), SimpleChat(), &sent);
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_TRUE(gateway().IsGatewayKey(sent.headers["x-goog-api-key"]))
      << sent.headers["x-goog-api-key"];
  EXPECT_EQ(sent.path.find("key="), std::string::npos);
  EXPECT_EQ(sent.path.find(kTestKeyPrefix), std::string::npos);
  EXPECT_EQ(sent.headers["content-type"].find("application/json"), 0u)
      << sent.headers["content-type"];
  EXPECT_EQ(sent.body.find(kTestKeyPrefix), std::string::npos);
  EXPECT_EQ(body->Raw("/contents"), R"([{"role":"user","parts":[{"text":"Hello there"}]}])");
  EXPECT_FALSE(body->Has("/systemInstruction"));
  // "models/" prefixes are stripped for the upstream, echoed as sent.
  gateway().Reset();
  HttpResponse response = gateway().Chat(SimpleChat("models/gemini-2.5-flash"));
  ASSERT_EQ(response.status, 200) << response;
  EXPECT_EQ(ParseJson(response.body)->Str("/model"), "models/gemini-2.5-flash");
  std::vector<RecordedRequest> again = gateway().Requests("generateContent");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].path, "/v1beta/models/gemini-2.5-flash:generateContent");
}

TEST_F(RequestTest, SystemAndDeveloperMessagesBecomeSystemInstruction) {
  auto body = SentBody(gateway(), R"({"model":"gemini-2.5-flash","messages":[
    {"role":"system","content":"Be brief."},
    {"role":"developer","content":[{"type":"text","text":"Use English."}]},
    {"role":"user","content":"Hi"},
    {"role":"assistant","content":"Hello!"},
    {"role":"user","content":[{"type":"text","text":"Bye"}]}]})");
  EXPECT_EQ(body->Str("/systemInstruction/parts/0/text"), "Be brief.") << body->Raw("");
  EXPECT_EQ(body->Str("/systemInstruction/parts/1/text"), "Use English.") << body->Raw("");
  EXPECT_EQ(body->Size("/systemInstruction/parts"), 2u);
  ASSERT_EQ(body->Size("/contents"), 3u) << body->Raw("/contents");
  EXPECT_EQ(body->Str("/contents/0/role"), "user");
  EXPECT_EQ(body->Str("/contents/0/parts/0/text"), "Hi");
  EXPECT_EQ(body->Str("/contents/1/role"), "model");
  EXPECT_EQ(body->Str("/contents/1/parts/0/text"), "Hello!");
  EXPECT_EQ(body->Str("/contents/2/role"), "user");
  EXPECT_EQ(body->Str("/contents/2/parts/0/text"), "Bye");
  EXPECT_EQ(body->Raw("").find("\"system\""), std::string::npos) << "no system role in contents";
}

TEST_F(RequestTest, ToolRoundTripBecomesFunctionCallAndFunctionResponse) {
  auto body = SentBody(gateway(), R"({"model":"gemini-2.5-flash",
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
      "parameters":{"type":"object","properties":{"location":{"type":"string"}},
      "required":["location"]}}}],
    "tool_choice":"auto",
    "messages":[
      {"role":"user","content":"Weather in Paris?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function",
        "function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
      {"role":"tool","tool_call_id":"call_abc","content":"{\"temp\":21}"},
      {"role":"user","content":"Thanks"}]})");
  ASSERT_EQ(body->Size("/contents"), 4u) << body->Raw("/contents");
  EXPECT_EQ(body->Str("/contents/1/role"), "model");
  EXPECT_EQ(body->Str("/contents/1/parts/0/functionCall/name"), "get_weather");
  EXPECT_EQ(body->Raw("/contents/1/parts/0/functionCall/args"), R"({"location":"Paris"})");
  EXPECT_EQ(body->Str("/contents/2/role"), "user");
  EXPECT_EQ(body->Str("/contents/2/parts/0/functionResponse/name"), "get_weather")
      << "named after the tool call with that id";
  EXPECT_EQ(body->Raw("/contents/2/parts/0/functionResponse/response"), R"({"temp":21})");
  EXPECT_EQ(body->Str("/contents/3/parts/0/text"), "Thanks");
  EXPECT_EQ(body->Str("/tools/0/functionDeclarations/0/name"), "get_weather")
      << body->Raw("/tools");
  EXPECT_EQ(body->Str("/tools/0/functionDeclarations/0/description"), "Weather");
  EXPECT_TRUE(body->Has("/tools/0/functionDeclarations/0/parametersJsonSchema") ||
              body->Has("/tools/0/functionDeclarations/0/parameters"))
      << body->Raw("/tools");
}

TEST_F(RequestTest, ToolMessageWithTextContentIsWrapped) {
  auto body = SentBody(gateway(), R"({"model":"gemini-2.5-flash","messages":[
      {"role":"user","content":"Time?"},
      {"role":"assistant","tool_calls":[
        {"id":"c1","type":"function","function":{"name":"clock","arguments":"{}"}},
        {"id":"c2","type":"function","function":{"name":"zone","arguments":""}}]},
      {"role":"tool","tool_call_id":"c2","content":"UTC"},
      {"role":"tool","tool_call_id":"c1","content":"12:00"}]})");
  ASSERT_EQ(body->Size("/contents"), 3u) << body->Raw("/contents");
  EXPECT_EQ(body->Str("/contents/1/parts/0/functionCall/name"), "clock");
  EXPECT_EQ(body->Str("/contents/1/parts/1/functionCall/name"), "zone");
  EXPECT_EQ(body->Raw("/contents/1/parts/1/functionCall/args"), "{}");
  // Both answers in ONE user turn, each named after its own call.
  EXPECT_EQ(body->Size("/contents/2/parts"), 2u) << body->Raw("/contents/2");
  EXPECT_EQ(body->Str("/contents/2/parts/0/functionResponse/name"), "zone");
  EXPECT_EQ(body->Raw("/contents/2/parts/0/functionResponse/response"), R"({"content":"UTC"})");
  EXPECT_EQ(body->Str("/contents/2/parts/1/functionResponse/name"), "clock");
}

TEST_F(RequestTest, ImageDataUrlBecomesInlineData) {
  auto body = SentBody(gateway(), R"({"model":"gemini-2.5-flash","messages":[{"role":"user",
    "content":[{"type":"text","text":"What is this?"},
               {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]})");
  EXPECT_EQ(body->Str("/contents/0/parts/0/text"), "What is this?");
  EXPECT_EQ(body->Str("/contents/0/parts/1/inlineData/mimeType"), "image/png")
      << body->Raw("/contents");
  EXPECT_EQ(body->Str("/contents/0/parts/1/inlineData/data"), "iVBORw0KGgo=");
}

TEST_F(RequestTest, GenerationConfigFieldsAreTranslated) {
  auto body = SentBody(gateway(), R"({"model":"gemini-2.5-flash","messages":[{"role":"user",
    "content":"x"}],"temperature":0.3,"top_p":0.9,"max_tokens":100,"stop":["END","STOP"],
    "seed":42,"presence_penalty":0.5,"frequency_penalty":0.25,"n":2,
    "response_format":{"type":"json_object"}})");
  EXPECT_DOUBLE_EQ(body->Num("/generationConfig/temperature"), 0.3)
      << body->Raw("/generationConfig");
  EXPECT_DOUBLE_EQ(body->Num("/generationConfig/topP"), 0.9);
  EXPECT_EQ(body->Int("/generationConfig/maxOutputTokens"), 100);
  EXPECT_EQ(body->Raw("/generationConfig/stopSequences"), R"(["END","STOP"])");
  EXPECT_EQ(body->Int("/generationConfig/seed"), 42);
  EXPECT_DOUBLE_EQ(body->Num("/generationConfig/presencePenalty"), 0.5);
  EXPECT_DOUBLE_EQ(body->Num("/generationConfig/frequencyPenalty"), 0.25);
  EXPECT_EQ(body->Int("/generationConfig/candidateCount"), 2);
  EXPECT_EQ(body->Str("/generationConfig/responseMimeType"), "application/json");

  // max_completion_tokens wins over max_tokens; a string stop is one sequence.
  gateway().Reset();
  auto second = SentBody(gateway(), R"({"model":"gemini-2.5-flash","messages":[{"role":"user",
    "content":"x"}],"max_tokens":100,"max_completion_tokens":7,"stop":"END"})");
  EXPECT_EQ(second->Int("/generationConfig/maxOutputTokens"), 7)
      << second->Raw("/generationConfig");
  EXPECT_EQ(second->Raw("/generationConfig/stopSequences"), R"(["END"])");
}

TEST_F(RequestTest, NoTemperatureOrOtherDefaultsAreInjected) {
  auto body = SentBody(gateway(), SimpleChat());
  for (const char* field : {"temperature", "topP", "topK", "maxOutputTokens", "candidateCount",
                            "stopSequences", "seed"}) {
    EXPECT_FALSE(body->Has(std::string("/generationConfig/") + field))
        << field << " in " << body->Raw("");
  }
  // HAJIMI's safety settings are always sent.
  EXPECT_EQ(body->Size("/safetySettings"), 5u) << body->Raw("");
}

TEST_F(RequestTest, ThinkingConfigOnlyForThinkingModels) {
  // ENABLE_THINKING defaults to true: the catalog says gemini-2.5-flash thinks.
  auto thinking = SentBody(gateway(), SimpleChat("gemini-2.5-flash"));
  EXPECT_EQ(thinking->Int("/generationConfig/thinkingConfig/thinkingBudget"), -1)
      << thinking->Raw("");
  EXPECT_TRUE(thinking->Bool("/generationConfig/thinkingConfig/includeThoughts"));
  gateway().Reset();
  auto plain = SentBody(gateway(), SimpleChat("gemini-2.0-flash"));
  EXPECT_FALSE(plain->Has("/generationConfig/thinkingConfig")) << plain->Raw("");
  // A client budget wins over the default.
  gateway().Reset();
  auto budget = SentBody(gateway(), SimpleChat("gemini-2.5-flash", R"(,"thinking_budget":512)"));
  EXPECT_EQ(budget->Int("/generationConfig/thinkingConfig/thinkingBudget"), 512) << budget->Raw("");
}

// ---------------------------------------------------------------------------------------------
// Bodies that cannot be translated.

struct BadBody {
  const char* name;
  std::string body;
  const char* field;  // must appear in the message (and be the param) when non-empty
};

void ExpectBadRequest(Gateway& gateway, const BadBody& c) {
  SCOPED_TRACE(c.name);
  HttpResponse response = gateway.Chat(c.body);
  ASSERT_EQ(response.status, 400) << c.body << "\n" << response;
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json->ok) << response.body;
  std::string message = json->Str("/error/message");
  EXPECT_EQ(json->Str("/error/type"), "invalid_request_error") << response.body;
  EXPECT_TRUE(json->IsString("/error/code")) << response.body;
  if (c.field[0] != '\0') {
    EXPECT_EQ(message.find(c.field), 0u)
        << "message should start with " << c.field << ": " << message;
    EXPECT_EQ(json->Str("/error/param"), c.field) << response.body;
  }
}

TEST_F(RequestTest, UntranslatableBodiesAre400NamingTheField) {
  const std::vector<BadBody> cases = {
      {"http image url",
       R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"text",)"
       R"("text":"hi"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]})",
       "messages[0].content[1].image_url.url"},
      {"bad base64 data url",
       R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"image_url",)"
       R"("image_url":{"url":"data:image/png;base64,@@@not base64@@@"}}]}]})",
       "messages[0].content[0].image_url.url"},
      {"data url without base64",
       R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"image_url",)"
       R"("image_url":{"url":"data:image/png,abc"}}]}]})",
       "messages[0].content[0].image_url.url"},
      {"unknown role",
       R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"a"},)"
       R"({"role":"wizard","content":"b"}]})",
       "messages[1].role"},
      {"missing messages", R"({"model":"gemini-2.5-flash"})", "messages"},
      {"messages not an array", R"({"model":"gemini-2.5-flash","messages":"hi"})", "messages"},
      {"content a number",
       R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":42}]})",
       "messages[0].content"},
      {"missing model", R"({"messages":[{"role":"user","content":"a"}]})", "model"},
      {"model a number", R"({"model":7,"messages":[{"role":"user","content":"a"}]})", "model"},
      {"not json", "this is not json", ""},
      {"truncated json", R"({"model":"gemini-2.5-flash","messages":[{"role":"user",)", ""},
      {"empty body", "", ""},
      {"array body", "[]", ""},
  };
  for (const BadBody& c : cases) {
    ExpectBadRequest(gateway(), c);
    // The server keeps serving on new connections.
    ASSERT_TRUE(HealthzOk(gateway().port())) << "after " << c.name;
  }
  EXPECT_TRUE(gateway().Requests("generateContent").empty()) << "a bad body went upstream";
  EXPECT_EQ(gateway().Chat(SimpleChat()).status, 200);
}

TEST_F(RequestTest, BadBodyOnAKeepAliveConnectionLeavesItUsable) {
  HttpConnection connection = HttpConnection::Connect(gateway().port());
  ASSERT_TRUE(connection.is_open()) << connection.error();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(connection.Send(PostRequest("/v1/chat/completions", "{\"model\":", Bearer())));
    HttpResponse bad;
    ASSERT_EQ(connection.ReadResponse(&bad), ReadStatus::kOk);
    EXPECT_EQ(bad.status, 400) << bad;
    ASSERT_TRUE(connection.Send(PostRequest("/v1/chat/completions", SimpleChat(), Bearer())));
    HttpResponse good;
    ASSERT_EQ(connection.ReadResponse(&good), ReadStatus::kOk);
    EXPECT_EQ(good.status, 200) << good;
  }
}

}  // namespace
}  // namespace ringgate::testing
