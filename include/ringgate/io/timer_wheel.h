// TimerWheel: a hashed timing wheel for the per-connection deadlines of one core (header read,
// idle keep-alive, lingering close, drain). Timers are intrusive: scheduling and cancelling never
// allocate, and a connection embeds its Timer.
//
//   slot = (deadline / tick) % slots; a timer further away than one turn of the wheel stays in
//   its slot and is skipped until its turn comes (checked by comparing the absolute tick).
//
// Not thread-safe: each core owns its own wheel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringgate {

class TimerWheel;

class Timer {
 public:
  using Callback = void (*)(Timer* timer, void* context);

  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();

  void set_callback(Callback callback, void* context) {
    callback_ = callback;
    context_ = context;
  }
  bool scheduled() const { return wheel_ != nullptr; }
  uint64_t deadline_ms() const { return deadline_ms_; }

 private:
  friend class TimerWheel;
  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;
  TimerWheel* wheel_ = nullptr;
  uint64_t deadline_ms_ = 0;
  uint64_t deadline_tick_ = 0;
  Callback callback_ = nullptr;
  void* context_ = nullptr;
};

class TimerWheel {
 public:
  // `tick_ms` is the resolution: a timer fires within one tick after its deadline.
  TimerWheel(uint64_t now_ms, uint32_t tick_ms = 10, size_t slots = 512);
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // (Re)schedules `timer` to fire at `deadline_ms`. A deadline whose tick was already processed
  // (the past, or "now" from inside a callback) fires on the next Advance.
  void Schedule(Timer* timer, uint64_t deadline_ms);
  void Cancel(Timer* timer);

  // Fires every timer whose deadline is <= now_ms, in deadline-tick order. Callbacks may schedule
  // or cancel any timer, including the one firing. Returns the number fired.
  size_t Advance(uint64_t now_ms);

  // Milliseconds from now_ms until the next non-empty slot comes due, or -1 when no timer is
  // scheduled. May be early (a slot holding only far-future timers), never late.
  int64_t MillisUntilNextCheck(uint64_t now_ms) const;

  size_t size() const { return size_; }

 private:
  void Link(Timer* timer);
  static void Unlink(Timer* timer);
  size_t FireList(Timer& head, uint64_t now_tick);

  uint32_t tick_ms_;
  uint64_t current_tick_;  // every tick < current_tick_ has been processed
  // No timer is due before this tick (a lower bound, kept so the loop does not scan the slots
  // on every iteration). Cancelling leaves it low, which only costs an early wake-up.
  mutable uint64_t earliest_tick_ = UINT64_MAX;
  std::vector<Timer> heads_;  // sentinel per slot (circular list)
  Timer expired_;             // due in a tick already processed: fired by the next Advance
  size_t size_ = 0;
};

}  // namespace ringgate
