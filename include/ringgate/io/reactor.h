// Reactor: one io_uring, its provided-buffer ring and its timer wheel, owned by one thread.
//
// The loop: submit what was prepared and wait for at least one completion (or the next timer
// check) in one io_uring_enter, dispatch the completions to the Handler, run due timers, repeat.
// user_data is the handler's business (see server/ for the tagging scheme).
//
// Create() must run on the thread that will call Run(): with IORING_SETUP_SINGLE_ISSUER the
// kernel rejects submissions from any other thread.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

#include "ringgate/common/result.h"
#include "ringgate/io/buffer_ring.h"
#include "ringgate/io/timer_wheel.h"

namespace ringgate {

struct ReactorOptions {
  uint32_t sq_entries = 1024;
  // Multishot operations produce many completions per submission, so the completion queue is
  // several times the submission queue.
  uint32_t cq_entries = 8192;
  uint32_t buffer_count = 1024;  // power of two
  uint32_t buffer_size = 16 * 1024;
  uint16_t buffer_group = 0;
  // Setup flag sets are tried from the most capable down; tests raise this to force fallbacks.
  int first_setup_level = 0;
};

class Reactor {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnCompletion(const io_uring_cqe& cqe) = 0;
    // After each batch of completions and timers, before the next wait.
    virtual void OnLoopEnd() {}
  };

  static Result<std::unique_ptr<Reactor>> Create(const ReactorOptions& options);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // A free submission entry; submits the queue first if it is full. Never null.
  io_uring_sqe* GetSqe();

  void Run(Handler& handler);
  // Makes Run() return after the current batch. Only from the reactor's own thread.
  void Stop() { stopping_ = true; }

  uint64_t now_ms() const { return now_ms_; }
  // The monotonic clock in microseconds when this iteration's completions were reaped (read once
  // per iteration: a clock read costs tens of nanoseconds here, and a request touches the time
  // at several points).
  uint64_t now_us() const { return now_us_; }
  TimerWheel& timers() { return *timers_; }
  BufferRing& buffers() { return *buffers_; }
  io_uring* ring() { return &ring_; }
  int ring_fd() const { return ring_.ring_fd; }
  // Human-readable setup flags in use, e.g. "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN".
  const std::string& setup_description() const { return setup_description_; }
  unsigned setup_flags() const { return setup_flags_; }

  // Posts a completion carrying (user_data, value) into another reactor's ring (MSG_RING): the
  // cross-core doorbell. The target sees a CQE with that user_data and res == value.
  void PostToRing(int target_ring_fd, uint64_t user_data, uint32_t value, uint64_t own_user_data);

 private:
  Reactor() = default;

  io_uring ring_{};
  bool ring_ready_ = false;
  unsigned setup_flags_ = 0;
  std::string setup_description_;
  std::unique_ptr<BufferRing> buffers_;  // released before the ring it is registered with
  std::unique_ptr<TimerWheel> timers_;
  uint64_t now_ms_ = 0;
  uint64_t now_us_ = 0;
  bool stopping_ = false;
};

// A ring for a thread that is not a reactor (the main thread) to post messages to reactors.
class RingMessenger {
 public:
  Status Init();
  ~RingMessenger();
  // Blocks until the kernel accepted the message.
  Status Post(int target_ring_fd, uint64_t user_data, uint32_t value);

 private:
  io_uring ring_{};
  bool ready_ = false;
};

}  // namespace ringgate
