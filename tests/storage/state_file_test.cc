// ringgate-state.json: a round trip keeps every field and the statistics slot verbatim; what is
// over at load (ended rests, an ended usage day) is dropped; a snapshot of one pool restores into
// another built with the keys in a different order (quarantine, rests with their reason, usage
// and the soft daily limit it implies); bad files are refused with a reason.
#include <gtest/gtest.h>

#include "ringgate/keys/reset_time.h"
#include "ringgate/storage/state_file.h"

namespace ringgate::testing {
namespace {

const int64_t kNoon = DaysFromCivil(2025, 7, 15) * kMillisPerDay + 12 * 3'600'000LL;
const int64_t kDayEnd = DailyResetAfter(kNoon);  // 2025-07-16 07:00 UTC

PersistedState Sample() {
  PersistedState state;
  state.quarantined = {"AIzaSyQUARANTINED"};
  state.rests = {{"AIzaSyK1", "gemini-2.5-flash", kNoon + 60'000, HealthReason::kMinuteQuota},
                 {"AIzaSyK2", "gemini-2.5-pro", kNoon + 3'600'000, HealthReason::kDailyQuota}};
  state.usage_day_end_ms = kDayEnd;
  state.usage = {{"AIzaSyK1", "gemini-2.5-flash", 3, 420}, {"AIzaSyK2", "gemini-2.5-pro", 1, 17}};
  state.stats = R"({"minutes":[[1,2,3]],"note":"verbatim"})";
  return state;
}

Result<PersistedState> RoundTrip(const PersistedState& state, int64_t load_at) {
  return ParseStateFile(RenderStateFile(state, kNoon), load_at);
}

TEST(StateFileTest, RoundTripKeepsEverything) {
  std::string text = RenderStateFile(Sample(), kNoon);
  EXPECT_NE(text.find("\"version\": 1"), std::string::npos) << text;
  EXPECT_NE(text.find("\"reason\": \"daily_quota\""), std::string::npos) << text;
  Result<PersistedState> loaded = ParseStateFile(text, kNoon + 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->quarantined, Sample().quarantined);
  ASSERT_EQ(loaded->rests.size(), 2u);
  EXPECT_EQ(loaded->rests[1].key, "AIzaSyK2");
  EXPECT_EQ(loaded->rests[1].model, "gemini-2.5-pro");
  EXPECT_EQ(loaded->rests[1].until_ms, kNoon + 3'600'000);
  EXPECT_EQ(loaded->rests[1].reason, HealthReason::kDailyQuota);
  EXPECT_EQ(loaded->usage_day_end_ms, kDayEnd);
  ASSERT_EQ(loaded->usage.size(), 2u);
  EXPECT_EQ(loaded->usage[0].calls, 3u);
  EXPECT_EQ(loaded->usage[0].tokens, 420u);
  EXPECT_EQ(loaded->stats, Sample().stats);
}

TEST(StateFileTest, NoStatisticsIsNull) {
  PersistedState state = Sample();
  state.stats.clear();
  std::string text = RenderStateFile(state, kNoon);
  EXPECT_NE(text.find("\"stats\": null"), std::string::npos) << text;
  Result<PersistedState> loaded = ParseStateFile(text, kNoon);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->stats.empty());
}

TEST(StateFileTest, EndedRestsAreDropped) {
  Result<PersistedState> loaded = RoundTrip(Sample(), kNoon + 120'000);  // the first rest is over
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->rests.size(), 1u);
  EXPECT_EQ(loaded->rests[0].key, "AIzaSyK2");
  EXPECT_EQ(loaded->quarantined.size(), 1u) << "quarantine does not expire";
}

TEST(StateFileTest, UsageOfAnEndedUsageDayIsDropped) {
  Result<PersistedState> loaded = RoundTrip(Sample(), kDayEnd);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->usage.empty());
  EXPECT_EQ(loaded->usage_day_end_ms, 0);
  EXPECT_EQ(loaded->quarantined.size(), 1u);
  EXPECT_EQ(loaded->stats, Sample().stats) << "the statistics are the admin part's to age";
}

TEST(StateFileTest, BadFilesAreRefusedWithAReason) {
  struct Case {
    const char* text;
    const char* reason;
  } cases[] = {
      {"{\"version\": 1, \"resting\": [", "not valid JSON"},
      {"[]", "not a JSON object"},
      {"{}", "no version"},
      {"{\"version\": 2}", "version 2"},
      {"{\"version\": 1, \"quarantined_keys\": [1]}", "quarantined_keys"},
      {"{\"version\": 1, \"resting\": [{\"key\": \"k\"}]}", "resting"},
      {"{\"version\": 1, \"usage\": {\"day_end_ms\": 5, \"by_key_model\": [{\"key\": \"k\", "
       "\"model\": \"m\", \"calls\": -1, \"tokens\": 0}]}}",
       "usage"},
  };
  for (const Case& c : cases) {
    Result<PersistedState> loaded = ParseStateFile(c.text, kNoon);
    ASSERT_FALSE(loaded.ok()) << c.text;
    EXPECT_NE(loaded.status().message().find(c.reason), std::string::npos)
        << c.text << " -> " << loaded.status().message();
  }
  EXPECT_TRUE(ParseStateFile("{\"version\": 1}", kNoon).ok()) << "sections are optional";
}

KeyPoolOptions Limit(int64_t daily_limit) {
  KeyPoolOptions options;
  options.daily_limit = daily_limit;
  return options;
}

TEST(StateFileTest, SnapshotRestoresIntoAPoolWithTheKeysInAnotherOrder) {
  KeyPoolShard before(Limit(2), 1, kNoon);
  std::vector<std::string> keys = {"key-a", "key-b", "key-c", "key-d"};
  before.AddKeys(keys);
  before.Apply(HealthEvent::Quarantine(1));                                           // key-b
  before.Apply(HealthEvent::Rest(2, "m1", kNoon + 30'000, HealthReason::kDailyQuota));  // key-c
  ModelId m1 = before.InternModel("m1");
  before.RecordUsage(0, m1, 100, kNoon);  // key-a: 2 calls = at the limit
  before.RecordUsage(0, m1, 50, kNoon);
  before.RecordUsage(3, before.InternModel("m2"), 7, kNoon);  // key-d: 1 call
  ASSERT_TRUE(before.IsOverDailyLimit(0));

  Result<PersistedState> loaded =
      ParseStateFile(RenderStateFile(SnapshotKeyState(before, kNoon), kNoon), kNoon + 1000);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();

  KeyPoolShard after(Limit(2), 2, kNoon + 1000);
  std::vector<std::string> reordered = {"key-d", "key-c", "key-b", "key-a", "key-new"};
  after.AddKeys(reordered);
  size_t applied = RestoreKeyState(*loaded, &after, kNoon + 1000);
  EXPECT_EQ(applied, 1u + 1u + 2u);
  EXPECT_TRUE(after.IsQuarantined(*after.IndexOf("key-b")));
  EXPECT_FALSE(after.IsQuarantined(*after.IndexOf("key-a")));
  ModelId after_m1 = after.InternModel("m1");
  EXPECT_EQ(after.RestUntil(*after.IndexOf("key-c"), after_m1), kNoon + 30'000);
  int rests = 0;
  after.ForEachRest(kNoon + 1000, [&](const KeyPoolShard::RestView& rest) {
    ++rests;
    EXPECT_EQ(rest.reason, HealthReason::kDailyQuota);
  });
  EXPECT_EQ(rests, 1);
  EXPECT_EQ(after.usage().Key(*after.IndexOf("key-a")).calls, 2u);
  EXPECT_EQ(after.usage().Key(*after.IndexOf("key-a")).tokens, 150u);
  EXPECT_EQ(after.usage().Key(*after.IndexOf("key-d")).calls, 1u);
  EXPECT_TRUE(after.IsOverDailyLimit(*after.IndexOf("key-a"))) << "the soft limit survives";
  EXPECT_FALSE(after.IsOverDailyLimit(*after.IndexOf("key-d")));
  // Restored usage is not this core's to publish again.
  std::vector<HealthEvent> events;
  after.TakeUsageEvents(kNoon + 5000, &events);
  EXPECT_TRUE(events.empty());
}

TEST(StateFileTest, RestoreSkipsUnknownKeysAndUsageOfAnotherDay) {
  PersistedState state = Sample();
  KeyPoolShard pool(Limit(0), 1, kDayEnd + 1000);  // the next usage day
  std::vector<std::string> keys = {"AIzaSyK1"};
  pool.AddKeys(keys);
  size_t applied = RestoreKeyState(state, &pool, kDayEnd + 1000);
  EXPECT_EQ(applied, 0u) << "its rest ended, its usage belongs to the day before";
  EXPECT_EQ(pool.usage().Total().calls, 0u);
}

TEST(StateFileTest, PoolChangeCountersMoveOnEveryPersistedChange) {
  KeyPoolShard pool(Limit(0), 1, kNoon);
  uint64_t changes = pool.change_count();
  uint64_t lists = pool.key_list_change_count();
  std::vector<std::string> keys = {"a", "b"};
  pool.AddKeys(keys);
  EXPECT_GT(pool.change_count(), changes);
  EXPECT_GT(pool.key_list_change_count(), lists);
  lists = pool.key_list_change_count();
  changes = pool.change_count();
  pool.Apply(HealthEvent::Rest(0, "m", kNoon + 10));
  EXPECT_GT(pool.change_count(), changes);
  EXPECT_EQ(pool.key_list_change_count(), lists) << "a rest does not change the key lists";
  changes = pool.change_count();
  pool.RecordUsage(1, pool.InternModel("m"), 5, kNoon);
  EXPECT_GT(pool.change_count(), changes);
  pool.Apply(HealthEvent::Quarantine(1));
  EXPECT_GT(pool.key_list_change_count(), lists);
  changes = pool.change_count();
  pool.Apply(HealthEvent::Quarantine(1));  // already: nothing changes
  pool.Apply(HealthEvent::Throttle(kNoon + 1000));
  EXPECT_EQ(pool.change_count(), changes);
}

}  // namespace
}  // namespace ringgate::testing
