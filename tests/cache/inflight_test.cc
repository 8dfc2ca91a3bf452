#include "ringgate/cache/inflight.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringgate {
namespace {

constexpr Fingerprint kFp{0xabcdef};
WaiterId W(uint64_t token, uint32_t core = 0) {
  return WaiterId{core, token};
}

TEST(InFlight, FirstLeadsOthersFollow) {
  InFlightTable t;
  EXPECT_EQ(t.Register(kFp, W(1), 0), InFlightRole::kLeader);
  EXPECT_EQ(t.Register(kFp, W(2), 5), InFlightRole::kFollower);
  EXPECT_EQ(t.Register(kFp, W(3, 2), 6), InFlightRole::kFollower);
  EXPECT_EQ(t.Register(Fingerprint{1}, W(4), 6), InFlightRole::kLeader);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.followers(kFp), 2u);

  std::vector<Wake> wakes;
  EXPECT_TRUE(t.Complete(kFp, W(1), &wakes));
  ASSERT_EQ(wakes.size(), 2u);
  EXPECT_EQ(wakes[0].waiter, W(2));
  EXPECT_EQ(wakes[0].reason, WakeReason::kAnswer);
  EXPECT_EQ(wakes[1].waiter, W(3, 2));
  EXPECT_EQ(t.size(), 1u);
  // The next identical request leads a new round.
  EXPECT_EQ(t.Register(kFp, W(5), 10), InFlightRole::kLeader);
}

TEST(InFlight, PublicModeBypasses) {
  InFlightSettings s;
  s.enabled = false;
  InFlightTable t(s);
  EXPECT_EQ(t.Register(kFp, W(1), 0), InFlightRole::kBypass);
  EXPECT_EQ(t.Register(kFp, W(2), 0), InFlightRole::kBypass);
  EXPECT_EQ(t.size(), 0u);
}

TEST(InFlight, OnlyTheLeaderCompletes) {
  InFlightTable t;
  t.Register(kFp, W(1), 0);
  t.Register(kFp, W(2), 0);
  std::vector<Wake> wakes;
  EXPECT_FALSE(t.Complete(kFp, W(2), &wakes));
  EXPECT_FALSE(t.Complete(Fingerprint{7}, W(1), &wakes));
  EXPECT_TRUE(wakes.empty());
  EXPECT_TRUE(t.Fail(kFp, W(1), &wakes));
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].reason, WakeReason::kLeaderFailed);
}

TEST(InFlight, FollowerTimesOutAfter240s) {
  InFlightTable t;
  t.Register(kFp, W(1), 0);
  t.Register(kFp, W(2), 1000);
  t.Register(kFp, W(3), 100000);
  std::vector<Wake> wakes;
  EXPECT_EQ(t.Expire(240999, &wakes), 0u);
  EXPECT_EQ(t.Expire(241000, &wakes), 1u);
  EXPECT_EQ(wakes[0].waiter, W(2));
  EXPECT_EQ(wakes[0].reason, WakeReason::kTimedOut);
  EXPECT_EQ(t.followers(kFp), 1u);
  // The leader still completes for the one left.
  wakes.clear();
  EXPECT_TRUE(t.Complete(kFp, W(1), &wakes));
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].waiter, W(3));
}

TEST(InFlight, LeaderTimesOutAfter300s) {
  InFlightTable t;
  t.Register(kFp, W(1), 0);
  t.Register(kFp, W(2), 200000);
  std::vector<Wake> wakes;
  EXPECT_EQ(t.Expire(299999, &wakes), 0u);
  EXPECT_EQ(t.Expire(300000, &wakes), 1u);
  EXPECT_EQ(wakes[0].reason, WakeReason::kLeaderTimedOut);
  EXPECT_EQ(t.size(), 0u);
  // A late Complete from the dropped leader is refused.
  wakes.clear();
  EXPECT_FALSE(t.Complete(kFp, W(1), &wakes));
}

TEST(InFlight, CancelledLeaderPromotesOldestFollower) {
  InFlightTable t;
  t.Register(kFp, W(1), 0);
  t.Register(kFp, W(2), 10);
  t.Register(kFp, W(3), 20);
  std::vector<Wake> wakes;
  EXPECT_TRUE(t.CancelLeader(kFp, W(1), 50, &wakes));
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].waiter, W(2));
  EXPECT_EQ(wakes[0].reason, WakeReason::kPromoted);
  EXPECT_EQ(t.followers(kFp), 1u);
  wakes.clear();
  EXPECT_FALSE(t.Complete(kFp, W(1), &wakes));  // the old leader no longer counts
  EXPECT_TRUE(t.Complete(kFp, W(2), &wakes));
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].waiter, W(3));
  // Leader timeout restarts with the promotion.
  t.Register(kFp, W(4), 0);
  t.Register(kFp, W(5), 0);
  wakes.clear();
  t.CancelLeader(kFp, W(4), 100000, &wakes);
  EXPECT_EQ(t.Expire(300000, &wakes), 0u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(InFlight, CancelWithoutFollowersRemoves) {
  InFlightTable t;
  t.Register(kFp, W(1), 0);
  std::vector<Wake> wakes;
  EXPECT_TRUE(t.CancelLeader(kFp, W(1), 1, &wakes));
  EXPECT_TRUE(wakes.empty());
  EXPECT_EQ(t.size(), 0u);
}

TEST(InFlight, CancelledFollowerIsForgotten) {
  InFlightTable t;
  t.Register(kFp, W(1), 0);
  t.Register(kFp, W(2), 0);
  t.Register(kFp, W(3), 0);
  EXPECT_TRUE(t.CancelFollower(kFp, W(2)));
  EXPECT_FALSE(t.CancelFollower(kFp, W(2)));
  std::vector<Wake> wakes;
  t.Complete(kFp, W(1), &wakes);
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].waiter, W(3));
}

TEST(InFlight, BoundsBypass) {
  InFlightSettings s;
  s.max_keys = 2;
  s.max_followers = 1;
  InFlightTable t(s);
  EXPECT_EQ(t.Register(Fingerprint{1}, W(1), 0), InFlightRole::kLeader);
  EXPECT_EQ(t.Register(Fingerprint{2}, W(2), 0), InFlightRole::kLeader);
  EXPECT_EQ(t.Register(Fingerprint{3}, W(3), 0), InFlightRole::kBypass);
  EXPECT_EQ(t.Register(Fingerprint{1}, W(4), 0), InFlightRole::kFollower);
  EXPECT_EQ(t.Register(Fingerprint{1}, W(5), 0), InFlightRole::kBypass);
  EXPECT_EQ(t.Register(Fingerprint{1}, W(1), 0), InFlightRole::kLeader);  // idempotent
}

TEST(InFlight, CrossCoreMessages) {
  InFlightTable owner;  // on core 0
  InFlightRegister r1{kFp, W(1, 1)};
  InFlightRegister r2{kFp, W(2, 3)};
  EXPECT_EQ(ApplyInFlightRegister(owner, r1, 0).role, InFlightRole::kLeader);
  InFlightRegisterReply reply = ApplyInFlightRegister(owner, r2, 0);
  EXPECT_EQ(reply.role, InFlightRole::kFollower);
  EXPECT_EQ(reply.who, W(2, 3));

  InFlightDone done{kFp, W(1, 1), true, false, "{\"id\":\"x\"}"};
  std::vector<InFlightWake> out;
  EXPECT_TRUE(ApplyInFlightDone(owner, done, 10, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].wake.waiter.core, 3u);
  EXPECT_EQ(out[0].wake.reason, WakeReason::kAnswer);
  EXPECT_EQ(out[0].answer, "{\"id\":\"x\"}");

  // Cancellation through the message: promotion carries no answer.
  ApplyInFlightRegister(owner, r1, 20);
  ApplyInFlightRegister(owner, r2, 20);
  out.clear();
  InFlightDone cancel{kFp, W(1, 1), false, true, ""};
  EXPECT_TRUE(ApplyInFlightDone(owner, cancel, 30, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].wake.reason, WakeReason::kPromoted);
  EXPECT_TRUE(out[0].answer.empty());
}

}  // namespace
}  // namespace ringgate
