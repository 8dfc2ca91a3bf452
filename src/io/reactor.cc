#include "ringgate/io/reactor.h"

#include <cerrno>
#include <cstring>

#include "ringgate/common/clock.h"
#include "ringgate/common/log.h"

namespace ringgate {
namespace {

struct SetupLevel {
  unsigned flags;
  const char* description;
};

// From most to least capable. DEFER_TASKRUN (6.1) runs completion work only when we enter the
// kernel to wait, on our thread, so a busy loop is never interrupted; SINGLE_ISSUER (6.0) lets
// the kernel skip locking; COOP_TASKRUN (5.19) avoids inter-processor interrupts.
constexpr SetupLevel kSetupLevels[] = {
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
         IORING_SETUP_SUBMIT_ALL,
     "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN|SUBMIT_ALL"},
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
     "SINGLE_ISSUER|COOP_TASKRUN|SUBMIT_ALL"},
    {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, "COOP_TASKRUN|SUBMIT_ALL"},
    {0, "basic"},
};

}  // namespace

Result<std::unique_ptr<Reactor>> Reactor::Create(const ReactorOptions& options) {
  std::unique_ptr<Reactor> reactor(new Reactor());
  int rc = -EINVAL;
  constexpr int kLevels = sizeof(kSetupLevels) / sizeof(kSetupLevels[0]);
  for (int level = options.first_setup_level; level < kLevels; ++level) {
    io_uring_params params;
    memset(&params, 0, sizeof(params));
    params.flags = kSetupLevels[level].flags | IORING_SETUP_CQSIZE;
    params.cq_entries = options.cq_entries;
    rc = io_uring_queue_init_params(options.sq_entries, &reactor->ring_, &params);
    if (rc == 0) {
      reactor->setup_flags_ = kSetupLevels[level].flags;
      reactor->setup_description_ = kSetupLevels[level].description;
      break;
    }
    // EINVAL: this kernel does not know a flag; try the next set. Anything else is final.
    if (rc != -EINVAL)
      break;
  }
  if (rc != 0) {
    std::string hint = rc == -ENOMEM ? " (raise the locked-memory limit, ulimit -l)" : "";
    if (rc == -EPERM)
      hint = " (io_uring is disabled: check kernel.io_uring_disabled)";
    return Status::Error(std::string("io_uring setup failed: ") + strerror(-rc) + hint, -rc);
  }
  reactor->ring_ready_ = true;
  // Saves a file-table lookup on every io_uring_enter; harmless if unsupported.
  io_uring_register_ring_fd(&reactor->ring_);

  reactor->buffers_ = std::make_unique<BufferRing>();
  Status s = reactor->buffers_->Init(&reactor->ring_, options.buffer_group, options.buffer_count,
                                     options.buffer_size);
  if (!s.ok())
    return s;
  reactor->now_us_ = MonotonicMicros();
  reactor->now_ms_ = reactor->now_us_ / 1000;
  reactor->timers_ = std::make_unique<TimerWheel>(reactor->now_ms_);
  return reactor;
}

Reactor::~Reactor() {
  timers_.reset();
  if (ring_ready_) {
    buffers_.reset();
    io_uring_queue_exit(&ring_);
  }
}

io_uring_sqe* Reactor::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void Reactor::PostToRing(int target_ring_fd, uint64_t user_data, uint32_t value,
                         uint64_t own_user_data) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_msg_ring(sqe, target_ring_fd, value, user_data, 0);
  io_uring_sqe_set_data64(sqe, own_user_data);
}

void Reactor::Run(Handler& handler) {
  constexpr unsigned kBatch = 256;
  io_uring_cqe* cqes[kBatch];
  stopping_ = false;
  while (!stopping_) {
    int64_t wait_ms = timers_->MillisUntilNextCheck(now_ms_);
    int rc;
    if (wait_ms < 0) {
      rc = io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts;
      ts.tv_sec = wait_ms / 1000;
      ts.tv_nsec = (wait_ms % 1000) * 1000000;
      io_uring_cqe* ignored = nullptr;
      rc = io_uring_submit_and_wait_timeout(&ring_, &ignored, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      RG_LOG(kError, "io_uring_enter failed: %s", strerror(-rc));
    }
    // One clock read per iteration: the time these completions arrived, for everything they do.
    now_us_ = MonotonicMicros();
    now_ms_ = now_us_ / 1000;
    for (;;) {
      unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kBatch);
      if (n == 0)
        break;
      for (unsigned i = 0; i < n; ++i)
        handler.OnCompletion(*cqes[i]);
      io_uring_cq_advance(&ring_, n);
    }
    timers_->Advance(now_ms_);
    handler.OnLoopEnd();
  }
  io_uring_submit(&ring_);
}

Status RingMessenger::Init() {
  int rc = io_uring_queue_init(8, &ring_, 0);
  if (rc < 0)
    return Status::Error(std::string("io_uring setup failed: ") + strerror(-rc), -rc);
  ready_ = true;
  return Status::Ok();
}

RingMessenger::~RingMessenger() {
  if (ready_)
    io_uring_queue_exit(&ring_);
}

Status RingMessenger::Post(int target_ring_fd, uint64_t user_data, uint32_t value) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr)
    return Status::Error("messenger ring full");
  io_uring_prep_msg_ring(sqe, target_ring_fd, value, user_data, 0);
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait(&ring_, 1);
  if (rc < 0)
    return Status::Error(std::string("MSG_RING submit: ") + strerror(-rc), -rc);
  rc = io_uring_wait_cqe(&ring_, &cqe);
  if (rc < 0)
    return Status::Error(std::string("MSG_RING wait: ") + strerror(-rc), -rc);
  int res = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  if (res < 0)
    return Status::Error(std::string("MSG_RING: ") + strerror(-res), -res);
  return Status::Ok();
}

}  // namespace ringgate
