#include "ringgate/io/timer_wheel.h"

namespace ringgate {

Timer::~Timer() {
  if (wheel_ != nullptr) wheel_->Cancel(this);
}

TimerWheel::TimerWheel(uint64_t now_ms, uint32_t tick_ms, size_t slots)
    : tick_ms_(tick_ms == 0 ? 1 : tick_ms), current_tick_(now_ms / tick_ms_), heads_(slots) {
  for (Timer& head : heads_) head.prev_ = head.next_ = &head;
  expired_.prev_ = expired_.next_ = &expired_;
}

TimerWheel::~TimerWheel() {
  for (Timer& head : heads_) {
    while (head.next_ != &head) Cancel(head.next_);
  }
  while (expired_.next_ != &expired_) Cancel(expired_.next_);
}

void TimerWheel::Link(Timer* timer) {
  // A deadline in a tick already processed (the past, or the tick being processed right now)
  // waits on the expired list, which the next Advance fires first.
  Timer& head =
      timer->deadline_tick_ < current_tick_ ? expired_ : heads_[timer->deadline_tick_ % heads_.size()];
  timer->prev_ = head.prev_;
  timer->next_ = &head;
  head.prev_->next_ = timer;
  head.prev_ = timer;
}

void TimerWheel::Unlink(Timer* timer) {
  timer->prev_->next_ = timer->next_;
  timer->next_->prev_ = timer->prev_;
  timer->prev_ = timer->next_ = nullptr;
}

void TimerWheel::Schedule(Timer* timer, uint64_t deadline_ms) {
  if (timer->wheel_ != nullptr) Cancel(timer);
  timer->deadline_ms_ = deadline_ms;
  // Round up so a timer never fires before its deadline; anything already due goes to the
  // tick processed next.
  timer->deadline_tick_ = (deadline_ms + tick_ms_ - 1) / tick_ms_;
  timer->wheel_ = this;
  Link(timer);
  ++size_;
  if (timer->deadline_tick_ >= current_tick_ && timer->deadline_tick_ < earliest_tick_) {
    earliest_tick_ = timer->deadline_tick_;
  }
}

void TimerWheel::Cancel(Timer* timer) {
  if (timer->wheel_ != this) return;
  Unlink(timer);
  timer->wheel_ = nullptr;
  --size_;
}

// Moves every timer of `head` onto the local list `pending` (so callbacks that schedule into the
// same list do not loop forever), then fires the due ones and puts the others back.
size_t TimerWheel::FireList(Timer& head, uint64_t now_tick) {
  Timer pending;
  pending.next_ = pending.prev_ = &pending;
  if (head.next_ != &head) {
    pending.next_ = head.next_;
    pending.prev_ = head.prev_;
    pending.next_->prev_ = &pending;
    pending.prev_->next_ = &pending;
    head.next_ = head.prev_ = &head;
  }
  size_t fired = 0;
  while (pending.next_ != &pending) {
    Timer* timer = pending.next_;
    Unlink(timer);
    if (timer->deadline_tick_ > now_tick) {
      Link(timer);  // a later turn of the wheel
      continue;
    }
    timer->wheel_ = nullptr;
    --size_;
    ++fired;
    if (timer->callback_ != nullptr) timer->callback_(timer, timer->context_);
  }
  return fired;
}

size_t TimerWheel::Advance(uint64_t now_ms) {
  uint64_t now_tick = now_ms / tick_ms_;
  size_t fired = FireList(expired_, now_tick);
  // After a gap longer than one turn, visiting each slot once fires everything that is due.
  if (now_tick >= current_tick_ + heads_.size()) current_tick_ = now_tick + 1 - heads_.size();
  while (current_tick_ <= now_tick) {
    // Count the tick as processed before firing, so a timer a callback schedules for it goes to
    // the expired list instead of a slot already detached.
    uint64_t tick = current_tick_++;
    fired += FireList(heads_[tick % heads_.size()], now_tick);
  }
  return fired;
}

int64_t TimerWheel::MillisUntilNextCheck(uint64_t now_ms) const {
  if (size_ == 0) return -1;
  if (expired_.next_ != &expired_) return 0;
  if (earliest_tick_ < current_tick_) {
    // The hint was passed: find the next non-empty slot, and from it the earliest deadline
    // tick it may hold (a slot can also hold timers for later turns of the wheel).
    earliest_tick_ = UINT64_MAX;
    for (size_t i = 0; i < heads_.size(); ++i) {
      uint64_t tick = current_tick_ + i;
      const Timer& head = heads_[tick % heads_.size()];
      for (const Timer* t = head.next_; t != &head; t = t->next_) {
        uint64_t due_tick = t->deadline_tick_ < tick ? tick : t->deadline_tick_;
        if (due_tick < earliest_tick_) earliest_tick_ = due_tick;
      }
      if (earliest_tick_ <= tick + 1) break;  // no later slot can hold anything sooner
    }
  }
  uint64_t due = earliest_tick_ * tick_ms_;
  return due <= now_ms ? 0 : static_cast<int64_t>(due - now_ms);
}

}  // namespace ringgate
