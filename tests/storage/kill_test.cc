// kill -9 while the files are being rewritten: traffic on many keys and models changes the key
// state continuously (usage, rests, a quarantine), so core 0 snapshots every second and the
// writer replaces ringgate-state.json (tens of KiB) and settings.json. Half the kills come at a
// random moment, half right inside a write (when inotify shows its temporary file). After each,
// every file in STORAGE_DIR parses as whole JSON (the leftover temporary file of an interrupted
// write aside, which the next start removes), and the next start works from them: no file is ever
// found corrupt.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <random>
#include <thread>

#include "chat_harness.h"
#include "storage_test_util.h"

namespace ringgate::testing {
namespace {

constexpr int kKeys = 99;
constexpr const char* kModels[] = {"gemini-2.5-flash",       "gemini-2.0-flash",
                                   "gemini-2.5-pro",         "gemini-2.0-flash-lite",
                                   "gemini-2.5-flash-lite",  "gemini-flash-latest",
                                   "gemini-2.0-flash-001",   "gemini-pro-latest",
                                   "gemini-3-flash-preview", "gemini-3-pro-preview"};

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Sends chats to whichever ringgate is current (port 0: none) until told to stop; failures
// (a killed server) are expected and ignored.
class Traffic {
 public:
  Traffic() : thread_([this] { Run(); }) {}
  ~Traffic() {
    stop_ = true;
    thread_.join();
  }
  void set_port(uint16_t port) { port_ = port; }
  int answered() const { return answered_.load(); }

 private:
  void Run() {
    size_t n = 0;
    while (!stop_.load()) {
      uint16_t port = port_.load();
      if (port == 0) {
        std::this_thread::sleep_for(Millis(5));
        continue;
      }
      std::string body = SimpleChat(kModels[n++ % std::size(kModels)]);
      HttpResponse response;
      if (RoundTrip(port, PostRequest("/v1/chat/completions", body, Bearer()), &response,
                    "127.0.0.1", false, Millis(2000)) == ReadStatus::kOk &&
          response.status == 200) {
        ++answered_;
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<uint16_t> port_{0};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

// Waits until directory/name is created (a write has begun).
bool WaitForFile(const std::string& directory, std::string_view name, Millis timeout) {
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0)
    return false;
  bool seen = false;
  if (inotify_add_watch(fd, directory.c_str(), IN_CREATE) >= 0) {
    Clock::time_point deadline = Clock::now() + timeout;
    alignas(inotify_event) char buffer[4096];
    while (!seen && Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0)
        continue;
      ssize_t n = read(fd, buffer, sizeof(buffer));
      for (ssize_t offset = 0; offset < n;) {
        const inotify_event* event = reinterpret_cast<const inotify_event*>(buffer + offset);
        if (event->len > 0 && name == event->name)
          seen = true;
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
  }
  close(fd);
  return seen;
}

// Every file but the temporary one parses as JSON; returns their names.
std::vector<std::string> ExpectWholeFiles(const TempDir& dir, int round) {
  std::vector<std::string> whole;
  for (const std::string& name : dir.List()) {
    EXPECT_EQ(name.find(".corrupt-"), std::string::npos) << "round " << round << ": " << name;
    if (EndsWith(name, ".tmp"))
      continue;
    std::string text = ReadText(dir.File(name));
    std::unique_ptr<Json> json = ParseJson(text);
    EXPECT_TRUE(json->ok) << "round " << round << ": " << name << " is not whole JSON ("
                          << text.size() << " bytes)";
    whole.push_back(name);
  }
  return whole;
}

TEST(PersistenceKillTest, FilesAreAlwaysWholeAndTheNextStartWorks) {
  TempDir dir;
  GatewayOptions options;
  options.keys = kKeys;
  options.threads = 2;
  options.env = {"NONSTREAM_KEEPALIVE_ENABLED=false", "FAKE_STREAMING=false", "ENABLE_STORAGE=true",
                 "STORAGE_DIR=" + dir.path(), "API_KEY_DAILY_LIMIT=3"};
  options.fake_args = {"--record", "0", "--retry-delay", "600s"};
  auto first = StartGateway(options);
  ASSERT_NE(first, nullptr);
  // A few states that change the pool while traffic flows: one key invalid, one resting on
  // every model.
  first->KeyState(TestKey(7), "invalid");
  first->KeyState(TestKey(8), "minute_quota");

  GatewayOptions restart = options;
  restart.start_fake = false;
  restart.base_url = "http://127.0.0.1:" + std::to_string(first->fake_port());

  std::mt19937 random(20250715);
  std::uniform_int_distribution<int> kill_after_ms(900, 2600);
  std::uniform_int_distribution<int> into_write_us(0, 50);
  Traffic traffic;
  std::vector<std::unique_ptr<Gateway>> later;
  Gateway* current = first.get();
  constexpr int kRounds = 6;
  int interrupted_writes = 0;  // kills that caught a write between create and rename
  for (int round = 0; round < kRounds; ++round) {
    traffic.set_port(current->port());
    if (round % 2 == 0) {
      std::this_thread::sleep_for(Millis(kill_after_ms(random)));
    } else {
      // Right inside a write: as soon as a temporary file appears, then up to 50
      // microseconds into it.
      EXPECT_TRUE(WaitForFile(dir.path(), "ringgate-state.json.tmp", Millis(5000)))
          << "round " << round;
      std::this_thread::sleep_for(std::chrono::microseconds(into_write_us(random)));
    }
    current->ringgate().Signal(SIGKILL);
    std::optional<int> status = current->ringgate().WaitExit(Millis(5000));
    traffic.set_port(0);
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(WIFSIGNALED(*status)) << DescribeWaitStatus(*status);
    std::vector<std::string> present = dir.List();
    interrupted_writes += static_cast<int>(std::count_if(
        present.begin(), present.end(), [](const std::string& n) { return EndsWith(n, ".tmp"); }));
    ExpectWholeFiles(dir, round);
    // The next start reads what is there; it must find nothing corrupt.
    later.push_back(StartGateway(restart));
    ASSERT_NE(later.back(), nullptr) << "round " << round;
    current = later.back().get();
    EXPECT_EQ(current->ringgate().Stderr().find("corrupt"), std::string::npos)
        << current->ringgate().Stderr();
  }
  EXPECT_GT(traffic.answered(), 20);
  std::cout << "kills that interrupted a write: " << interrupted_writes << " of " << kRounds
            << "\n";
  traffic.set_port(current->port());
  std::this_thread::sleep_for(Millis(1500));
  traffic.set_port(0);
  int status = current->ringgate().Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWaitStatus(status);
  std::vector<std::string> whole = ExpectWholeFiles(dir, kRounds);
  EXPECT_EQ(whole, (std::vector<std::string>{"ringgate-state.json", "settings.json"}));
  EXPECT_EQ(dir.List(), whole) << "a start removes the temporary file of an interrupted write";
  std::unique_ptr<Json> state = ParseJson(ReadText(dir.File("ringgate-state.json")));
  ASSERT_TRUE(state->ok);
  EXPECT_GT(state->Size("/usage/by_key_model"), 10u);
  EXPECT_EQ(state->Raw("/quarantined_keys"), "[\"" + TestKey(7) + "\"]");
}

}  // namespace
}  // namespace ringgate::testing
