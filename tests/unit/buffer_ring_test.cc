// Reactor, BufferRing and RingMessenger against a real io_uring, over a local socketpair.
#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ringgate/io/buffer_ring.h"
#include "ringgate/io/reactor.h"

namespace ringgate {
namespace {

constexpr uint64_t kRecvTag = 0x5245'4356;  // "RECV"

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0)
        close(fd);
    }
  }
  void CloseWriter() {
    close(fds[1]);
    fds[1] = -1;
  }
};

struct Completion {
  uint64_t user_data;
  int32_t res;
  uint32_t flags;
};

// Waits (at most `timeout_ms` per completion) for the next completion on the ring.
bool NextCompletion(io_uring* ring, Completion* out, int timeout_ms = 2000) {
  io_uring_submit(ring);
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec ts;
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
  int rc = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
  if (rc < 0 || cqe == nullptr)
    return false;
  *out = Completion{cqe->user_data, cqe->res, cqe->flags};
  io_uring_cqe_seen(ring, cqe);
  return true;
}

ReactorOptions SmallOptions() {
  ReactorOptions options;
  options.sq_entries = 16;
  options.cq_entries = 128;
  options.buffer_count = 8;
  options.buffer_size = 64;
  options.buffer_group = 3;
  return options;
}

std::unique_ptr<Reactor> MakeReactor(const ReactorOptions& options) {
  Result<std::unique_ptr<Reactor>> created = Reactor::Create(options);
  if (!created.ok()) {
    ADD_FAILURE() << "Reactor::Create: " << created.status().message();
    return nullptr;
  }
  return std::move(created.value());
}

void ArmRecv(Reactor& reactor, int fd) {
  io_uring_sqe* sqe = reactor.GetSqe();
  ASSERT_NE(sqe, nullptr);
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = reactor.buffers().group_id();
  io_uring_sqe_set_data64(sqe, kRecvTag);
}

// 64-byte messages, each one distinct.
std::string Message(int i) {
  char text[65];
  snprintf(text, sizeof(text), "message %04d ", i);
  std::string m(text);
  m.resize(64, static_cast<char>('a' + i % 26));
  return m;
}

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    ASSERT_GT(n, 0) << strerror(errno);
    off += static_cast<size_t>(n);
  }
}

TEST(BufferRingTest, InitRejectsCountThatIsNotAPowerOfTwo) {
  ReactorOptions options = SmallOptions();
  options.buffer_count = 6;
  Result<std::unique_ptr<Reactor>> created = Reactor::Create(options);
  EXPECT_FALSE(created.ok());
  options.buffer_count = 0;
  EXPECT_FALSE(Reactor::Create(options).ok());
  options.buffer_count = 65536;
  EXPECT_FALSE(Reactor::Create(options).ok());
}

TEST(BufferRingTest, ReactorExposesItsBufferRing) {
  std::unique_ptr<Reactor> reactor = MakeReactor(SmallOptions());
  ASSERT_NE(reactor, nullptr);
  EXPECT_EQ(reactor->buffers().group_id(), 3);
  EXPECT_EQ(reactor->buffers().count(), 8u);
  EXPECT_EQ(reactor->buffers().buffer_size(), 64u);
  EXPECT_EQ(reactor->buffers().outstanding(), 0u);
  EXPECT_GE(reactor->ring_fd(), 0);
  EXPECT_EQ(reactor->ring()->ring_fd, reactor->ring_fd());
}

// The multishot receive fills every buffer, then runs out (-ENOBUFS) and ends; after the buffers
// are recycled a new receive delivers the rest, reusing the same buffers.
TEST(BufferRingTest, MultishotRecvRunsOutThenResumesAfterRecycle) {
  std::unique_ptr<Reactor> reactor = MakeReactor(SmallOptions());
  ASSERT_NE(reactor, nullptr);
  BufferRing& buffers = reactor->buffers();
  SocketPair sp;

  constexpr int kMessages = 20;  // 1280 bytes for 8 buffers of 64
  std::string sent;
  for (int i = 0; i < kMessages; ++i)
    sent += Message(i);
  WriteAll(sp.fds[1], sent);
  ArmRecv(*reactor, sp.fds[0]);

  std::string received;
  std::vector<uint16_t> held;
  std::vector<uint16_t> ids_seen;
  bool ended = false;
  int last_res = 0;
  for (int i = 0; i < 100 && !ended; ++i) {
    Completion c;
    ASSERT_TRUE(NextCompletion(reactor->ring(), &c)) << "no completion after " << i;
    ASSERT_EQ(c.user_data, kRecvTag);
    if (c.res > 0) {
      ASSERT_TRUE(c.flags & IORING_CQE_F_BUFFER);
      ASSERT_LE(c.res, 64);
      buffers.NoteTaken();
      uint16_t id = BufferRing::BufferId(c.flags);
      EXPECT_LT(id, 8u);
      held.push_back(id);
      ids_seen.push_back(id);
      received += buffers.Data(c.flags, static_cast<size_t>(c.res));
    }
    if (!(c.flags & IORING_CQE_F_MORE)) {
      ended = true;
      last_res = c.res;
    }
  }
  ASSERT_TRUE(ended);
  EXPECT_EQ(last_res, -ENOBUFS) << "the multishot receive ends when the ring is empty";
  EXPECT_EQ(held.size(), 8u);
  EXPECT_EQ(buffers.outstanding(), 8u);
  EXPECT_EQ(received, sent.substr(0, received.size()));
  EXPECT_EQ(received.size(), 8u * 64);
  EXPECT_EQ(std::set<uint16_t>(held.begin(), held.end()).size(), 8u) << "all 8 buffers used once";

  // Give the buffers back and receive the rest, recycling as we go.
  for (uint16_t id : held)
    buffers.Recycle(id);
  EXPECT_EQ(buffers.outstanding(), 0u);
  sp.CloseWriter();
  ArmRecv(*reactor, sp.fds[0]);
  bool eof = false;
  for (int i = 0; i < 200 && !eof; ++i) {
    Completion c;
    ASSERT_TRUE(NextCompletion(reactor->ring(), &c)) << "no completion after " << i;
    ASSERT_EQ(c.user_data, kRecvTag);
    if (c.res > 0) {
      ASSERT_TRUE(c.flags & IORING_CQE_F_BUFFER);
      buffers.NoteTaken();
      uint16_t id = BufferRing::BufferId(c.flags);
      EXPECT_LT(id, 8u);
      ids_seen.push_back(id);
      received += buffers.Data(c.flags, static_cast<size_t>(c.res));
      buffers.Recycle(id);
      if (!(c.flags & IORING_CQE_F_MORE))
        ArmRecv(*reactor, sp.fds[0]);
    } else if (c.res == -ENOBUFS) {
      // The kernel may fill every buffer in one go before we recycle any (768 bytes are
      // waiting for 8 buffers of 64): the buffers are back now, so receive again.
      EXPECT_FALSE(c.flags & IORING_CQE_F_MORE);
      EXPECT_EQ(buffers.outstanding(), 0u);
      ArmRecv(*reactor, sp.fds[0]);
    } else {
      ASSERT_EQ(c.res, 0) << "unexpected error " << strerror(-c.res);
      EXPECT_FALSE(c.flags & IORING_CQE_F_MORE);
      eof = true;
    }
  }
  ASSERT_TRUE(eof);
  EXPECT_EQ(buffers.outstanding(), 0u);
  EXPECT_EQ(received, sent);
  EXPECT_GE(ids_seen.size(), static_cast<size_t>(sent.size() / 64));
  std::map<uint16_t, int> uses;
  for (uint16_t id : ids_seen)
    ++uses[id];
  EXPECT_LE(uses.size(), 8u);
  int reused = 0;
  for (auto& [id, n] : uses)
    reused += n > 1 ? 1 : 0;
  EXPECT_GT(reused, 0) << "buffers are reused after Recycle()";
}

// Recycling while the multishot receive is still armed keeps it going: more data than the ring
// holds arrives without the receive ever ending.
TEST(BufferRingTest, RecyclingKeepsMultishotAlive) {
  std::unique_ptr<Reactor> reactor = MakeReactor(SmallOptions());
  ASSERT_NE(reactor, nullptr);
  BufferRing& buffers = reactor->buffers();
  SocketPair sp;
  ArmRecv(*reactor, sp.fds[0]);
  io_uring_submit(reactor->ring());

  std::string sent;
  std::string received;
  for (int i = 0; i < 64; ++i) {
    std::string m = Message(i);
    sent += m;
    WriteAll(sp.fds[1], m);
    while (received.size() < sent.size()) {
      Completion c;
      ASSERT_TRUE(NextCompletion(reactor->ring(), &c));
      ASSERT_GT(c.res, 0) << strerror(-c.res);
      ASSERT_TRUE(c.flags & IORING_CQE_F_MORE) << "the receive ended at message " << i;
      buffers.NoteTaken();
      received += buffers.Data(c.flags, static_cast<size_t>(c.res));
      buffers.Recycle(BufferRing::BufferId(c.flags));
    }
  }
  EXPECT_EQ(received, sent);
  EXPECT_EQ(buffers.outstanding(), 0u);
}

// ---- Setup fallbacks ----

const char* const kLevelDescriptions[] = {
    "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN|SUBMIT_ALL",
    "SINGLE_ISSUER|COOP_TASKRUN|SUBMIT_ALL",
    "COOP_TASKRUN|SUBMIT_ALL",
    "basic",
};

class ReactorSetupLevelTest : public ::testing::TestWithParam<int> {};

TEST_P(ReactorSetupLevelTest, CreatesAWorkingRing) {
  ReactorOptions options = SmallOptions();
  options.first_setup_level = GetParam();
  std::unique_ptr<Reactor> reactor = MakeReactor(options);
  ASSERT_NE(reactor, nullptr);
  const std::string& description = reactor->setup_description();
  std::printf("setup level %d: %s (flags 0x%x)\n", GetParam(), description.c_str(),
              reactor->setup_flags());
  int level = -1;
  for (int i = 0; i < 4; ++i) {
    if (description == kLevelDescriptions[i])
      level = i;
  }
  ASSERT_GE(level, GetParam()) << "description '" << description
                               << "' is not of the requested level or a lower one";
  unsigned flags = reactor->setup_flags();
  EXPECT_EQ((flags & IORING_SETUP_DEFER_TASKRUN) != 0, level == 0);
  EXPECT_EQ((flags & IORING_SETUP_SINGLE_ISSUER) != 0, level <= 1);
  EXPECT_EQ((flags & IORING_SETUP_COOP_TASKRUN) != 0, level <= 2);
  if (level == 3) {
    EXPECT_EQ(flags, 0u);
  }
  EXPECT_EQ(reactor->ring()->flags & flags, flags) << "the ring runs with the reported flags";

  // The ring works: a NOP completes.
  io_uring_sqe* sqe = reactor->GetSqe();
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, 77);
  Completion c;
  ASSERT_TRUE(NextCompletion(reactor->ring(), &c));
  EXPECT_EQ(c.user_data, 77u);
  EXPECT_EQ(c.res, 0);

  // So does the buffer ring at every level.
  SocketPair sp;
  ArmRecv(*reactor, sp.fds[0]);
  WriteAll(sp.fds[1], "ping");
  ASSERT_TRUE(NextCompletion(reactor->ring(), &c));
  ASSERT_EQ(c.res, 4);
  reactor->buffers().NoteTaken();
  EXPECT_EQ(reactor->buffers().Data(c.flags, 4), "ping");
  reactor->buffers().Recycle(BufferRing::BufferId(c.flags));
}

INSTANTIATE_TEST_SUITE_P(Levels, ReactorSetupLevelTest, ::testing::Values(0, 1, 2, 3));

TEST(ReactorTest, GetSqeNeverReturnsNullWhenQueueIsFull) {
  ReactorOptions options = SmallOptions();
  options.sq_entries = 4;
  std::unique_ptr<Reactor> reactor = MakeReactor(options);
  ASSERT_NE(reactor, nullptr);
  for (int i = 0; i < 20; ++i) {
    io_uring_sqe* sqe = reactor->GetSqe();
    ASSERT_NE(sqe, nullptr);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(100 + i));
  }
  std::set<uint64_t> seen;
  for (int i = 0; i < 20; ++i) {
    Completion c;
    ASSERT_TRUE(NextCompletion(reactor->ring(), &c)) << "after " << i;
    seen.insert(c.user_data);
  }
  EXPECT_EQ(seen.size(), 20u);
}

// ---- Cross-ring messages ----

TEST(RingMessengerTest, PostDeliversUserDataAndValue) {
  std::unique_ptr<Reactor> reactor = MakeReactor(SmallOptions());
  ASSERT_NE(reactor, nullptr);
  RingMessenger messenger;
  Status s = messenger.Init();
  ASSERT_TRUE(s.ok()) << s.message();
  s = messenger.Post(reactor->ring_fd(), 0xDEAD'BEEF'0000'0042ull, 12345);
  ASSERT_TRUE(s.ok()) << s.message();
  s = messenger.Post(reactor->ring_fd(), 7, 0);
  ASSERT_TRUE(s.ok()) << s.message();
  Completion c;
  ASSERT_TRUE(NextCompletion(reactor->ring(), &c));
  EXPECT_EQ(c.user_data, 0xDEAD'BEEF'0000'0042ull);
  EXPECT_EQ(c.res, 12345);
  ASSERT_TRUE(NextCompletion(reactor->ring(), &c));
  EXPECT_EQ(c.user_data, 7u);
  EXPECT_EQ(c.res, 0);
  EXPECT_FALSE(NextCompletion(reactor->ring(), &c, 50)) << "exactly one completion per Post";
}

TEST(RingMessengerTest, PostToInvalidRingFails) {
  RingMessenger messenger;
  ASSERT_TRUE(messenger.Init().ok());
  SocketPair sp;  // a descriptor that is not an io_uring
  Status s = messenger.Post(sp.fds[0], 1, 1);
  EXPECT_FALSE(s.ok());
}

TEST(ReactorTest, PostToRingReachesAnotherReactor) {
  ReactorOptions options = SmallOptions();
  std::unique_ptr<Reactor> a = MakeReactor(options);
  std::unique_ptr<Reactor> b = MakeReactor(options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a->PostToRing(b->ring_fd(), 0xABCD, 99, 0x1111);
  Completion c;
  ASSERT_TRUE(NextCompletion(a->ring(), &c));  // the sender's own completion
  EXPECT_EQ(c.user_data, 0x1111u);
  EXPECT_EQ(c.res, 0);
  ASSERT_TRUE(NextCompletion(b->ring(), &c));
  EXPECT_EQ(c.user_data, 0xABCDu);
  EXPECT_EQ(c.res, 99);
}

// Run() dispatches completions to the handler and returns after Stop().
TEST(ReactorTest, RunDispatchesCompletionsAndStops) {
  std::unique_ptr<Reactor> reactor = MakeReactor(SmallOptions());
  ASSERT_NE(reactor, nullptr);
  struct Handler : Reactor::Handler {
    Reactor* reactor = nullptr;
    std::vector<uint64_t> seen;
    int loop_ends = 0;
    void OnCompletion(const io_uring_cqe& cqe) override {
      seen.push_back(cqe.user_data);
      if (cqe.user_data == 3)
        reactor->Stop();
    }
    void OnLoopEnd() override { ++loop_ends; }
  } handler;
  handler.reactor = reactor.get();
  for (uint64_t i = 1; i <= 3; ++i) {
    io_uring_sqe* sqe = reactor->GetSqe();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, i);
  }
  reactor->Run(handler);
  EXPECT_EQ(handler.seen, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_GE(handler.loop_ends, 1);
}

// Timers scheduled on the reactor's wheel fire from Run().
TEST(ReactorTest, RunFiresTimers) {
  std::unique_ptr<Reactor> reactor = MakeReactor(SmallOptions());
  ASSERT_NE(reactor, nullptr);
  struct Ctx {
    Reactor* reactor;
    uint64_t fired_at = 0;
  } ctx{reactor.get()};
  Timer timer;
  timer.set_callback(
      [](Timer*, void* p) {
        Ctx* c = static_cast<Ctx*>(p);
        c->fired_at = c->reactor->now_ms();
        c->reactor->Stop();
      },
      &ctx);
  uint64_t start = reactor->now_ms();
  reactor->timers().Schedule(&timer, start + 30);
  struct Nothing : Reactor::Handler {
    void OnCompletion(const io_uring_cqe&) override {}
  } handler;
  reactor->Run(handler);
  EXPECT_GE(ctx.fired_at, start + 30);
  EXPECT_LT(ctx.fired_at, start + 1000);
}

}  // namespace
}  // namespace ringgate
