// The admin module's pure parts: session tokens and their revocation, the sign-in slow-down, the
// minute statistics, the settings registry and the dashboard query.
#include <gtest/gtest.h>

#include <string>

#include "ringgate/admin/admin_service.h"
#include "ringgate/admin/call_stats.h"
#include "ringgate/admin/session.h"
#include "ringgate/admin/settings_registry.h"

namespace ringgate {
namespace {

constexpr int64_t kNow = 1'760'000'000'000;

TEST(SessionToken, VerifiesUntilExpiryAndRejectsTampering) {
  SessionClaims issued;
  std::string token = IssueSessionToken(kNow, &issued);
  std::optional<SessionClaims> claims = VerifySessionToken(token, kNow + 1000);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->id, issued.id);
  EXPECT_EQ(claims->issued_ms, kNow);
  EXPECT_EQ(claims->expires_ms, kNow + kSessionLifetimeMs);
  EXPECT_FALSE(VerifySessionToken(token, kNow + kSessionLifetimeMs));
  for (size_t i = 0; i < token.size(); i += 7) {
    std::string forged = token;
    forged[i] = forged[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(VerifySessionToken(forged, kNow)) << i;
  }
  EXPECT_FALSE(VerifySessionToken(token.substr(1), kNow));
  EXPECT_FALSE(VerifySessionToken("", kNow));
  EXPECT_NE(IssueSessionToken(kNow), token) << "each session has its own id";
}

TEST(SessionToken, CookieValueFindsTheNamedCookie) {
  EXPECT_EQ(CookieValue("a=1; ringgate_session=xyz; b=2", "ringgate_session"), "xyz");
  EXPECT_EQ(CookieValue("ringgate_session=xyz", "ringgate_session"), "xyz");
  EXPECT_EQ(CookieValue("x_ringgate_session=xyz", "ringgate_session"), "");
  EXPECT_EQ(CookieValue("", "ringgate_session"), "");
}

TEST(SessionRevocations, RevokedUntilExpiryAndBoundedByNotBefore) {
  SessionRevocations revocations;
  SessionClaims a;
  SessionClaims b;
  IssueSessionToken(kNow, &a);
  IssueSessionToken(kNow, &b);
  revocations.Revoke(a, kNow);
  EXPECT_TRUE(revocations.IsRevoked(a));
  EXPECT_FALSE(revocations.IsRevoked(b));
  for (size_t i = 0; i < SessionRevocations::kMaxRevocations + 5; ++i) {
    SessionClaims c;
    IssueSessionToken(kNow + 10, &c);
    revocations.Revoke(c, kNow + 20);
  }
  EXPECT_LE(revocations.size(), SessionRevocations::kMaxRevocations);
  // Overflow revoked every session issued so far, the unrevoked one included (fails safe)...
  EXPECT_TRUE(revocations.IsRevoked(b));
  // ...but not the ones issued afterwards.
  SessionClaims later;
  IssueSessionToken(kNow + 1000, &later);
  EXPECT_FALSE(revocations.IsRevoked(later));
}

IpAddress Ip(const char* text) {
  return *IpAddress::Parse(text);
}

TEST(LoginThrottle, BlocksAfterFreeFailuresWithDoublingDelays) {
  LoginThrottle throttle(42);
  IpAddress ip = Ip("10.0.0.1");
  for (uint32_t i = 0; i + 1 < LoginThrottle::kFreeFailures; ++i) {
    throttle.RecordFailure(ip, kNow);
    EXPECT_EQ(throttle.BlockedFor(ip, kNow), 0);
  }
  throttle.RecordFailure(ip, kNow);
  EXPECT_EQ(throttle.BlockedFor(ip, kNow), 1000);
  EXPECT_EQ(throttle.BlockedFor(Ip("10.0.0.2"), kNow), 0) << "per IP";
  throttle.RecordFailure(ip, kNow + 1000);
  EXPECT_EQ(throttle.BlockedFor(ip, kNow + 1000), 2000);
  for (int i = 0; i < 30; ++i)
    throttle.RecordFailure(ip, kNow + 2000);
  EXPECT_EQ(throttle.BlockedFor(ip, kNow + 2000), LoginThrottle::kMaxBlockMs);
  throttle.RecordSuccess(ip);
  EXPECT_EQ(throttle.BlockedFor(ip, kNow + 2000), 0);
  EXPECT_EQ(throttle.failures(ip, kNow + 2000), 0u);
  throttle.RecordFailure(ip, kNow);
  EXPECT_EQ(throttle.failures(ip, kNow + LoginThrottle::kForgetMs), 0u) << "forgotten";
}

TEST(LoginThrottle, MemoryIsBoundedHoweverManyAddressesFail) {
  LoginThrottle throttle(7);
  for (uint32_t i = 0; i < 100'000; ++i)
    throttle.RecordFailure(IpAddress::V4(0x0A000000 + i), kNow + i);
  EXPECT_LE(throttle.size(), LoginThrottle::kCapacity);
  // The most recent failer is tracked.
  EXPECT_EQ(throttle.failures(IpAddress::V4(0x0A000000 + 99'999), kNow + 100'000), 1u);
}

TEST(CallStats, CountsPerMinuteMergesAndResets) {
  CallStats stats;
  int64_t minute = kNow / 60'000;
  stats.Record(kNow, 10);
  stats.Record(kNow + 1, 5);
  stats.Record(kNow + 60'000, 1);
  EXPECT_EQ(stats.Minute(minute).calls, 2u);
  EXPECT_EQ(stats.Minute(minute).tokens, 15u);
  EXPECT_EQ(stats.Sum(minute, minute + 1).calls, 3u);
  std::vector<MinuteCount> deltas;
  stats.TakeDeltas(&deltas);
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[0].calls, 2u);
  EXPECT_FALSE(stats.has_pending());

  CallStats other;
  other.Merge(0, deltas, kNow + 60'000);
  EXPECT_EQ(other.Sum(minute, minute + 1).tokens, 16u);
  other.Reset(1);
  EXPECT_EQ(other.Sum(minute - 5, minute + 5).calls, 0u);
  other.Merge(0, deltas, kNow + 60'000);  // counted before the reset: dropped
  EXPECT_EQ(other.Sum(minute - 5, minute + 5).calls, 0u);
  // A day and a minute later, the new minute takes the old one's bucket.
  stats.Record(kNow + CallStats::kMinutes * 60'000LL, 1);
  EXPECT_EQ(stats.Minute(minute).calls, 0u);
  EXPECT_EQ(stats.Minute(minute + CallStats::kMinutes).calls, 1u);
  // A late delta for a minute that has left the window is dropped.
  CallStats late;
  late.Merge(0, {MinuteCount{minute, 3, 3}}, kNow + CallStats::kMinutes * 60'000LL);
  EXPECT_EQ(late.Minute(minute).calls, 0u);
}

TEST(SettingsRegistry, SourcesFromEnvironmentAndDefaults) {
  Config config;
  config.max_retry_num = 9;  // a flag set it
  SettingsRegistry registry =
      SettingsRegistry::FromConfig(config, [](std::string_view name) -> std::optional<std::string> {
        if (name == "FAKE_STREAMING")
          return "true";
        return std::nullopt;
      });
  EXPECT_EQ(registry.values().source_of(SettingId::kMaxRetryNum), SettingSource::kEnv);
  EXPECT_EQ(registry.values().source_of(SettingId::kFakeStreaming), SettingSource::kEnv);
  EXPECT_EQ(registry.values().source_of(SettingId::kRandomString), SettingSource::kDefault);
  EXPECT_EQ(registry.values().max_retry_num, 9u);
}

TEST(SettingsRegistry, ApplyValidatesAndNeverHalfApplies) {
  SettingsRegistry registry;
  EXPECT_EQ(registry.ApplyJson("max_retry_num", "4", SettingSource::kRuntime), "");
  EXPECT_EQ(registry.values().max_retry_num, 4u);
  EXPECT_EQ(registry.values().source_of(SettingId::kMaxRetryNum), SettingSource::kRuntime);
  EXPECT_EQ(registry.ApplyJson("MAX_RETRY_NUM", "\"6\"", SettingSource::kRuntime), "");
  EXPECT_EQ(registry.values().max_retry_num, 6u);
  for (const char* bad : {"0", "1.5", "true", "\"x\"", "null", "[]", "", "1e99"}) {
    EXPECT_NE(registry.ApplyJson("max_retry_num", bad, SettingSource::kRuntime), "") << bad;
    EXPECT_EQ(registry.values().max_retry_num, 6u) << bad;
  }
  EXPECT_EQ(registry.ApplyJson("fake_streaming_interval", "0.25", SettingSource::kRuntime), "");
  EXPECT_EQ(registry.values().fake_streaming_interval_ms, 250u);
  EXPECT_NE(registry.ApplyJson("fake_streaming_interval", "0", SettingSource::kRuntime), "");
  EXPECT_NE(registry.ApplyJson("fake_streaming", "1", SettingSource::kRuntime), "");
  EXPECT_EQ(registry.ApplyJson("search_prompt", "\"q\"", SettingSource::kRuntime), "");
  EXPECT_EQ(registry.values().search_prompt, "q");
  EXPECT_NE(registry.ApplyJson("no_such_thing", "1", SettingSource::kRuntime), "");
}

TEST(SettingsRegistry, SnapshotRoundTrips) {
  SettingsRegistry a;
  a.ApplyJson("random_string_length", "9", SettingSource::kRuntime);
  a.ApplyJson("search_prompt", "\"say \\\"hi\\\"\"", SettingSource::kRuntime);
  a.ApplyJson("fake_streaming_interval", "1.5", SettingSource::kRuntime);
  SettingsRegistry b;
  for (const auto& [name, json] : a.Snapshot())
    EXPECT_EQ(b.ApplyJson(name, json, SettingSource::kRuntime), "") << name << "=" << json;
  EXPECT_EQ(b.Snapshot(), a.Snapshot());
  EXPECT_EQ(b.values().search_prompt, "say \"hi\"");
  EXPECT_EQ(a.Snapshot().size(), kSettingCount);
}

TEST(DashboardQuery, ParsesPagingAndFilter) {
  Result<DashboardQuery> none = ParseDashboardQuery("");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->paged);
  Result<DashboardQuery> q = ParseDashboardQuery("key_page=3&key_page_size=20&key_state=resting");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->paged);
  EXPECT_EQ(q->page, 3u);
  EXPECT_EQ(q->page_size, 20u);
  EXPECT_EQ(q->filter, DashboardQuery::Filter::kResting);
  EXPECT_FALSE(ParseDashboardQuery("key_page=0"));
  EXPECT_FALSE(ParseDashboardQuery("key_state=bogus"));
  EXPECT_FALSE(ParseDashboardQuery("key_page_size=-1"));
}

}  // namespace
}  // namespace ringgate
