// HAJIMI's cache key (hajimi-behaviour.md 10.1): the expected values are XXH64 over the
// concatenation HAJIMI feeds, computed here independently of the implementation.
#include "ringgate/cache/fingerprint.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>

namespace ringgate {
namespace {

uint64_t Xxh(std::string_view s) {
  return XXH64(s.data(), s.size(), 0);
}

Fingerprint Fp(std::string_view model, std::string_view messages, int n = 6, bool precise = false) {
  Result<Fingerprint> r = RequestFingerprint(model, messages, n, precise);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.status().message());
  return r.ok() ? *r : Fingerprint{};
}

TEST(Fingerprint, HexIsSixteenLowerCaseDigits) {
  // xxh64("") with seed 0 is the published test vector ef46db3751d8e999.
  EXPECT_EQ(Fingerprint{Xxh("")}.ToHex(), "ef46db3751d8e999");
  EXPECT_EQ(Fingerprint{0x1}.ToHex(), "0000000000000001");
}

TEST(Fingerprint, SingleStringMessage) {
  Fingerprint f = Fp("gemini-2.5-pro", R"([{"role":"user","content":"hi"}])");
  EXPECT_EQ(f.value, Xxh("gemini-2.5-prorole:usertext:hi"));
}

TEST(Fingerprint, NewestMessageFirst) {
  Fingerprint f = Fp("m", R"([{"role":"system","content":"S"},{"role":"user","content":"U"},
                             {"role":"assistant","content":"A"}])");
  EXPECT_EQ(f.value, Xxh("mrole:assistanttext:Arole:usertext:Urole:systemtext:S"));
}

TEST(Fingerprint, KeyOrderInsideAMessageDoesNotMatter) {
  EXPECT_EQ(Fp("m", R"([{"content":"x","role":"user"}])"),
            Fp("m", R"([{"role":"user","content":"x"}])"));
}

TEST(Fingerprint, ListContentTextAndImages) {
  std::string data_url = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB";
  std::string messages = R"([{"role":"user","content":[{"type":"text","text":"look"},)"
                         R"({"type":"image_url","image_url":{"url":")" +
                         data_url +
                         R"("}},{"type":"image_url","image_url":{"url":"https://x/y.png"}},)"
                         R"({"type":"input_audio","input_audio":{"data":"zzz"}}]}])";
  Fingerprint f = Fp("m", messages);
  EXPECT_EQ(f.value, Xxh("mrole:usertext:lookimage_url:" + data_url.substr(0, 32) +
                         "image_url:https://x/y.png"));
}

TEST(Fingerprint, TruncationCountsCharactersNotBytes) {
  // 11 ASCII + 25 two-byte characters: Python's url[:32] keeps 21 of them (42 bytes).
  std::string url = "data:image/";
  for (int i = 0; i < 25; ++i)
    url += "\xc3\xa9";  // U+00E9
  std::string messages =
      R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":")" + url + R"("}}]}])";
  EXPECT_EQ(Fp("m", messages).value, Xxh("mrole:userimage_url:" + url.substr(0, 11 + 42)));
}

TEST(Fingerprint, EscapesAreDecodedBeforeHashing) {
  EXPECT_EQ(Fp("m", R"([{"role":"user","content":"a\"b\u00e9\n"}])").value,
            Xxh("mrole:usertext:a\"b\xc3\xa9\n"));
}

TEST(Fingerprint, OnlyTheLastNMessagesCount) {
  std::string tail;
  for (int i = 0; i < 6; ++i)
    tail += R"(,{"role":"user","content":"m)" + std::to_string(i) + R"("})";
  // Differences before the last 6 do not change the key.
  Fingerprint a = Fp("m", R"([{"role":"user","content":"old A"})" + tail + "]");
  Fingerprint b = Fp("m", R"([{"role":"system","content":"old B"})" + tail + "]");
  EXPECT_EQ(a, b);
  std::string expected = "m";
  for (int i = 5; i >= 0; --i)
    expected += "role:usertext:m" + std::to_string(i);
  EXPECT_EQ(a.value, Xxh(expected));
  // With 7 entries they differ.
  EXPECT_NE(Fp("m", R"([{"role":"user","content":"old A"})" + tail + "]", 7),
            Fp("m", R"([{"role":"system","content":"old B"})" + tail + "]", 7));
}

TEST(Fingerprint, PreciseHashesEverything) {
  std::string many = "[";
  for (int i = 0; i < 100; ++i)
    many +=
        std::string(i ? "," : "") + R"({"role":"user","content":")" + std::to_string(i) + R"("})";
  many += "]";
  std::string expected = "m";
  for (int i = 99; i >= 0; --i)
    expected += "role:usertext:" + std::to_string(i);
  EXPECT_EQ(Fp("m", many, 6, true).value, Xxh(expected));
  EXPECT_EQ(EffectiveCacheEntries(6, true), 65536);
}

TEST(Fingerprint, ZeroEntriesHashesTheModelOnly) {
  EXPECT_EQ(Fp("m", R"([{"role":"user","content":"x"}])", 0).value, Xxh("m"));
  EXPECT_EQ(Fp("m", "[]").value, Xxh("m"));
}

TEST(Fingerprint, FewerMessagesThanN) {
  EXPECT_EQ(Fp("m", R"([{"role":"user","content":"x"}])", 6).value, Xxh("mrole:usertext:x"));
}

TEST(Fingerprint, ParametersAndToolFieldsAreIgnored) {
  Fingerprint plain = Fp("m", R"([{"role":"tool","content":"r"}])");
  Fingerprint extra = Fp(
      "m", R"([{"role":"tool","content":"r","tool_call_id":"c1","name":"f","extra":{"a":[1]}}])");
  EXPECT_EQ(plain, extra);
  // Assistant tool calls with null content feed only the role.
  EXPECT_EQ(Fp("m", R"([{"role":"assistant","content":null,"tool_calls":[{"id":"x"}]}])").value,
            Xxh("mrole:assistant"));
}

TEST(Fingerprint, DifferentModelOrContentDiffers) {
  std::string msgs = R"([{"role":"user","content":"x"}])";
  EXPECT_NE(Fp("a", msgs), Fp("b", msgs));
  EXPECT_NE(Fp("a", msgs), Fp("a", R"([{"role":"user","content":"y"}])"));
}

TEST(Fingerprint, StableAcrossCallsAndBodies) {
  std::string body = R"({"model":"gemini-2.5-flash","temperature":0.2,"stream":true,)"
                     R"("messages":[{"role":"user","content":"hello"}],"tools":[]})";
  Result<Fingerprint> a = OpenAiBodyFingerprint(body, 6, false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, Xxh("gemini-2.5-flashrole:usertext:hello"));
  for (int i = 0; i < 3; ++i) {
    Result<Fingerprint> again = OpenAiBodyFingerprint(body, 6, false);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*a, *again);
  }
  // Parameters do not matter; the model comes from the body.
  std::string other = R"({"messages":[{"role":"user","content":"hello"}],"temperature":1.5,)"
                      R"("model":"gemini-2.5-flash"})";
  EXPECT_EQ(*a, *OpenAiBodyFingerprint(other, 6, false));
  EXPECT_EQ(*a, Fp("gemini-2.5-flash", R"([{"role":"user","content":"hello"}])"));
}

TEST(Fingerprint, MalformedJsonIsAnError) {
  EXPECT_FALSE(RequestFingerprint("m", R"([{"role":"user","content":"x"})", 6, false).ok());
  EXPECT_FALSE(RequestFingerprint("m", R"({"role":"user"})", 6, false).ok());
  EXPECT_FALSE(RequestFingerprint("m", R"([1])", 6, false).ok());
  EXPECT_FALSE(RequestFingerprint("m", R"([] x)", 6, false).ok());
  EXPECT_FALSE(OpenAiBodyFingerprint(R"({"model":"m","messages":[)", 6, false).ok());
  EXPECT_FALSE(OpenAiBodyFingerprint("", 6, false).ok());
}

TEST(Fingerprint, LenientOnWrongTypesHajimiWouldReject) {
  // Non-string role and text feed only their tags; non-object items are skipped.
  EXPECT_EQ(Fp("m", R"([{"role":5,"content":[{"type":"text","text":7},3]}])").value,
            Xxh("mrole:text:"));
  // image_url as a bare string is taken as the url.
  EXPECT_EQ(Fp("m", R"([{"role":"user","content":[{"type":"image_url","image_url":"u"}]}])").value,
            Xxh("mrole:userimage_url:u"));
}

TEST(Fingerprint, GeminiFormat) {
  std::string data(40, 'A');
  std::string body = R"({"contents":[{"role":"user","parts":[{"text":"q"}]},)"
                     R"({"role":"model","parts":[{"text":"a"}]},)"
                     R"({"parts":[{"inline_data":{"mime_type":"image/png","data":")" +
                     data +
                     R"("}},{"fileData":{"fileUri":"gs://b/f"}}],"role":"user"}],)"
                     R"("generationConfig":{"temperature":1}})";
  Result<Fingerprint> f = GeminiBodyFingerprint("gemini-2.5-pro", body, 6, false);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->value, Xxh("gemini-2.5-prorole:userinline_data:data_prefix:" + data.substr(0, 32) +
                          "file_data:file_uri:gs://b/f" + "role:modeltext:a" + "role:usertext:q"));
  // N = 1: only the newest content.
  Result<Fingerprint> one = GeminiBodyFingerprint("gemini-2.5-pro", body, 1, false);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->value, Xxh("gemini-2.5-prorole:userinline_data:data_prefix:" + data.substr(0, 32) +
                            "file_data:file_uri:gs://b/f"));
}

}  // namespace
}  // namespace ringgate
