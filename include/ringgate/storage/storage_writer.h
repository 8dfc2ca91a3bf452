// StorageWriter: the one thread that writes the persistence files. Reactor threads never do file
// I/O: core 0 serializes a snapshot and hands the text over with Submit, which only takes a mutex
// and copies a pointer (a few times a second at most, never per request).
//
// Per file, the latest contents win: a burst of submissions is written once. New contents are
// written first_delay_ms after they arrive, and a file at most once per min_interval_ms. Every
// write is atomic (WriteFileAtomically: temporary file, fsync, rename, directory fsync), so the
// file on disk is always one whole version. A failed write (disk full, permissions) is logged
// once per streak of failures, retried with a growing delay, and never crashes anything; the
// recovery is logged too. Flush (shutdown) writes everything pending at once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "ringgate/common/result.h"

namespace ringgate {

struct StorageWriterOptions {
  std::string directory;
  // A file is written at most once per interval; contents submitted meanwhile wait (and replace
  // each other). Bounds the disk traffic whatever the rate of changes.
  int64_t min_interval_ms = 1000;
  // New contents wait this long before the write, so the changes of one burst go out together.
  int64_t first_delay_ms = 200;
  // After a failed write the next try waits retry_ms, doubling up to max_retry_ms.
  int64_t retry_ms = 1000;
  int64_t max_retry_ms = 30'000;
  // The files hold the user's API keys.
  mode_t mode = 0600;
};

class StorageWriter {
 public:
  explicit StorageWriter(StorageWriterOptions options);
  // Stop(): what is pending is written first.
  ~StorageWriter();
  StorageWriter(const StorageWriter&) = delete;
  StorageWriter& operator=(const StorageWriter&) = delete;

  // Starts the writer thread. Before it, Submit only queues and Flush writes on the caller.
  void Start();
  // Queues `contents` as the next version of directory/name. Any thread; never blocks on I/O.
  void Submit(const std::string& name, std::string contents);
  // Writes every queued file now and waits until each had its try; the first error, if any (the
  // failed files stay queued).
  Status Flush();
  // Flush, then ends the thread. Idempotent.
  void Stop();

  const std::string& directory() const { return options_.directory; }
  // Successful and failed writes so far (tests, metrics).
  uint64_t writes() const;
  uint64_t failures() const;

 private:
  using Clock = std::chrono::steady_clock;

  struct File {
    std::string contents;
    bool queued = false;      // contents wait to be written
    bool writing = false;     // the thread or Flush has it in hand
    Clock::time_point due{};  // when queued contents may be written
    Clock::time_point last_write{};
    int64_t retry_ms = 0;          // the next delay after a failure
    uint64_t failed_attempts = 0;  // in the current streak (0: healthy)
  };

  void Run();
  // Writes files_[name]'s queued contents; called and returns with `lock` held.
  Status WriteQueued(const std::string& name, std::unique_lock<std::mutex>& lock);
  // The earliest due time of a queued file that is not being written, or nullopt.
  bool NextDue(Clock::time_point* due, std::string* name) const;
  Status FlushLocked(std::unique_lock<std::mutex>& lock);

  StorageWriterOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // new work, a flush request, stop
  std::condition_variable done_;  // a write finished, a flush finished
  std::map<std::string, File> files_;
  uint64_t flush_requested_ = 0;
  uint64_t flush_done_ = 0;
  Status flush_status_;
  bool stop_ = false;
  bool running_ = false;
  uint64_t writes_ = 0;
  uint64_t failures_ = 0;
  std::thread thread_;
};

}  // namespace ringgate
