// The writer thread and atomic files: a replacement is all or nothing, a reader never sees half
// a file, a burst of submissions is written once, Flush writes at once, and failures (a
// directory in the file's place, a missing directory) are retried without crashing until they
// clear.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <random>
#include <thread>

#include "ringgate/storage/atomic_file.h"
#include "ringgate/storage/storage_writer.h"
#include "storage_test_util.h"

namespace ringgate::testing {
namespace {

using std::chrono::milliseconds;

// Waits up to `limit` for `done`.
template <typename Predicate>
bool WaitFor(Predicate done, milliseconds limit = milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// Version n of a file: a header naming n, a body whose size depends on n, and a trailer
// naming n again, so a torn or mixed file is recognised.
std::string Version(int n) {
  std::string text = "begin " + std::to_string(n) + "\n";
  text.append(static_cast<size_t>(64 * 1024 + (n % 7) * 4096), static_cast<char>('a' + n % 26));
  text += "\nend " + std::to_string(n) + "\n";
  return text;
}

bool IsWholeVersion(const std::string& text) {
  if (text.rfind("begin ", 0) != 0)
    return false;
  int n = std::atoi(text.c_str() + 6);
  return text == Version(n);
}

TEST(AtomicFileTest, ReplacesTheWholeFileWithMode0600AndNoTemporaryLeft) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.path(), "f.json", "first").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.path(), "f.json", "second, longer").ok());
  EXPECT_EQ(ReadText(dir.File("f.json")), "second, longer");
  struct stat info;
  ASSERT_EQ(stat(dir.File("f.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"f.json"});
}

TEST(AtomicFileTest, AFailedReplacementLeavesTheTargetAlone) {
  TempDir dir;
  // A directory where the file should go: the rename fails (root ignores permission bits, so
  // this is how to make a write fail for every user).
  ASSERT_EQ(mkdir(dir.File("f.json").c_str(), 0700), 0);
  WriteText(dir.File("f.json/inside"), "x");
  Status s = WriteFileAtomically(dir.path(), "f.json", "new");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("rename"), std::string::npos) << s.message();
  EXPECT_EQ(ReadText(dir.File("f.json/inside")), "x");
  EXPECT_FALSE(Exists(dir.File("f.json.tmp"))) << "the temporary file is removed";
}

TEST(AtomicFileTest, ReadMissingFileSaysEnoent) {
  TempDir dir;
  Result<std::string> text = ReadWholeFile(dir.File("none"));
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().sys_errno(), ENOENT);
}

TEST(AtomicFileTest, MoveAsideKeepsTheBytesUnderACorruptName) {
  TempDir dir;
  WriteText(dir.File("settings.json"), "{broken");
  // 2025-01-01T12:00:00Z
  Result<std::string> aside = MoveAside(dir.File("settings.json"), 1735732800000);
  ASSERT_TRUE(aside.ok()) << aside.status().message();
  EXPECT_EQ(*aside, dir.File("settings.json.corrupt-20250101T120000Z"));
  EXPECT_EQ(ReadText(*aside), "{broken");
  EXPECT_FALSE(Exists(dir.File("settings.json")));
  // The same second again: a new name, nothing overwritten.
  WriteText(dir.File("settings.json"), "{again");
  Result<std::string> second = MoveAside(dir.File("settings.json"), 1735732800000);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *aside);
  EXPECT_EQ(ReadText(*aside), "{broken");
  EXPECT_EQ(ReadText(*second), "{again");
}

TEST(AtomicFileTest, MakeDirectoriesCreatesParents) {
  TempDir dir;
  std::string nested = dir.File("a/b/c");
  ASSERT_TRUE(MakeDirectories(nested).ok());
  struct stat info;
  ASSERT_EQ(stat(nested.c_str(), &info), 0);
  EXPECT_TRUE(S_ISDIR(info.st_mode));
  EXPECT_TRUE(MakeDirectories(nested + "/").ok()) << "existing, trailing slash";
  WriteText(dir.File("plain"), "x");
  EXPECT_FALSE(MakeDirectories(dir.File("plain")).ok()) << "a file is not a directory";
}

StorageWriterOptions FastOptions(const std::string& directory) {
  StorageWriterOptions options;
  options.directory = directory;
  options.first_delay_ms = 20;
  options.min_interval_ms = 200;
  options.retry_ms = 30;
  options.max_retry_ms = 60;
  return options;
}

TEST(StorageWriterTest, ABurstOfSubmissionsIsWrittenOnceWithTheLatestContents) {
  TempDir dir;
  StorageWriter writer(FastOptions(dir.path()));
  writer.Start();
  for (int i = 0; i < 200; ++i)
    writer.Submit("state.json", "{\"n\":" + std::to_string(i) + "}");
  ASSERT_TRUE(WaitFor([&] { return writer.writes() >= 1; }));
  std::this_thread::sleep_for(milliseconds(400));  // past another interval: nothing more to write
  EXPECT_EQ(writer.writes(), 1u);
  EXPECT_EQ(ReadText(dir.File("state.json")), "{\"n\":199}");
}

TEST(StorageWriterTest, WritesAFileAtMostOncePerInterval) {
  TempDir dir;
  StorageWriterOptions options = FastOptions(dir.path());
  options.min_interval_ms = 300;
  StorageWriter writer(options);
  writer.Start();
  auto start = std::chrono::steady_clock::now();
  // Submissions every 10 ms for 1 s: about 3 intervals, so 3 to 5 writes, not 100.
  for (int i = 0; i < 100; ++i) {
    writer.Submit("state.json", std::to_string(i));
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto elapsed =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(writer.Flush().ok());
  uint64_t allowed = static_cast<uint64_t>(elapsed / 300) + 2;
  EXPECT_LE(writer.writes(), allowed) << elapsed << " ms";
  EXPECT_GE(writer.writes(), 2u);
  EXPECT_EQ(ReadText(dir.File("state.json")), "99");
}

TEST(StorageWriterTest, FlushWritesAtOnceEvenBeforeTheDelay) {
  TempDir dir;
  StorageWriterOptions options = FastOptions(dir.path());
  options.first_delay_ms = 60'000;
  StorageWriter writer(options);
  writer.Start();
  writer.Submit("a.json", "1");
  writer.Submit("b.json", "2");
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadText(dir.File("a.json")), "1");
  EXPECT_EQ(ReadText(dir.File("b.json")), "2");
  EXPECT_EQ(writer.writes(), 2u);
}

TEST(StorageWriterTest, FlushWithoutTheThreadWritesOnTheCaller) {
  TempDir dir;
  StorageWriter writer(FastOptions(dir.path()));
  writer.Submit("a.json", "1");
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadText(dir.File("a.json")), "1");
}

TEST(StorageWriterTest, StopWritesWhatIsPending) {
  TempDir dir;
  {
    StorageWriterOptions options = FastOptions(dir.path());
    options.first_delay_ms = 60'000;
    StorageWriter writer(options);
    writer.Start();
    writer.Submit("a.json", "last words");
  }  // destructor: Stop
  EXPECT_EQ(ReadText(dir.File("a.json")), "last words");
}

TEST(StorageWriterTest, FailuresAreRetriedWithoutCrashingUntilTheyClear) {
  TempDir dir;
  ASSERT_EQ(mkdir(dir.File("state.json").c_str(), 0700), 0);  // the file's place is taken
  StorageWriter writer(FastOptions(dir.path()));
  writer.Start();
  writer.Submit("state.json", "v1");
  ASSERT_TRUE(WaitFor([&] { return writer.failures() >= 3; })) << "retried";
  EXPECT_EQ(writer.writes(), 0u);
  writer.Submit("state.json", "v2");  // newer contents replace the ones that failed
  Status flushed = writer.Flush();
  EXPECT_FALSE(flushed.ok());
  EXPECT_NE(flushed.message().find("state.json"), std::string::npos) << flushed.message();
  ASSERT_EQ(rmdir(dir.File("state.json").c_str()), 0);  // the operator fixes it
  ASSERT_TRUE(WaitFor([&] { return writer.writes() == 1; })) << "recovered on a retry";
  EXPECT_EQ(ReadText(dir.File("state.json")), "v2");
}

TEST(StorageWriterTest, AMissingDirectoryIsAFailureNotACrash) {
  TempDir dir;
  StorageWriter writer(FastOptions(dir.File("missing")));
  writer.Start();
  writer.Submit("a.json", "1");
  ASSERT_TRUE(WaitFor([&] { return writer.failures() >= 1; }));
  ASSERT_EQ(mkdir(dir.File("missing").c_str(), 0700), 0);
  ASSERT_TRUE(WaitFor([&] { return writer.writes() == 1; }));
  EXPECT_EQ(ReadText(dir.File("missing/a.json")), "1");
}

// A reader polling the file while versions are replaced never sees a torn or mixed file.
TEST(StorageWriterTest, AReaderOnlyEverSeesWholeVersions) {
  TempDir dir;
  StorageWriterOptions options = FastOptions(dir.path());
  options.first_delay_ms = 0;
  options.min_interval_ms = 0;
  StorageWriter writer(options);
  writer.Start();
  writer.Submit("big.json", Version(0));
  ASSERT_TRUE(writer.Flush().ok());
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!stop.load()) {
      std::string text = ReadText(dir.File("big.json"));
      ++reads;
      if (!IsWholeVersion(text))
        ++torn;
    }
  });
  for (int n = 1; n <= 150; ++n) {
    writer.Submit("big.json", Version(n));
    if (n % 10 == 0) {
      ASSERT_TRUE(writer.Flush().ok());
    }
  }
  ASSERT_TRUE(writer.Flush().ok());
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 10);
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(ReadText(dir.File("big.json")), Version(150));
  EXPECT_GE(writer.writes(), 15u);
}

// kill -9 in the middle of writes, many times: the target is always a whole version; only the
// temporary file can be partial.
TEST(AtomicFileTest, KillDuringWritesLeavesTheTargetWhole) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.path(), "big.json", Version(0)).ok());
  std::mt19937 random(7);
  std::uniform_int_distribution<int> run_us(200, 20'000);
  int interrupted = 0;
  for (int round = 0; round < 40; ++round) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int n = 1;; ++n)
        (void)WriteFileAtomically(dir.path(), "big.json", Version(n + round * 1000));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(run_us(random)));
    kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    std::string text = ReadText(dir.File("big.json"));
    ASSERT_TRUE(IsWholeVersion(text)) << "round " << round << ": " << text.size() << " bytes";
    interrupted += Exists(dir.File("big.json.tmp")) ? 1 : 0;
  }
  // Most kills land between the temporary file's creation and the rename (the write and the
  // fsync take far longer than the rest of the loop).
  EXPECT_GE(interrupted, 5);
}

}  // namespace
}  // namespace ringgate::testing
