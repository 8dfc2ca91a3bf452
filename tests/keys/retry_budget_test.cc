// RetryBudget: exact try counting and the final status when every try failed.
#include "ringgate/keys/retry_budget.h"

#include <gtest/gtest.h>

namespace ringgate {
namespace {

constexpr int64_t kT0 = 1'750'000'000'000;

UpstreamVerdict Verdict(VerdictKind kind, FailureClass failure, int status, int64_t until = 0) {
  UpstreamVerdict v;
  v.kind = kind;
  v.failure = failure;
  v.http_status = status;
  v.until_ms = until;
  v.status = "S";
  v.message = "m" + std::to_string(status);
  return v;
}

UpstreamVerdict Quota(int64_t until) {
  return Verdict(VerdictKind::kRestKeyModel, FailureClass::kQuota, 429, until);
}
UpstreamVerdict Overloaded() {
  return Verdict(VerdictKind::kRetryOtherKey, FailureClass::kOverloaded, 503);
}
UpstreamVerdict BadKey() {
  return Verdict(VerdictKind::kQuarantineKey, FailureClass::kKeyRejected, 400);
}

TEST(RetryBudget, CountsTriesExactly) {
  RetryBudget b(3);
  EXPECT_EQ(b.BatchSize(5), 3u);
  EXPECT_TRUE(b.BeginAttempt(10));
  EXPECT_FALSE(b.BeginAttempt(10));  // same key: not a new try
  EXPECT_EQ(b.tries(), 1u);
  EXPECT_EQ(b.BatchSize(1), 1u);
  EXPECT_EQ(b.BatchSize(0), 1u);
  EXPECT_TRUE(b.BeginAttempt(11));
  EXPECT_TRUE(b.BeginAttempt(12));
  EXPECT_TRUE(b.exhausted());
  EXPECT_FALSE(b.BeginAttempt(13));
  EXPECT_EQ(b.tries(), 3u);
  EXPECT_EQ(b.remaining(), 0u);
  EXPECT_EQ(b.BatchSize(4), 0u);
  EXPECT_TRUE(b.tried().Contains(12));
  EXPECT_FALSE(b.tried().Contains(13));
  EXPECT_TRUE(b.done());
  EXPECT_EQ(RetryBudget(0).max_tries(), 1u);
}

TEST(RetryBudget, WithAPoolTriesDistinctKeysUpToTheBudget) {
  KeyPoolShard pool(KeyPoolOptions{}, 7, kT0);
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i)
    keys.push_back("k" + std::to_string(i));
  pool.AddKeys(keys);
  ModelId m = pool.InternModel("m");
  RetryBudget b(15);
  int sent = 0;
  while (!b.done()) {
    PickResult p = pool.Pick(m, kT0, b.tried());
    if (!p.ok()) {
      b.RecordPickFailure(p, kT0);
      break;
    }
    ASSERT_TRUE(b.BeginAttempt(p.key));
    ++sent;
    b.RecordOutcome(Overloaded());
  }
  EXPECT_EQ(sent, 15);
  EXPECT_EQ(b.tried().size(), 15u);
  FinalError f = b.Final(kT0);
  EXPECT_EQ(f.http_status, 503);
  EXPECT_NE(f.message.find("all 15 upstream attempts failed (15 overloaded (503))"),
            std::string::npos)
      << f.message;
}

TEST(RetryBudget, AllQuotaIs429WithEarliestEnd) {
  RetryBudget b(3);
  b.BeginAttempt(1);
  b.RecordOutcome(Quota(kT0 + 40'000));
  b.BeginAttempt(2);
  b.RecordOutcome(Quota(kT0 + 17'500));
  b.BeginAttempt(3);
  b.RecordOutcome(Verdict(VerdictKind::kRestKeyModelUntilDailyReset, FailureClass::kQuota, 429,
                          kT0 + 3'600'000));
  FinalError f = b.Final(kT0);
  EXPECT_EQ(f.http_status, 429);
  EXPECT_EQ(f.retry_after_ms, 17'500);
  EXPECT_EQ(f.retry_after_seconds(), 18);
}

TEST(RetryBudget, MixedOutcomes) {
  {
    RetryBudget b(3);
    b.BeginAttempt(1);
    b.RecordOutcome(Quota(kT0 + 1000));
    b.BeginAttempt(2);
    b.RecordOutcome(Overloaded());
    EXPECT_EQ(b.Final(kT0).http_status, 503);
  }
  {
    RetryBudget b(3);
    b.BeginAttempt(1);
    b.RecordOutcome(ClassifyTransportError(TransportFailure::kTimeout));
    b.BeginAttempt(2);
    b.RecordOutcome(ClassifyTransportError(TransportFailure::kConnectFailed));
    EXPECT_EQ(b.Final(kT0).http_status, 504);
  }
  {
    RetryBudget b(2);
    b.BeginAttempt(1);
    b.RecordOutcome(ClassifyTransportError(TransportFailure::kConnectionReset));
    b.BeginAttempt(2);
    b.RecordEmpty();
    EXPECT_EQ(b.Final(kT0).http_status, 502);
  }
  {
    RetryBudget b(2);
    b.BeginAttempt(1);
    b.RecordOutcome(BadKey());
    b.BeginAttempt(2);
    b.RecordOutcome(Quota(kT0 + 5000));
    FinalError f = b.Final(kT0);
    EXPECT_EQ(f.http_status, 429);
    EXPECT_EQ(f.retry_after_ms, 5000);
  }
  {
    RetryBudget b(2);
    b.BeginAttempt(1);
    b.RecordOutcome(BadKey());
    b.BeginAttempt(2);
    b.RecordOutcome(BadKey());
    FinalError f = b.Final(kT0);
    EXPECT_EQ(f.http_status, 503);
    EXPECT_EQ(f.retry_after_ms, 0);
    EXPECT_NE(f.message.find("2 key rejected"), std::string::npos) << f.message;
  }
}

TEST(RetryBudget, ClientErrorEndsTheRequestWithItsStatus) {
  RetryBudget b(5);
  b.BeginAttempt(1);
  b.RecordOutcome(Overloaded());
  EXPECT_FALSE(b.done());
  b.BeginAttempt(2);
  UpstreamVerdict v = Verdict(VerdictKind::kClientError, FailureClass::kClient, 404);
  v.message = "models/x is not found";
  b.RecordOutcome(v);
  EXPECT_TRUE(b.done());
  b.RecordOutcome(Overloaded());  // a concurrent sibling finishing later
  FinalError f = b.Final(kT0);
  EXPECT_EQ(f.http_status, 404);
  EXPECT_EQ(f.message, "models/x is not found");
}

TEST(RetryBudget, SuccessIsDone) {
  RetryBudget b(5);
  b.BeginAttempt(1);
  b.RecordOutcome(UpstreamVerdict{});
  EXPECT_TRUE(b.succeeded());
  EXPECT_TRUE(b.done());
}

TEST(RetryBudget, NoKeyToTry) {
  {
    RetryBudget b(5);
    PickResult p;
    p.status = PickStatus::kAllResting;
    p.retry_after_ms = 12'000;
    b.RecordPickFailure(p, kT0);
    EXPECT_TRUE(b.done());
    FinalError f = b.Final(kT0);
    EXPECT_EQ(f.http_status, 429);
    EXPECT_EQ(f.retry_after_ms, 12'000);
  }
  {
    RetryBudget b(5);
    PickResult p;
    p.status = PickStatus::kThrottled;
    p.retry_after_ms = 30'000;
    b.RecordPickFailure(p, kT0);
    FinalError f = b.Final(kT0 + 10'000);
    EXPECT_EQ(f.http_status, 429);
    EXPECT_EQ(f.retry_after_ms, 20'000);
  }
  {
    RetryBudget b(5);
    PickResult p;
    p.status = PickStatus::kNoKey;
    b.RecordPickFailure(p, kT0);
    EXPECT_EQ(b.Final(kT0).http_status, 503);
  }
  {
    // Two quota answers, then every other key rests: 429 with the earliest of all ends.
    RetryBudget b(5);
    b.BeginAttempt(1);
    b.RecordOutcome(Quota(kT0 + 60'000));
    PickResult p;
    p.status = PickStatus::kAllResting;
    p.retry_after_ms = 8'000;
    b.RecordPickFailure(p, kT0);
    FinalError f = b.Final(kT0);
    EXPECT_EQ(f.http_status, 429);
    EXPECT_EQ(f.retry_after_ms, 8'000);
  }
}

}  // namespace
}  // namespace ringgate
