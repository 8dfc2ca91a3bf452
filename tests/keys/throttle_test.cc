// IpThrottleDetector: distinct keys answering 429 within the window.
#include "ringgate/keys/throttle.h"

#include <gtest/gtest.h>

namespace ringgate {
namespace {

constexpr int64_t kT0 = 1'750'000'000'000;

TEST(IpThrottleDetector, TripsOnDistinctKeysAndFraction) {
  IpThrottleDetector d;  // 5 keys and 50 %, 10 s, 30 s backoff
  for (uint32_t k = 0; k < 4; ++k)
    EXPECT_FALSE(d.Record(k, true, 0, kT0 + k).has_value());
  // The same key again does not count twice.
  EXPECT_FALSE(d.Record(3, true, 0, kT0 + 10).has_value());
  EXPECT_EQ(d.distinct_keys_429(), 4u);
  auto until = d.Record(4, true, 0, kT0 + 20);
  ASSERT_TRUE(until.has_value());
  EXPECT_EQ(*until, kT0 + 20 + 30'000);
  EXPECT_TRUE(d.active(kT0 + 1000));
  EXPECT_FALSE(d.active(kT0 + 20 + 30'000));
  // The window starts empty after a trip; answers during the backoff are ignored.
  EXPECT_EQ(d.distinct_keys(), 0u);
  EXPECT_FALSE(d.Record(9, true, 0, kT0 + 2000).has_value());
  EXPECT_EQ(d.distinct_keys(), 0u);
}

TEST(IpThrottleDetector, ManySuccessfulKeysKeepItQuiet) {
  IpThrottleDetector d;
  for (uint32_t k = 0; k < 20; ++k)
    d.Record(100 + k, false, 0, kT0);
  // 6 distinct 429s out of 26 keys: below 50 %.
  for (uint32_t k = 0; k < 6; ++k)
    EXPECT_FALSE(d.Record(k, true, 0, kT0 + 1).has_value());
  EXPECT_EQ(d.distinct_keys_429(), 6u);
}

TEST(IpThrottleDetector, WindowSlides) {
  IpThrottleDetector d;
  for (uint32_t k = 0; k < 4; ++k)
    d.Record(k, true, 0, kT0);
  // 10 s later the first four have left the window.
  EXPECT_FALSE(d.Record(4, true, 0, kT0 + 10'000).has_value());
  EXPECT_EQ(d.distinct_keys_429(), 1u);
}

TEST(IpThrottleDetector, Configurable) {
  ThrottleOptions o;
  o.min_distinct_keys = 2;
  o.min_fraction = 0;
  o.window_ms = 1000;
  o.backoff_ms = 5000;
  o.max_backoff_ms = 20'000;
  IpThrottleDetector d(o);
  for (uint32_t k = 0; k < 50; ++k)
    d.Record(100 + k, false, 0, kT0);
  d.Record(1, true, 0, kT0);
  auto until = d.Record(2, true, 60'000, kT0);  // a long RetryInfo, capped
  ASSERT_TRUE(until.has_value());
  EXPECT_EQ(*until, kT0 + 20'000);
}

TEST(IpThrottleDetector, VerdictsCountOnlyPerMinuteQuota) {
  IpThrottleDetector d;
  UpstreamVerdict per_day;
  per_day.kind = VerdictKind::kRestKeyModelUntilDailyReset;
  per_day.failure = FailureClass::kQuota;
  for (uint32_t k = 0; k < 10; ++k)
    EXPECT_FALSE(d.Record(k, per_day, kT0).has_value());
  EXPECT_EQ(d.distinct_keys_429(), 0u);

  IpThrottleDetector e;
  UpstreamVerdict per_minute;
  per_minute.kind = VerdictKind::kRestKeyModel;
  per_minute.failure = FailureClass::kQuota;
  UpstreamVerdict transport = ClassifyTransportError(TransportFailure::kTimeout);
  for (uint32_t k = 0; k < 10; ++k)
    e.Record(100 + k, transport, kT0);
  EXPECT_EQ(e.distinct_keys(), 0u);
  std::optional<int64_t> tripped;
  for (uint32_t k = 0; k < 5; ++k)
    tripped = e.Record(k, per_minute, kT0);
  EXPECT_TRUE(tripped.has_value());
}

}  // namespace
}  // namespace ringgate
