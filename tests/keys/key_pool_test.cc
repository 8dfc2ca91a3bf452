// KeyPoolShard: shuffled-stack fairness, rest and quarantine with an injected clock, per-model
// isolation, the soft daily limit, daily reset, usage publication between shards, O(1) picks
// with most keys resting; ModelRegistry; UsageCounters.
#include "ringgate/keys/key_pool.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ringgate/keys/reset_time.h"

namespace ringgate {
namespace {

const int64_t kT0 = DaysFromCivil(2025, 7, 15) * kMillisPerDay + 12 * 3'600'000LL;  // 12:00 UTC

std::vector<std::string> Keys(size_t n) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i)
    keys.push_back("key-" + std::to_string(i));
  return keys;
}

struct Pool {
  explicit Pool(size_t n, int64_t daily_limit = 0, uint64_t seed = 1)
      : shard(Opts(daily_limit), seed, kT0) {
    keys = Keys(n);
    shard.AddKeys(keys);
  }
  static KeyPoolOptions Opts(int64_t daily_limit) {
    KeyPoolOptions o;
    o.daily_limit = daily_limit;
    return o;
  }
  std::vector<std::string> keys;
  KeyPoolShard shard;
};

TEST(ExcludeSet, InlineAndOverflow) {
  ExcludeSet s;
  for (uint32_t i = 0; i < 40; ++i)
    EXPECT_TRUE(s.Insert(i * 3));
  EXPECT_FALSE(s.Insert(3));
  EXPECT_EQ(s.size(), 40u);
  EXPECT_TRUE(s.Contains(117));
  EXPECT_FALSE(s.Contains(118));
  s.Clear();
  EXPECT_TRUE(s.empty());
}

TEST(ModelRegistry, InternsAndCaps) {
  ModelRegistry r(4);
  ModelId a = r.Intern("gemini-2.5-flash");
  EXPECT_NE(a, ModelRegistry::kOverflow);
  EXPECT_EQ(r.Intern("gemini-2.5-flash"), a);
  EXPECT_EQ(r.Find("gemini-2.5-flash"), a);
  EXPECT_FALSE(r.Find("nope").has_value());
  EXPECT_EQ(r.Name(a), "gemini-2.5-flash");
  ModelId b = r.Intern("b");
  ModelId c = r.Intern("c");
  EXPECT_NE(b, c);
  EXPECT_EQ(r.Intern("d"), ModelRegistry::kOverflow);  // full: shared bucket
  EXPECT_EQ(r.Name(ModelRegistry::kOverflow), "(other)");
  std::string long_name(100, 'm');
  ModelRegistry big;
  ModelId l = big.Intern(long_name);
  EXPECT_EQ(big.Name(l).size(), ModelName::kMax);
  EXPECT_EQ(big.Intern(long_name.substr(0, ModelName::kMax)), l);
}

TEST(KeyPoolShard, EveryHealthyKeyOncePerCycle) {
  Pool p(50);
  ModelId m = p.shard.InternModel("gemini-2.5-flash");
  ExcludeSet none;
  std::vector<uint32_t> first_cycle;
  for (int cycle = 0; cycle < 5; ++cycle) {
    std::set<uint32_t> seen;
    std::vector<uint32_t> order;
    for (int i = 0; i < 50; ++i) {
      PickResult r = p.shard.Pick(m, kT0, none);
      ASSERT_TRUE(r.ok());
      EXPECT_TRUE(seen.insert(r.key).second) << "key " << r.key << " twice in cycle " << cycle;
      order.push_back(r.key);
    }
    EXPECT_EQ(seen.size(), 50u);
    if (cycle == 0) {
      first_cycle = order;
    } else {
      EXPECT_NE(order, first_cycle);  // reshuffled (50! permutations)
    }
  }
}

TEST(KeyPoolShard, SeedsGiveDifferentOrders) {
  Pool a(20, 0, 1), b(20, 0, 2);
  ModelId ma = a.shard.InternModel("m"), mb = b.shard.InternModel("m");
  std::vector<uint32_t> oa, ob;
  for (int i = 0; i < 20; ++i) {
    oa.push_back(a.shard.Pick(ma, kT0, {}).key);
    ob.push_back(b.shard.Pick(mb, kT0, {}).key);
  }
  EXPECT_NE(oa, ob);
}

TEST(KeyPoolShard, TriedKeysAreSkippedAndKeepTheirTurn) {
  Pool p(5);
  ModelId m = p.shard.InternModel("m");
  ExcludeSet tried;
  std::set<uint32_t> got;
  for (int i = 0; i < 5; ++i) {
    PickResult r = p.shard.Pick(m, kT0, tried);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(tried.Contains(r.key));
    tried.Insert(r.key);
    got.insert(r.key);
  }
  EXPECT_EQ(got.size(), 5u);
  PickResult none = p.shard.Pick(m, kT0, tried);
  EXPECT_EQ(none.status, PickStatus::kNoKey);

  // Request A tried key k; the next pick of another request still gets every key once.
  Pool q(6);
  ModelId mq = q.shard.InternModel("m");
  ExcludeSet a;
  PickResult first = q.shard.Pick(mq, kT0, a);
  a.Insert(first.key);
  PickResult second = q.shard.Pick(mq, kT0, a);  // may pop tried keys: they go back
  ASSERT_TRUE(second.ok());
  std::set<uint32_t> rest;
  for (int i = 0; i < 4; ++i)
    rest.insert(q.shard.Pick(mq, kT0, {}).key);
  EXPECT_EQ(rest.size(), 4u);
  EXPECT_FALSE(rest.count(first.key));
  EXPECT_FALSE(rest.count(second.key));
}

TEST(KeyPoolShard, QuarantineAndRestore) {
  Pool p(3);
  ModelId m = p.shard.InternModel("m");
  p.shard.Apply(HealthEvent::Quarantine(1));
  p.shard.Apply(HealthEvent::Quarantine(1));  // idempotent
  EXPECT_TRUE(p.shard.IsQuarantined(1));
  EXPECT_EQ(p.shard.ActiveCount(), 2u);
  for (int i = 0; i < 20; ++i)
    EXPECT_NE(p.shard.Pick(m, kT0, {}).key, 1u);
  EXPECT_EQ(p.shard.QuarantinedKeys(), (std::vector<std::string>{"key-1"}));
  EXPECT_EQ(p.shard.ActiveKeys(), (std::vector<std::string>{"key-0", "key-2"}));

  p.shard.Apply(HealthEvent::Restore(1));
  std::set<uint32_t> seen;
  for (int i = 0; i < 30; ++i)
    seen.insert(p.shard.Pick(m, kT0, {}).key);
  EXPECT_EQ(seen.size(), 3u);

  p.shard.Apply(HealthEvent::Quarantine(0));
  p.shard.Apply(HealthEvent::Quarantine(1));
  p.shard.Apply(HealthEvent::Quarantine(2));
  EXPECT_EQ(p.shard.Pick(m, kT0, {}).status, PickStatus::kNoKey);
  p.shard.Apply(HealthEvent::Quarantine(99));  // unknown key: ignored
}

TEST(KeyPoolShard, RestEndsWithTheClockAndIsPerModel) {
  Pool p(2);
  ModelId a = p.shard.InternModel("model-a");
  ModelId b = p.shard.InternModel("model-b");
  p.shard.Apply(HealthEvent::Rest(0, "model-a", kT0 + 26'000));
  EXPECT_EQ(p.shard.RestUntil(0, a), kT0 + 26'000);
  EXPECT_EQ(p.shard.RestUntil(0, b), 0);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(p.shard.Pick(a, kT0 + 1000, {}).key, 1u);
  }
  // Model B still uses both keys.
  std::set<uint32_t> seen;
  for (int i = 0; i < 10; ++i)
    seen.insert(p.shard.Pick(b, kT0 + 1000, {}).key);
  EXPECT_EQ(seen.size(), 2u);

  // Rest both for A: all resting, Retry-After to the first end.
  p.shard.Apply(HealthEvent::Rest(1, "model-a", kT0 + 60'000));
  PickResult r = p.shard.Pick(a, kT0 + 1000, {});
  EXPECT_EQ(r.status, PickStatus::kAllResting);
  EXPECT_EQ(r.retry_after_ms, 25'000);
  // A shorter rest does not shorten a longer one; a longer one extends it.
  p.shard.Apply(HealthEvent::Rest(0, "model-a", kT0 + 5'000));
  EXPECT_EQ(p.shard.RestUntil(0, a), kT0 + 26'000);
  p.shard.Apply(HealthEvent::Rest(0, "model-a", kT0 + 30'000));
  EXPECT_EQ(p.shard.Pick(a, kT0 + 26'000, {}).status, PickStatus::kAllResting);
  PickResult back = p.shard.Pick(a, kT0 + 30'000, {});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.key, 0u);
  EXPECT_EQ(p.shard.RestUntil(0, a), 0);
  EXPECT_EQ(p.shard.RestingCount(a, kT0 + 30'000), 1u);
  EXPECT_EQ(p.shard.ReadyCount(a, kT0 + 60'000), 2u);
}

TEST(KeyPoolShard, QuarantinedKeyStaysOutAfterItsRestEnds) {
  Pool p(2);
  ModelId a = p.shard.InternModel("a");
  p.shard.Apply(HealthEvent::Rest(0, "a", kT0 + 1000));
  p.shard.Apply(HealthEvent::Quarantine(0));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(p.shard.Pick(a, kT0 + 2000, {}).key, 1u);
  p.shard.Apply(HealthEvent::Quarantine(1));
  EXPECT_EQ(p.shard.Pick(a, kT0 + 2000, {}).status, PickStatus::kNoKey);
}

TEST(KeyPoolShard, RestForAModelNotPickedYet) {
  Pool p(3);
  p.shard.Apply(HealthEvent::Rest(2, "later", kT0 + 10'000));
  ModelId later = p.shard.InternModel("later");
  for (int i = 0; i < 10; ++i)
    EXPECT_NE(p.shard.Pick(later, kT0, {}).key, 2u);
}

TEST(KeyPoolShard, KeyBackFromRestRejoinsTheCycleOnce) {
  Pool p(4);
  ModelId m = p.shard.InternModel("m");
  // Take key 0 out and back several times within one cycle: it must not gain extra turns.
  std::map<uint32_t, int> counts;
  int64_t t = kT0;
  for (int i = 0; i < 400; ++i) {
    if (i % 3 == 0) {
      p.shard.Apply(HealthEvent::Rest(0, "m", t + 1));
    }
    t += 2;
    PickResult r = p.shard.Pick(m, t, {});
    ASSERT_TRUE(r.ok());
    ++counts[r.key];
  }
  // Keys 1-3 are never resting: equal turns within one cycle's slack.
  EXPECT_LE(counts[0], counts[1] + 1);
  EXPECT_LE(
      std::max({counts[1], counts[2], counts[3]}) - std::min({counts[1], counts[2], counts[3]}), 1);
}

// A key popped while resting has not had its turn: back within the same cycle, it gets it before
// the cycle ends. A twin pool with the same seed shows the order the cycle will pop keys in.
TEST(KeyPoolShard, KeySkippedWhileRestingGetsItsTurnInTheSameCycle) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    Pool twin(4, 0, seed), p(4, 0, seed);
    ModelId mt = twin.shard.InternModel("m"), m = p.shard.InternModel("m");
    std::vector<uint32_t> order;
    for (int i = 0; i < 4; ++i)
      order.push_back(twin.shard.Pick(mt, kT0, {}).key);

    std::set<uint32_t> cycle;
    cycle.insert(p.shard.Pick(m, kT0, {}).key);  // order[0]
    p.shard.Apply(HealthEvent::Rest(order[1], "m", kT0 + 5));
    PickResult second = p.shard.Pick(m, kT0 + 1, {});  // pops order[1] resting, skips it
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second.key, order[2]) << "seed " << seed;
    cycle.insert(second.key);
    // order[1] is back: the cycle's two remaining turns are order[1]'s and order[3]'s.
    cycle.insert(p.shard.Pick(m, kT0 + 6, {}).key);
    cycle.insert(p.shard.Pick(m, kT0 + 7, {}).key);
    EXPECT_EQ(cycle.size(), 4u) << "seed " << seed;
  }
}

TEST(KeyPoolShard, SoftDailyLimit) {
  Pool p(3, /*daily_limit=*/2);
  ModelId m = p.shard.InternModel("m");
  p.shard.RecordUsage(0, m, 10, kT0);
  p.shard.RecordUsage(0, m, 10, kT0);
  EXPECT_TRUE(p.shard.IsOverDailyLimit(0));
  for (int i = 0; i < 10; ++i) {
    PickResult r = p.shard.Pick(m, kT0, {});
    ASSERT_TRUE(r.ok());
    EXPECT_NE(r.key, 0u);
    EXPECT_FALSE(r.over_daily_limit);
  }
  // All over the limit: one is used anyway (HAJIMI's soft limit).
  for (uint32_t k : {1u, 2u}) {
    p.shard.RecordUsage(k, m, 1, kT0);
    p.shard.RecordUsage(k, m, 1, kT0);
  }
  std::set<uint32_t> seen;
  for (int i = 0; i < 60; ++i) {
    PickResult r = p.shard.Pick(m, kT0, {});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.over_daily_limit);
    seen.insert(r.key);
  }
  EXPECT_EQ(seen.size(), 3u);
  // Soft keys are used only when no untried key under the limit is left.
  Pool q(3, 1);
  ModelId mq = q.shard.InternModel("m");
  q.shard.RecordUsage(0, mq, 1, kT0);
  ExcludeSet tried;
  tried.Insert(1);
  tried.Insert(2);
  PickResult r = q.shard.Pick(mq, kT0, tried);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.key, 0u);
  EXPECT_TRUE(r.over_daily_limit);
  tried.Insert(0);
  EXPECT_EQ(q.shard.Pick(mq, kT0, tried).status, PickStatus::kNoKey);
}

TEST(KeyPoolShard, DailyResetAtSevenUtcClearsUsageAndLimits) {
  Pool p(2, 1);
  ModelId m = p.shard.InternModel("m");
  p.shard.RecordUsage(0, m, 100, kT0);
  EXPECT_TRUE(p.shard.IsOverDailyLimit(0));
  EXPECT_EQ(p.shard.usage().Key(0).calls, 1u);
  EXPECT_EQ(p.shard.usage().day_end_ms(), kT0 + 19 * 3'600'000LL);  // 07:00 UTC next day
  int64_t before = kT0 + 19 * 3'600'000LL - 1;
  p.shard.Pick(m, before, {});
  EXPECT_TRUE(p.shard.IsOverDailyLimit(0));
  p.shard.Pick(m, before + 1, {});
  EXPECT_FALSE(p.shard.IsOverDailyLimit(0));
  EXPECT_EQ(p.shard.usage().Key(0).calls, 0u);
  EXPECT_EQ(p.shard.usage().Total().tokens, 0u);
}

TEST(KeyPoolShard, PerDayRestEndsAtTheQuotaReset) {
  Pool p(1);
  ModelId m = p.shard.InternModel("m");
  UpstreamVerdict v;
  v.kind = VerdictKind::kRestKeyModelUntilDailyReset;
  v.until_ms = QuotaDayResetAfter(kT0);
  auto e = HealthEventFor(v, 0, "m");
  ASSERT_TRUE(e.has_value());
  p.shard.Apply(*e);
  EXPECT_EQ(p.shard.Pick(m, v.until_ms - 1, {}).status, PickStatus::kAllResting);
  EXPECT_TRUE(p.shard.Pick(m, v.until_ms, {}).ok());
}

TEST(KeyPoolShard, UsageIsPublishedToOtherShards) {
  KeyPoolOptions o;
  o.daily_limit = 3;
  o.usage_publish.publish_interval_ms = 250;
  o.usage_publish.publish_every_calls = 100;
  KeyPoolShard a(o, 1, kT0), b(o, 2, kT0);
  auto keys = Keys(2);
  a.AddKeys(keys);
  b.AddKeys(keys);
  // Different model interning order on each shard: events carry names.
  b.InternModel("other");
  ModelId ma = a.InternModel("m");
  ModelId mb = b.InternModel("m");
  EXPECT_NE(ma, mb);

  a.RecordUsage(0, ma, 7, kT0);
  a.RecordUsage(0, ma, 5, kT0 + 10);
  a.RecordUsage(1, ma, 1, kT0 + 20);
  EXPECT_FALSE(a.UsagePublishDue(kT0 + 100));
  EXPECT_TRUE(a.UsagePublishDue(kT0 + 250));
  std::vector<HealthEvent> events;
  a.TakeUsageEvents(kT0 + 250, &events);
  ASSERT_EQ(events.size(), 2u);  // aggregated per (key, model)
  EXPECT_FALSE(a.UsagePublishDue(kT0 + 600));
  for (const HealthEvent& e : events)
    b.Apply(e);
  EXPECT_EQ(b.usage().Key(0).calls, 2u);
  EXPECT_EQ(b.usage().Key(0).tokens, 12u);
  EXPECT_EQ(b.usage().KeyModel(0, mb).calls, 2u);
  EXPECT_EQ(b.usage().Model(mb).calls, 3u);

  // Local + remote count toward the limit on b.
  b.RecordUsage(0, mb, 1, kT0 + 300);
  EXPECT_TRUE(b.IsOverDailyLimit(0));
  EXPECT_FALSE(a.IsOverDailyLimit(0));

  // A delta from the previous usage day is dropped; one from the next day resets first.
  HealthEvent stale = HealthEvent::Usage(1, "m", 5, 0, b.usage().day_end_ms() - kMillisPerDay);
  b.Apply(stale);
  EXPECT_EQ(b.usage().Key(1).calls, 1u);
  HealthEvent next = HealthEvent::Usage(1, "m", 1, 0, b.usage().day_end_ms() + kMillisPerDay);
  b.Apply(next);
  EXPECT_EQ(b.usage().Key(0).calls, 0u);
  EXPECT_FALSE(b.IsOverDailyLimit(0));
  EXPECT_EQ(b.usage().Key(1).calls, 1u);

  // Manual reset.
  b.Apply(HealthEvent::ResetUsage());
  EXPECT_EQ(b.usage().Total().calls, 0u);
}

TEST(KeyPoolShard, PublishAfterNCalls) {
  KeyPoolOptions o;
  o.usage_publish.publish_every_calls = 3;
  o.usage_publish.publish_interval_ms = 1'000'000;
  KeyPoolShard a(o, 1, kT0);
  a.AddKeys(Keys(1));
  ModelId m = a.InternModel("m");
  a.RecordUsage(0, m, 1, kT0);
  a.RecordUsage(0, m, 1, kT0);
  EXPECT_FALSE(a.UsagePublishDue(kT0));
  a.RecordUsage(0, m, 1, kT0);
  EXPECT_TRUE(a.UsagePublishDue(kT0));
}

TEST(KeyPoolShard, ThrottleEvent) {
  Pool p(3);
  ModelId m = p.shard.InternModel("m");
  p.shard.Apply(HealthEvent::Throttle(kT0 + 30'000));
  PickResult r = p.shard.Pick(m, kT0 + 10'000, {});
  EXPECT_EQ(r.status, PickStatus::kThrottled);
  EXPECT_EQ(r.retry_after_ms, 20'000);
  EXPECT_TRUE(p.shard.Pick(m, kT0 + 30'000, {}).ok());
}

TEST(KeyPoolShard, AddKeysLaterJoinsExistingModels) {
  Pool p(2);
  ModelId m = p.shard.InternModel("m");
  p.shard.Pick(m, kT0, {});
  std::vector<std::string> more = {"key-1", "key-new", "key-bad"};
  EXPECT_EQ(p.shard.AddKeys(std::span<const std::string>(more.data(), 2)), 1u);
  EXPECT_EQ(p.shard.AddKeys(std::span<const std::string>(more.data() + 2, 1), true), 1u);
  EXPECT_EQ(p.shard.size(), 4u);
  EXPECT_EQ(p.shard.IndexOf("key-new"), 2u);
  EXPECT_TRUE(p.shard.IsQuarantined(3));
  std::set<uint32_t> seen;
  for (int i = 0; i < 30; ++i)
    seen.insert(p.shard.Pick(m, kT0, {}).key);
  EXPECT_EQ(seen, (std::set<uint32_t>{0, 1, 2}));
}

TEST(KeyPoolShard, ManyRestingKeysPickInFewSteps) {
  // 10,000 keys, 9,990 resting for the model: picks stay cheap and only use the 10 others.
  Pool p(10'000);
  ModelId m = p.shard.InternModel("m");
  p.shard.Pick(m, kT0, {});
  for (uint32_t k = 10; k < 10'000; ++k)
    p.shard.Apply(HealthEvent::Rest(k, "m", kT0 + 60'000));
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; ++i) {
    PickResult r = p.shard.Pick(m, kT0 + 1, {});
    ASSERT_TRUE(r.ok());
    ASSERT_LT(r.key, 10u);
    seen.insert(r.key);
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(p.shard.ReadyCount(m, kT0 + 1), 10u);
  EXPECT_EQ(p.shard.ReadyCount(m, kT0 + 60'000), 10'000u);
}

TEST(KeyPoolShard, EventsToMatchValidationResult) {
  Pool p(4);
  p.shard.Apply(HealthEvent::Quarantine(3));
  KeyValidationPlan plan;
  ASSERT_TRUE(plan.Start(KeyLists{{"key-0", "key-1", "key-2"}, {"key-3"}}).ok());
  plan.RecordResult(0, true);
  plan.RecordResult(1, false);
  plan.RecordResult(2, true);
  plan.RecordResult(3, true);
  std::vector<HealthEvent> events = p.shard.EventsToMatch(plan.FinalLists());
  ASSERT_EQ(events.size(), 2u);
  for (const HealthEvent& e : events)
    p.shard.Apply(e);
  EXPECT_EQ(p.shard.ActiveKeys(), (std::vector<std::string>{"key-0", "key-2", "key-3"}));
  EXPECT_EQ(p.shard.QuarantinedKeys(), (std::vector<std::string>{"key-1"}));
  EXPECT_TRUE(p.shard.EventsToMatch(plan.FinalLists()).empty());
  // Pick by name.
  EXPECT_TRUE(p.shard.Pick(std::string_view("gemini"), kT0, {}).ok());
}

TEST(HealthEventFor, MapsVerdicts) {
  UpstreamVerdict v;
  EXPECT_FALSE(HealthEventFor(v, 1, "m").has_value());
  v.kind = VerdictKind::kQuarantineKey;
  EXPECT_EQ(HealthEventFor(v, 1, "m")->kind, HealthEventKind::kQuarantine);
  v.kind = VerdictKind::kRestKeyModel;
  v.until_ms = 5;
  auto e = HealthEventFor(v, 1, "gemini-2.5-flash");
  EXPECT_EQ(e->kind, HealthEventKind::kRest);
  EXPECT_EQ(e->model.view(), "gemini-2.5-flash");
  EXPECT_EQ(e->until_ms, 5);
  v.kind = VerdictKind::kRetryOtherKey;
  EXPECT_FALSE(HealthEventFor(v, 1, "m").has_value());
}

TEST(UsageCounters, AddTakeReset) {
  UsageCounters u(kT0, UsagePublishOptions{250, 64});
  u.Add(1, 2, 1, 100);
  u.Add(1, 2, 1, 50);
  u.Add(3, 2, 1, 7);
  EXPECT_EQ(u.Key(1).calls, 2u);
  EXPECT_EQ(u.KeyModel(1, 2).tokens, 150u);
  EXPECT_EQ(u.Total().calls, 3u);
  std::vector<UsageDelta> out;
  u.TakePending(kT0, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key, 1u);
  EXPECT_EQ(out[0].calls, 2u);
  EXPECT_EQ(out[0].tokens, 150u);
  EXPECT_EQ(u.pending_calls(), 0u);
  size_t pairs = 0;
  u.ForEachKeyModel([&](uint32_t, ModelId, const CallsTokens&) { ++pairs; });
  EXPECT_EQ(pairs, 2u);
  EXPECT_FALSE(u.ResetIfNewDay(u.day_end_ms() - 1));
  EXPECT_TRUE(u.ResetIfNewDay(u.day_end_ms()));
  EXPECT_EQ(u.Total().calls, 0u);
  EXPECT_EQ(u.Key(1).calls, 0u);
}

}  // namespace
}  // namespace ringgate

namespace ringgate {
namespace {

struct TestPayload {
  uint32_t count = 0;
  bool flag = false;
};

TEST(KeyRecords, ShortLongAndManyKeysKeepTheirTextPayloadAndViews) {
  using Records = KeyRecords<TestPayload>;
  Records records;
  constexpr size_t kFits = Records::kInlineText;
  std::string long_key(300, 'L');
  EXPECT_EQ(records.Add("AIzaSyShort"), 0u);
  EXPECT_EQ(records.Add(long_key), 1u);
  EXPECT_EQ(records.Add(std::string(kFits, 'x')), 2u);      // the longest held inline
  EXPECT_EQ(records.Add(std::string(kFits + 1, 'y')), 3u);  // the shortest that is not
  records.payload(1).count = 7;
  records.payload(3).flag = true;
  std::string_view first = records[0];
  std::string_view second = records[1];
  const void* first_record = records.Address(0);
  EXPECT_FALSE(records.huge_pages_asked());
  // Past one chunk (Records::kChunkRecords): earlier views and records must not move.
  const int more = static_cast<int>(Records::kChunkRecords) + 1000;
  for (int i = 0; i < more; ++i)
    records.Add("AIzaSy" + std::to_string(i));
  EXPECT_EQ(records.size(), 4u + more);
  EXPECT_TRUE(records.huge_pages_asked());  // a pool this large asks for them
  EXPECT_EQ(first, "AIzaSyShort");
  EXPECT_EQ(first.data(), records[0].data());
  EXPECT_EQ(first_record, records.Address(0));
  EXPECT_EQ(second, long_key);
  EXPECT_EQ(records[2], std::string(kFits, 'x'));
  EXPECT_EQ(records[3], std::string(kFits + 1, 'y'));
  const uint32_t last = static_cast<uint32_t>(records.size() - 1);
  EXPECT_EQ(records[last], "AIzaSy" + std::to_string(more - 1));
  EXPECT_EQ(records[5003], "AIzaSy4999");
  EXPECT_EQ(records.payload(1).count, 7u);
  EXPECT_TRUE(records.payload(3).flag);
  EXPECT_EQ(records.payload(last).count, 0u);
  EXPECT_FALSE(records.payload(last).flag);
  EXPECT_EQ(records.Add(""), last + 1);
  EXPECT_EQ(records[last + 1], "");
  // One line per key: each record starts a cache line, and a Google key's text (39 characters)
  // and its payload are in that line.
  const uint32_t chunk = static_cast<uint32_t>(Records::kChunkRecords);
  for (uint32_t i : {0u, 1u, 2u, 1023u, 1024u, 5003u, chunk - 1, chunk, last}) {
    auto address = reinterpret_cast<uintptr_t>(records.Address(i));
    EXPECT_EQ(address % Records::kRecordBytes, 0u) << i;
    auto payload = reinterpret_cast<uintptr_t>(&records.payload(i));
    EXPECT_GE(payload, address);
    EXPECT_LT(payload + sizeof(TestPayload), address + Records::kRecordBytes);
  }
  std::string_view text = records[5003];
  auto text_start = reinterpret_cast<uintptr_t>(text.data());
  auto line = reinterpret_cast<uintptr_t>(records.Address(5003));
  EXPECT_LE(text_start + text.size(), line + Records::kRecordBytes);
  EXPECT_GE(kFits, 39u);
}

TEST(KeyRecords, OnlyLargePoolsAskForHugePages) {
  using Records = KeyRecords<TestPayload>;
  Records small;
  for (int i = 0; i < 100; ++i)
    small.Add("AIzaSy" + std::to_string(i));
  EXPECT_FALSE(small.huge_pages_asked());
  small.Expect(Records::kHugePageKeys - 1);
  EXPECT_FALSE(small.huge_pages_asked());
  small.Expect(Records::kHugePageKeys);  // e.g. the dashboard adds many keys later
  EXPECT_TRUE(small.huge_pages_asked());
  EXPECT_EQ(small[99], "AIzaSy99");
}

TEST(KeyPoolShard, AKeyListOfThousandsAsksForHugePages) {
  KeyPoolShard small(KeyPoolOptions{}, 1, 0);
  small.AddKeys(std::vector<std::string>{"AIzaSyA", "AIzaSyB"});
  EXPECT_FALSE(small.key_records_on_huge_pages());
  std::vector<std::string> many;
  for (int i = 0; i < 3000; ++i)
    many.push_back("AIzaSy" + std::to_string(i));
  KeyPoolShard large(KeyPoolOptions{}, 1, 0);
  EXPECT_EQ(large.AddKeys(many), 3000u);
  EXPECT_TRUE(large.key_records_on_huge_pages());
  EXPECT_EQ(large.key(2999), "AIzaSy2999");
}

}  // namespace
}  // namespace ringgate
