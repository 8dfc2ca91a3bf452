// ClassifyGeminiError over the realistic bodies of wire-formats.md 3.4 (tests/testdata/keys) and
// the other cases of 3.3; transport errors; Duration parsing; daily reset times.
#include "ringgate/keys/upstream_verdict.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "ringgate/keys/reset_time.h"

namespace ringgate {
namespace {

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(RINGGATE_KEYS_TESTDATA) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t Utc(int64_t y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return DaysFromCivil(y, m, d) * kMillisPerDay + ((hh * 60 + mm) * 60 + ss) * 1000LL;
}

// Summer (US daylight time): Pacific midnight = 07:00 UTC.
const int64_t kSummerNoon = Utc(2025, 7, 15, 12);
// Winter (US standard time): Pacific midnight = 08:00 UTC.
const int64_t kWinterNoon = Utc(2025, 1, 15, 12);

TEST(ClassifyGeminiError, PerMinute429RestsForRetryDelay) {
  UpstreamVerdict v = ClassifyGeminiError(429, ReadTestdata("429_per_minute.json"), kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kRestKeyModel);
  EXPECT_EQ(v.failure, FailureClass::kQuota);
  EXPECT_EQ(v.retry_delay_ms, 26'000);
  EXPECT_EQ(v.until_ms, kSummerNoon + 26'000);
  EXPECT_EQ(v.status, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(v.reason, "GenerateContentInputTokensPerModelPerMinute-FreeTier");
  EXPECT_TRUE(v.retryable());
}

TEST(ClassifyGeminiError, PerDay429RestsUntilPacificMidnight) {
  std::string body = ReadTestdata("429_per_day.json");
  UpstreamVerdict v = ClassifyGeminiError(429, body, kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kRestKeyModelUntilDailyReset);
  EXPECT_EQ(v.failure, FailureClass::kQuota);
  EXPECT_EQ(v.until_ms, Utc(2025, 7, 16, 7));
  EXPECT_EQ(v.retry_delay_ms, 47'000);  // RetryInfo wins over the message's 47.1s
  EXPECT_EQ(v.reason, "GenerateRequestsPerDayPerProjectPerModel-FreeTier");

  UpstreamVerdict w = ClassifyGeminiError(429, body, kWinterNoon);
  EXPECT_EQ(w.until_ms, Utc(2025, 1, 16, 8));
}

TEST(ClassifyGeminiError, InvalidKeyIsQuarantined) {
  UpstreamVerdict v =
      ClassifyGeminiError(400, ReadTestdata("400_api_key_invalid.json"), kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kQuarantineKey);
  EXPECT_EQ(v.failure, FailureClass::kKeyRejected);
  EXPECT_EQ(v.reason, "API_KEY_INVALID");
  EXPECT_EQ(v.status, "INVALID_ARGUMENT");
  EXPECT_EQ(v.message, "API key not valid. Please pass a valid API key.");
}

TEST(ClassifyGeminiError, ServiceBlockedIsQuarantined) {
  UpstreamVerdict v =
      ClassifyGeminiError(403, ReadTestdata("403_service_blocked.json"), kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kQuarantineKey);
  EXPECT_EQ(v.reason, "API_KEY_SERVICE_BLOCKED");
}

TEST(ClassifyGeminiError, LeakedKeyWithoutDetailsIsQuarantined) {
  UpstreamVerdict v = ClassifyGeminiError(403, ReadTestdata("403_leaked.json"), kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kQuarantineKey);
  EXPECT_EQ(v.reason, "PERMISSION_DENIED");
}

TEST(ClassifyGeminiError, OverloadedRetriesWithoutBlame) {
  UpstreamVerdict v = ClassifyGeminiError(503, ReadTestdata("503_overloaded.json"), kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kRetryOtherKey);
  EXPECT_EQ(v.failure, FailureClass::kOverloaded);
  EXPECT_EQ(v.message, "The model is overloaded. Please try again later.");
}

TEST(ClassifyGeminiError, OtherKeyReasonsAndMessages) {
  const char* suspended =
      R"({"error":{"code":403,"message":"Permission denied: Consumer 'api_key:AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' has been suspended.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"CONSUMER_SUSPENDED","domain":"googleapis.com"}]}})";
  UpstreamVerdict v = ClassifyGeminiError(403, suspended, kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kQuarantineKey);
  EXPECT_EQ(v.reason, "CONSUMER_SUSPENDED");
  // The key in the message is masked.
  EXPECT_EQ(v.message.find("AIzaSyAAAAAAAAAAAAAAAAAA"), std::string::npos);
  EXPECT_NE(v.message.find("AIzaSyAA..."), std::string::npos);

  const char* disabled =
      R"({"error":{"code":403,"message":"Generative Language API has not been used in project 1 before or it is disabled.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED"}]}})";
  EXPECT_EQ(ClassifyGeminiError(403, disabled, kSummerNoon).kind, VerdictKind::kQuarantineKey);

  const char* expired =
      R"({"error":{"code":400,"message":"API key expired. Please renew the API key.","status":"INVALID_ARGUMENT"}})";
  EXPECT_EQ(ClassifyGeminiError(400, expired, kSummerNoon).kind, VerdictKind::kQuarantineKey);

  const char* denied =
      R"({"error":{"code":403,"message":"Your project has been denied access. Please contact support.","status":"PERMISSION_DENIED"}})";
  EXPECT_EQ(ClassifyGeminiError(403, denied, kSummerNoon).kind, VerdictKind::kQuarantineKey);

  EXPECT_EQ(ClassifyGeminiError(402, "", kSummerNoon).kind, VerdictKind::kQuarantineKey);
  EXPECT_EQ(ClassifyGeminiError(401, "", kSummerNoon).kind, VerdictKind::kQuarantineKey);
}

TEST(ClassifyGeminiError, ForbiddenClientResourceIsClientError) {
  const char* file =
      R"({"error":{"code":403,"message":"You do not have permission to access the File abc123 or it may not exist. files/abc123","status":"PERMISSION_DENIED"}})";
  EXPECT_EQ(ClassifyGeminiError(403, file, kSummerNoon).kind, VerdictKind::kClientError);
}

TEST(ClassifyGeminiError, InvalidArgumentNotAboutTheKeyIsClientError) {
  const char* bad =
      R"({"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"foo\": Cannot find field.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"description":"Invalid JSON payload received. Unknown name \"foo\": Cannot find field.","reason":"X"}]}]}})";
  UpstreamVerdict v = ClassifyGeminiError(400, bad, kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kClientError);
  EXPECT_EQ(v.failure, FailureClass::kClient);
  EXPECT_FALSE(v.retryable());
  EXPECT_EQ(v.http_status, 400);

  const char* not_found =
      R"({"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.","status":"NOT_FOUND"}})";
  EXPECT_EQ(ClassifyGeminiError(404, not_found, kSummerNoon).kind, VerdictKind::kClientError);
  EXPECT_EQ(ClassifyGeminiError(413, "", kSummerNoon).kind, VerdictKind::kClientError);
}

TEST(ClassifyGeminiError, FailedPreconditionRestsTheKeyForTheDay) {
  const char* location =
      R"({"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}})";
  UpstreamVerdict v = ClassifyGeminiError(400, location, kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kRestKeyModelUntilDailyReset);
  EXPECT_EQ(v.failure, FailureClass::kPrecondition);
  EXPECT_EQ(v.until_ms, Utc(2025, 7, 16, 7));
}

TEST(ClassifyGeminiError, NewerQuotaMessageWithLimitZeroIsPerDay) {
  const char* body =
      R"({"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro\nPlease retry in 25.465784708s.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}]}})";
  UpstreamVerdict v = ClassifyGeminiError(429, body, kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kRestKeyModelUntilDailyReset);
  EXPECT_EQ(v.retry_delay_ms, 25'466);  // from the message, rounded up
}

TEST(ClassifyGeminiError, QuotaValueZeroIsPerDay) {
  const char* body =
      R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"quota","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaValue":"0"}]}]}})";
  EXPECT_EQ(ClassifyGeminiError(429, body, kSummerNoon).kind,
            VerdictKind::kRestKeyModelUntilDailyReset);
}

TEST(ClassifyGeminiError, MessageOnlyRetryDelayAndDefaults) {
  const char* body =
      R"({"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota). Please retry in 1.5s.","status":"RESOURCE_EXHAUSTED"}})";
  UpstreamVerdict v = ClassifyGeminiError(429, body, kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kRestKeyModel);
  EXPECT_EQ(v.retry_delay_ms, 1'500);
  EXPECT_EQ(v.until_ms, kSummerNoon + 1'500);

  // No details, no delay (Vertex style): 60 s.
  UpstreamVerdict bare = ClassifyGeminiError(
      429,
      R"({"error":{"code":429,"message":"Resource exhausted. Please try again later.","status":"RESOURCE_EXHAUSTED"}})",
      kSummerNoon);
  EXPECT_EQ(bare.kind, VerdictKind::kRestKeyModel);
  EXPECT_EQ(bare.until_ms, kSummerNoon + kDefaultQuotaRestMs);

  // Not JSON at all.
  UpstreamVerdict html = ClassifyGeminiError(429, "<html>Too Many Requests</html>", kSummerNoon);
  EXPECT_EQ(html.kind, VerdictKind::kRestKeyModel);
  EXPECT_EQ(html.status, "RESOURCE_EXHAUSTED");
}

TEST(ClassifyGeminiError, ArrayWrappedError) {
  std::string body = "[" + ReadTestdata("400_api_key_invalid.json") + "]";
  EXPECT_EQ(ClassifyGeminiError(400, body, kSummerNoon).kind, VerdictKind::kQuarantineKey);
}

TEST(ClassifyGeminiError, TransientStatuses) {
  const char* internal =
      R"({"error":{"code":500,"message":"An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting","status":"INTERNAL"}})";
  UpstreamVerdict v = ClassifyGeminiError(500, internal, kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kRetryOtherKey);
  EXPECT_EQ(v.failure, FailureClass::kUpstream);
  EXPECT_EQ(ClassifyGeminiError(504, "", kSummerNoon).failure, FailureClass::kTimeout);
  EXPECT_EQ(ClassifyGeminiError(502, "<html>bad gateway</html>", kSummerNoon).kind,
            VerdictKind::kRetryOtherKey);
  EXPECT_EQ(ClassifyGeminiError(408, "", kSummerNoon).failure, FailureClass::kTimeout);
}

TEST(ClassifyGeminiError, SuccessAndErrorAfter200) {
  EXPECT_TRUE(ClassifyGeminiError(200, R"({"candidates":[]})", kSummerNoon).ok());
  EXPECT_TRUE(ClassifyGeminiError(200, "", kSummerNoon).ok());
  UpstreamVerdict v = ClassifyGeminiError(200, ReadTestdata("503_overloaded.json"), kSummerNoon);
  EXPECT_EQ(v.kind, VerdictKind::kRetryOtherKey);
  EXPECT_EQ(v.http_status, 503);
  EXPECT_EQ(ClassifyGeminiError(200, " [{\"error\":{\"code\":429}}]", kSummerNoon).kind,
            VerdictKind::kRestKeyModel);
}

TEST(ClassifyGeminiError, TruncatedOrHostileBodiesStillClassify) {
  std::string body = ReadTestdata("400_api_key_invalid.json");
  // Cut in the middle of details: ErrorInfo may be lost, the message phrase still says "bad key".
  EXPECT_EQ(ClassifyGeminiError(400, body.substr(0, body.size() / 2), kSummerNoon).kind,
            VerdictKind::kQuarantineKey);
  EXPECT_EQ(ClassifyGeminiError(400, "{\"error\":", kSummerNoon).kind, VerdictKind::kClientError);
  EXPECT_EQ(ClassifyGeminiError(400, R"({"error":{"code":"x","details":7}})", kSummerNoon).kind,
            VerdictKind::kClientError);
  std::string huge(5000, 'x');
  UpstreamVerdict v = ClassifyGeminiError(
      500, R"({"error":{"code":500,"message":")" + huge + R"(","status":"INTERNAL"}})",
      kSummerNoon);
  EXPECT_EQ(v.message.size(), UpstreamVerdict::kMaxMessage);
}

TEST(ClassifyTransportError, NoBlameRetry) {
  UpstreamVerdict v = ClassifyTransportError(TransportFailure::kTimeout);
  EXPECT_EQ(v.kind, VerdictKind::kRetryOtherKey);
  EXPECT_EQ(v.failure, FailureClass::kTimeout);
  EXPECT_TRUE(v.transport);
  EXPECT_EQ(ClassifyTransportError(TransportFailure::kConnectFailed).failure,
            FailureClass::kUpstream);
  EXPECT_EQ(ClassifyTransportError(TransportFailure::kTruncated).http_status, 502);
}

TEST(ParseDurationMs, Forms) {
  EXPECT_EQ(ParseDurationMs("17s"), 17'000);
  EXPECT_EQ(ParseDurationMs("1.5s"), 1'500);
  EXPECT_EQ(ParseDurationMs("0.000000001s"), 1);
  EXPECT_EQ(ParseDurationMs("0s"), 0);
  EXPECT_EQ(ParseDurationMs(".5s"), 500);
  EXPECT_EQ(ParseDurationMs("17"), -1);
  EXPECT_EQ(ParseDurationMs("s"), -1);
  EXPECT_EQ(ParseDurationMs("1x5s"), -1);
  EXPECT_EQ(ParseDurationMs("-1s"), -1);
}

TEST(ResetTime, DailyResetIsSevenUtc) {
  EXPECT_EQ(DailyResetAfter(Utc(2025, 7, 15, 6, 59, 59)), Utc(2025, 7, 15, 7));
  EXPECT_EQ(DailyResetAfter(Utc(2025, 7, 15, 7)), Utc(2025, 7, 16, 7));  // strictly after
  EXPECT_EQ(DailyResetAfter(Utc(2025, 7, 15, 12)), Utc(2025, 7, 16, 7));
  EXPECT_EQ(DailyResetAfter(Utc(2024, 12, 31, 23)), Utc(2025, 1, 1, 7));
  EXPECT_EQ(DailyResetAfter(Utc(2024, 2, 28, 8)), Utc(2024, 2, 29, 7));  // leap day
  EXPECT_EQ(DailyResetAfter(0), Utc(1970, 1, 1, 7));
  EXPECT_EQ(DailyResetAfter(-1), Utc(1970, 1, 1, 7));
}

TEST(ResetTime, QuotaDayFollowsUsDaylightTime) {
  // 2025: DST from Sunday 9 March to Sunday 2 November.
  EXPECT_EQ(QuotaDayResetAfter(Utc(2025, 3, 8, 12)), Utc(2025, 3, 9, 8));   // midnight PST
  EXPECT_EQ(QuotaDayResetAfter(Utc(2025, 3, 9, 12)), Utc(2025, 3, 10, 7));  // midnight PDT
  EXPECT_EQ(QuotaDayResetAfter(Utc(2025, 11, 1, 12)), Utc(2025, 11, 2, 7));
  EXPECT_EQ(QuotaDayResetAfter(Utc(2025, 11, 2, 12)), Utc(2025, 11, 3, 8));
  // Between 07:00 and 08:00 UTC in winter the Pacific day has not ended yet.
  EXPECT_EQ(QuotaDayResetAfter(Utc(2025, 1, 15, 7, 30)), Utc(2025, 1, 15, 8));
  EXPECT_EQ(QuotaDayResetAfter(Utc(2025, 7, 15, 7, 30)), Utc(2025, 7, 16, 7));
}

}  // namespace
}  // namespace ringgate
