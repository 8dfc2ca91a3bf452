// TimerWheel with a fake clock: every now_ms is passed explicitly.
#include "ringgate/io/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <vector>

namespace ringgate {
namespace {

// A timer that records when (by the fake clock) its callback ran.
struct Probe {
  Timer timer;
  uint64_t* clock = nullptr;  // the test's current now_ms
  std::vector<uint64_t> fired_at;
  int id = 0;
  std::vector<int>* order = nullptr;

  explicit Probe(uint64_t* now, int probe_id = 0, std::vector<int>* fire_order = nullptr)
      : clock(now), id(probe_id), order(fire_order) {
    timer.set_callback(&Probe::Fire, this);
  }
  static void Fire(Timer* /*timer*/, void* context) {
    Probe* self = static_cast<Probe*>(context);
    self->fired_at.push_back(*self->clock);
    if (self->order != nullptr)
      self->order->push_back(self->id);
  }
};

// Advances the fake clock one millisecond at a time up to `until`.
void StepTo(TimerWheel& wheel, uint64_t& now, uint64_t until) {
  while (now < until) {
    ++now;
    wheel.Advance(now);
  }
}

TEST(TimerWheelTest, FiresNeverEarlyAndAtMostOneTickLate) {
  constexpr uint32_t kTick = 10;
  for (uint64_t deadline = 1000; deadline < 1100; ++deadline) {
    uint64_t now = 1000;
    TimerWheel wheel(now, kTick, 64);
    Probe probe(&now);
    wheel.Schedule(&probe.timer, deadline);
    EXPECT_TRUE(probe.timer.scheduled());
    EXPECT_EQ(probe.timer.deadline_ms(), deadline);
    EXPECT_EQ(wheel.size(), 1u);
    // Advance(now) at the start time itself must only fire a timer due now.
    wheel.Advance(now);
    StepTo(wheel, now, deadline + 2 * kTick);
    ASSERT_EQ(probe.fired_at.size(), 1u) << "deadline " << deadline;
    EXPECT_GE(probe.fired_at[0], deadline) << "fired early";
    EXPECT_LT(probe.fired_at[0], deadline + kTick) << "fired more than one tick late";
    EXPECT_FALSE(probe.timer.scheduled());
    EXPECT_EQ(wheel.size(), 0u);
  }
}

TEST(TimerWheelTest, AdvanceReturnsNumberFired) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 16);
  Probe a(&now), b(&now), c(&now);
  wheel.Schedule(&a.timer, 20);
  wheel.Schedule(&b.timer, 25);
  wheel.Schedule(&c.timer, 60);
  EXPECT_EQ(wheel.Advance(19), 0u);
  EXPECT_EQ(wheel.Advance(20), 1u);
  EXPECT_EQ(wheel.Advance(29), 0u);
  EXPECT_EQ(wheel.Advance(30), 1u);
  EXPECT_EQ(wheel.Advance(100), 1u);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelTest, DeadlineExactlyOnTickFiresExactlyThen) {
  uint64_t now = 5000;
  TimerWheel wheel(now, 10, 32);
  Probe probe(&now);
  wheel.Schedule(&probe.timer, 5120);
  StepTo(wheel, now, 5119);
  EXPECT_TRUE(probe.fired_at.empty());
  StepTo(wheel, now, 5120);
  ASSERT_EQ(probe.fired_at.size(), 1u);
  EXPECT_EQ(probe.fired_at[0], 5120u);
}

TEST(TimerWheelTest, PastDeadlineFiresOnNextAdvance) {
  uint64_t now = 1000;
  TimerWheel wheel(now, 10, 32);
  Probe probe(&now);
  wheel.Schedule(&probe.timer, 500);
  now = 1001;
  EXPECT_EQ(wheel.Advance(now), 1u);
  EXPECT_EQ(probe.fired_at.size(), 1u);
}

// Same, after the wheel has already processed the current tick.
TEST(TimerWheelTest, PastDeadlineFiresOnNextAdvanceMidTick) {
  uint64_t now = 1000;
  TimerWheel wheel(now, 10, 32);
  Probe probe(&now);
  now = 1003;
  wheel.Advance(now);
  wheel.Schedule(&probe.timer, 990);
  now = 1004;
  wheel.Advance(now);
  EXPECT_EQ(probe.fired_at.size(), 1u) << "a deadline in the past fires on the next Advance";
  StepTo(wheel, now, 1030);
  ASSERT_EQ(probe.fired_at.size(), 1u);
  EXPECT_LE(probe.fired_at[0], 1010u);
}

TEST(TimerWheelTest, CancelPreventsFiring) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 16);
  Probe a(&now), b(&now);
  wheel.Schedule(&a.timer, 50);
  wheel.Schedule(&b.timer, 50);
  EXPECT_EQ(wheel.size(), 2u);
  wheel.Cancel(&a.timer);
  EXPECT_FALSE(a.timer.scheduled());
  EXPECT_EQ(wheel.size(), 1u);
  wheel.Cancel(&a.timer);  // twice is harmless
  EXPECT_EQ(wheel.size(), 1u);
  StepTo(wheel, now, 200);
  EXPECT_TRUE(a.fired_at.empty());
  EXPECT_EQ(b.fired_at.size(), 1u);

  Probe never(&now);
  wheel.Cancel(&never.timer);  // never scheduled
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelTest, CancelOnAnotherWheelIsIgnored) {
  uint64_t now = 0;
  TimerWheel one(now, 10, 16), two(now, 10, 16);
  Probe probe(&now);
  one.Schedule(&probe.timer, 30);
  two.Cancel(&probe.timer);
  EXPECT_TRUE(probe.timer.scheduled());
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(two.size(), 0u);
  one.Advance(30);
  EXPECT_EQ(probe.fired_at.size(), 1u);
}

TEST(TimerWheelTest, RescheduleMovesTheDeadline) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 16);
  Probe later(&now), earlier(&now);
  wheel.Schedule(&later.timer, 100);
  wheel.Schedule(&later.timer, 300);  // later
  wheel.Schedule(&earlier.timer, 300);
  wheel.Schedule(&earlier.timer, 40);  // earlier
  EXPECT_EQ(wheel.size(), 2u);
  EXPECT_EQ(later.timer.deadline_ms(), 300u);
  StepTo(wheel, now, 500);
  ASSERT_EQ(earlier.fired_at.size(), 1u);
  EXPECT_EQ(earlier.fired_at[0], 40u);
  ASSERT_EQ(later.fired_at.size(), 1u);
  EXPECT_EQ(later.fired_at[0], 300u);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelTest, ManyTimersFireInDeadlineOrder) {
  constexpr uint32_t kTick = 10;
  constexpr size_t kSlots = 32;  // one turn = 320 ms; deadlines span several turns
  uint64_t now = 7;
  TimerWheel wheel(now, kTick, kSlots);
  std::mt19937 rng(12345);
  std::vector<int> order;
  std::vector<std::unique_ptr<Probe>> probes;
  std::vector<uint64_t> deadlines;
  for (int i = 0; i < 2000; ++i) {
    probes.push_back(std::make_unique<Probe>(&now, i, &order));
    uint64_t deadline = now + rng() % 1500;
    deadlines.push_back(deadline);
    wheel.Schedule(&probes.back()->timer, deadline);
  }
  EXPECT_EQ(wheel.size(), 2000u);
  // Irregular steps, some longer than a tick.
  while (now < 2000) {
    now += 1 + rng() % 25;
    wheel.Advance(now);
    EXPECT_EQ(wheel.size(), static_cast<size_t>(
                                std::count_if(deadlines.begin(), deadlines.end(), [&](uint64_t d) {
                                  return (d + kTick - 1) / kTick > now / kTick;
                                })));
  }
  ASSERT_EQ(order.size(), 2000u);
  for (size_t i = 0; i < probes.size(); ++i) {
    ASSERT_EQ(probes[i]->fired_at.size(), 1u);
    EXPECT_GE(probes[i]->fired_at[0], deadlines[i]);
  }
  // In deadline-tick order.
  for (size_t i = 1; i < order.size(); ++i) {
    uint64_t prev_tick = (deadlines[order[i - 1]] + kTick - 1) / kTick;
    uint64_t tick = (deadlines[order[i]] + kTick - 1) / kTick;
    EXPECT_LE(prev_tick, tick) << "timer " << order[i] << " fired after " << order[i - 1];
  }
}

TEST(TimerWheelTest, TimerBeyondOneTurnWaitsForItsTurn) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 8);  // one turn = 80 ms
  Probe far(&now), farther(&now);
  wheel.Schedule(&far.timer, 500);
  wheel.Schedule(&farther.timer, 8 * 10 * 100 + 3);  // a hundred turns away, same slot region
  StepTo(wheel, now, 499);
  EXPECT_TRUE(far.fired_at.empty());
  StepTo(wheel, now, 520);
  ASSERT_EQ(far.fired_at.size(), 1u);
  EXPECT_EQ(far.fired_at[0], 500u);
  StepTo(wheel, now, 8002);
  EXPECT_TRUE(farther.fired_at.empty());
  StepTo(wheel, now, 8020);
  ASSERT_EQ(farther.fired_at.size(), 1u);
  EXPECT_GE(farther.fired_at[0], 8003u);
  EXPECT_LT(farther.fired_at[0], 8013u);
}

TEST(TimerWheelTest, LongJumpFiresEverythingDueAndNothingElse) {
  uint64_t now = 100;
  TimerWheel wheel(now, 10, 16);  // one turn = 160 ms
  std::vector<std::unique_ptr<Probe>> probes;
  std::vector<uint64_t> deadlines;
  for (uint64_t d = 100; d < 10100; d += 37) {
    probes.push_back(std::make_unique<Probe>(&now));
    deadlines.push_back(d);
    wheel.Schedule(&probes.back()->timer, d);
  }
  now = 5000;  // many turns at once
  wheel.Advance(now);
  size_t due = 0;
  for (size_t i = 0; i < probes.size(); ++i) {
    if (deadlines[i] <= 5000) {
      ++due;
      EXPECT_EQ(probes[i]->fired_at.size(), 1u) << "deadline " << deadlines[i];
    } else {
      EXPECT_TRUE(probes[i]->fired_at.empty()) << "deadline " << deadlines[i];
      EXPECT_TRUE(probes[i]->timer.scheduled());
    }
  }
  EXPECT_EQ(wheel.size(), probes.size() - due);
  now = 1'000'000;
  wheel.Advance(now);
  for (auto& probe : probes)
    EXPECT_EQ(probe->fired_at.size(), 1u);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.MillisUntilNextCheck(now), -1);
}

// ---- Callbacks that change the wheel ----

struct Chain {
  Timer timer;
  TimerWheel* wheel = nullptr;
  uint64_t* clock = nullptr;
  std::vector<uint64_t> fired_at;
  std::function<void(Chain&)> action;
  static void Fire(Timer*, void* context) {
    Chain* self = static_cast<Chain*>(context);
    self->fired_at.push_back(*self->clock);
    if (self->action)
      self->action(*self);
  }
  Chain(TimerWheel* w, uint64_t* now) : wheel(w), clock(now) { timer.set_callback(&Fire, this); }
};

TEST(TimerWheelCallbackTest, CallbackSchedulesAnotherTimerLaterInSameAdvance) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 32);
  Chain a(&wheel, &now), b(&wheel, &now);
  a.action = [&](Chain& self) { self.wheel->Schedule(&b.timer, 130); };
  wheel.Schedule(&a.timer, 100);
  now = 200;  // one Advance covers both deadlines
  EXPECT_EQ(wheel.Advance(now), 2u);
  EXPECT_EQ(a.fired_at.size(), 1u);
  EXPECT_EQ(b.fired_at.size(), 1u);
}

TEST(TimerWheelCallbackTest, CallbackSchedulesAnotherTimerDueNow) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 32);
  Chain a(&wheel, &now), b(&wheel, &now);
  a.action = [&](Chain& self) { self.wheel->Schedule(&b.timer, *self.clock); };
  wheel.Schedule(&a.timer, 100);
  StepTo(wheel, now, 100);
  ASSERT_EQ(a.fired_at.size(), 1u);
  EXPECT_EQ(a.fired_at[0], 100u);
  // b was due at 100: it must fire within one tick.
  StepTo(wheel, now, 110);
  ASSERT_EQ(b.fired_at.size(), 1u) << "a timer scheduled for 'now' from a callback waits a whole "
                                      "turn of the wheel";
  EXPECT_LE(b.fired_at[0], 110u);
}

TEST(TimerWheelCallbackTest, CallbackReschedulesItselfForNow) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 32);
  Chain a(&wheel, &now);
  a.action = [&](Chain& self) {
    if (self.fired_at.size() < 2)
      self.wheel->Schedule(&self.timer, *self.clock);
  };
  wheel.Schedule(&a.timer, 50);
  StepTo(wheel, now, 70);
  EXPECT_EQ(a.fired_at.size(), 2u);
}

TEST(TimerWheelCallbackTest, CallbackSchedulesAnotherTimerInThePast) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 32);
  Chain a(&wheel, &now), b(&wheel, &now);
  a.action = [&](Chain& self) { self.wheel->Schedule(&b.timer, 1); };
  wheel.Schedule(&a.timer, 100);
  StepTo(wheel, now, 100);
  ASSERT_EQ(a.fired_at.size(), 1u);
  StepTo(wheel, now, 111);
  EXPECT_EQ(b.fired_at.size(), 1u) << "a past deadline fires on the next Advance";
}

TEST(TimerWheelCallbackTest, CallbackCancelsTimerInSameSlot) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 32);
  Chain a(&wheel, &now), b(&wheel, &now), c(&wheel, &now);
  // All three in the slot for tick 10; a runs first (scheduled first) and cancels b.
  a.action = [&](Chain& self) { self.wheel->Cancel(&b.timer); };
  wheel.Schedule(&a.timer, 100);
  wheel.Schedule(&b.timer, 95);
  wheel.Schedule(&c.timer, 99);
  EXPECT_EQ(wheel.Advance(100), 2u);
  EXPECT_EQ(a.fired_at.size(), 1u);
  EXPECT_TRUE(b.fired_at.empty());
  EXPECT_FALSE(b.timer.scheduled());
  EXPECT_EQ(c.fired_at.size(), 1u);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelCallbackTest, CallbackCancelsTimerInLaterSlot) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 32);
  Chain a(&wheel, &now), b(&wheel, &now);
  a.action = [&](Chain& self) { self.wheel->Cancel(&b.timer); };
  wheel.Schedule(&a.timer, 100);
  wheel.Schedule(&b.timer, 150);
  EXPECT_EQ(wheel.Advance(1000), 1u);
  EXPECT_TRUE(b.fired_at.empty());
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelCallbackTest, CallbackReschedulesTimerInSameSlotToLater) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 32);
  Chain a(&wheel, &now), b(&wheel, &now);
  a.action = [&](Chain& self) { self.wheel->Schedule(&b.timer, 400); };
  wheel.Schedule(&a.timer, 100);
  wheel.Schedule(&b.timer, 100);
  StepTo(wheel, now, 399);
  EXPECT_EQ(a.fired_at.size(), 1u);
  EXPECT_TRUE(b.fired_at.empty());
  EXPECT_EQ(wheel.size(), 1u);
  StepTo(wheel, now, 400);
  ASSERT_EQ(b.fired_at.size(), 1u);
  EXPECT_EQ(b.fired_at[0], 400u);
}

TEST(TimerWheelCallbackTest, CallbackSchedulesIntoSameSlotNextTurnWithoutLooping) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 8);  // one turn = 80 ms
  Chain a(&wheel, &now);
  // Every firing re-arms one full turn later: same slot, so Advance must not spin on it.
  a.action = [&](Chain& self) {
    if (self.fired_at.size() < 5)
      self.wheel->Schedule(&self.timer, *self.clock + 80);
  };
  wheel.Schedule(&a.timer, 40);
  StepTo(wheel, now, 1000);
  ASSERT_EQ(a.fired_at.size(), 5u);
  for (size_t i = 0; i < a.fired_at.size(); ++i)
    EXPECT_EQ(a.fired_at[i], 40 + 80 * i);
}

TEST(TimerWheelCallbackTest, PeriodicSelfReschedule) {
  uint64_t now = 3;
  TimerWheel wheel(now, 10, 16);
  Chain a(&wheel, &now);
  uint64_t next = 53;
  a.action = [&](Chain& self) {
    next += 50;
    self.wheel->Schedule(&self.timer, next);
  };
  wheel.Schedule(&a.timer, next);
  StepTo(wheel, now, 1012);  // the 20th deadline, 1003, is due by tick 101 (1010)
  ASSERT_EQ(a.fired_at.size(), 20u);
  for (size_t i = 0; i < a.fired_at.size(); ++i) {
    uint64_t deadline = 53 + 50 * i;
    EXPECT_GE(a.fired_at[i], deadline);
    EXPECT_LT(a.fired_at[i], deadline + 10);
  }
  EXPECT_TRUE(a.timer.scheduled());
}

TEST(TimerWheelCallbackTest, CallbackDestroysAnotherPendingTimer) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 32);
  auto victim = std::make_unique<Chain>(&wheel, &now);
  Chain a(&wheel, &now);
  a.action = [&](Chain&) { victim.reset(); };
  wheel.Schedule(&a.timer, 100);
  wheel.Schedule(&victim->timer, 100);
  EXPECT_EQ(wheel.Advance(100), 1u);
  EXPECT_EQ(victim, nullptr);
  EXPECT_EQ(wheel.size(), 0u);
}

// ---- MillisUntilNextCheck ----

TEST(TimerWheelTest, MillisUntilNextCheckEmptyIsMinusOne) {
  TimerWheel wheel(1000, 10, 16);
  EXPECT_EQ(wheel.MillisUntilNextCheck(1000), -1);
  Probe p(nullptr);
  wheel.Schedule(&p.timer, 2000);
  EXPECT_GE(wheel.MillisUntilNextCheck(1000), 0);
  wheel.Cancel(&p.timer);
  EXPECT_EQ(wheel.MillisUntilNextCheck(1000), -1);
}

// Sleeping exactly as long as MillisUntilNextCheck says must never make a timer late.
TEST(TimerWheelTest, MillisUntilNextCheckIsNeverLate) {
  constexpr uint32_t kTick = 10;
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    uint64_t now = 1000 + rng() % 50;
    TimerWheel wheel(now, kTick, 16);  // one turn = 160 ms
    std::vector<std::unique_ptr<Probe>> probes;
    std::vector<uint64_t> deadlines;
    int count = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < count; ++i) {
      probes.push_back(std::make_unique<Probe>(&now));
      deadlines.push_back(now + rng() % 1000);
      wheel.Schedule(&probes.back()->timer, deadlines.back());
    }
    int loops = 0;
    for (;;) {
      int64_t wait = wheel.MillisUntilNextCheck(now);
      if (wait < 0)
        break;
      ASSERT_LT(++loops, 10000) << "no progress";
      now += static_cast<uint64_t>(wait);
      wheel.Advance(now);
    }
    for (size_t i = 0; i < probes.size(); ++i) {
      ASSERT_EQ(probes[i]->fired_at.size(), 1u);
      EXPECT_GE(probes[i]->fired_at[0], deadlines[i]);
      EXPECT_LT(probes[i]->fired_at[0], deadlines[i] + kTick)
          << "round " << round << ": MillisUntilNextCheck slept past the deadline";
    }
  }
}

// Cancelling or rescheduling the earliest timer may make the next check early, never late.
TEST(TimerWheelTest, MillisUntilNextCheckAfterCancelAndReschedule) {
  constexpr uint32_t kTick = 10;
  uint64_t now = 2000;
  TimerWheel wheel(now, kTick, 16);
  Probe early(&now), later(&now), moved(&now);
  wheel.Schedule(&early.timer, now + 50);
  wheel.Schedule(&later.timer, now + 505);
  wheel.Schedule(&moved.timer, now + 30);
  wheel.Cancel(&early.timer);
  wheel.Schedule(&moved.timer, now + 777);
  int loops = 0;
  for (int64_t wait = wheel.MillisUntilNextCheck(now); wait >= 0;
       wait = wheel.MillisUntilNextCheck(now)) {
    ASSERT_LT(++loops, 1000);
    now += static_cast<uint64_t>(wait);
    wheel.Advance(now);
  }
  EXPECT_TRUE(early.fired_at.empty());
  ASSERT_EQ(later.fired_at.size(), 1u);
  EXPECT_GE(later.fired_at[0], 2505u);
  EXPECT_LT(later.fired_at[0], 2505u + kTick);
  ASSERT_EQ(moved.fired_at.size(), 1u);
  EXPECT_GE(moved.fired_at[0], 2777u);
  EXPECT_LT(moved.fired_at[0], 2777u + kTick);
}

TEST(TimerWheelTest, MillisUntilNextCheckExactValues) {
  TimerWheel wheel(1000, 10, 16);
  Probe p(nullptr);
  wheel.Schedule(&p.timer, 1055);  // tick 106, due at 1060
  int64_t wait = wheel.MillisUntilNextCheck(1000);
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 60);
  EXPECT_LE(wheel.MillisUntilNextCheck(1060), 0);
  wheel.Schedule(&p.timer, 5000);  // beyond one turn: may wake early, never late
  wait = wheel.MillisUntilNextCheck(1000);
  EXPECT_GE(wait, 0);
  EXPECT_LE(wait, 4000);
}

// ---- Lifetime ----

TEST(TimerWheelTest, TimerDestructorUnlinks) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 16);
  Probe keep_before(&now), keep_after(&now);
  wheel.Schedule(&keep_before.timer, 50);
  {
    Probe doomed(&now);
    wheel.Schedule(&doomed.timer, 50);
    wheel.Schedule(&keep_after.timer, 50);
    EXPECT_EQ(wheel.size(), 3u);
  }
  EXPECT_EQ(wheel.size(), 2u);
  EXPECT_EQ(wheel.Advance(60), 2u);
  EXPECT_EQ(keep_before.fired_at.size(), 1u);
  EXPECT_EQ(keep_after.fired_at.size(), 1u);
}

TEST(TimerWheelTest, WheelDestructorUnschedulesTimers) {
  uint64_t now = 0;
  Probe a(&now), b(&now);
  {
    TimerWheel wheel(now, 10, 16);
    wheel.Schedule(&a.timer, 50);
    wheel.Schedule(&b.timer, 5000);
  }
  EXPECT_FALSE(a.timer.scheduled());
  EXPECT_FALSE(b.timer.scheduled());
}

TEST(TimerWheelTest, TimerWithoutCallbackStillCounts) {
  uint64_t now = 0;
  TimerWheel wheel(now, 10, 16);
  Timer bare;
  wheel.Schedule(&bare, 20);
  EXPECT_EQ(wheel.Advance(20), 1u);
  EXPECT_FALSE(bare.scheduled());
}

}  // namespace
}  // namespace ringgate
