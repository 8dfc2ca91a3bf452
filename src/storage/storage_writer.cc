#include "ringgate/storage/storage_writer.h"

#include <pthread.h>

#include <algorithm>
#include <vector>

#include "ringgate/common/log.h"
#include "ringgate/storage/atomic_file.h"

namespace ringgate {

StorageWriter::StorageWriter(StorageWriterOptions options) : options_(std::move(options)) {}

StorageWriter::~StorageWriter() {
  Stop();
}

void StorageWriter::Start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_ || stop_)
    return;
  running_ = true;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ringgate-store");
    Run();
  });
}

void StorageWriter::Submit(const std::string& name, std::string contents) {
  std::lock_guard<std::mutex> lock(mutex_);
  File& file = files_[name];
  file.contents = std::move(contents);
  if (!file.queued) {
    file.queued = true;
    // During a failure streak the retry time stands; otherwise debounce.
    if (file.failed_attempts == 0) {
      Clock::time_point now = Clock::now();
      file.due = std::max(now + std::chrono::milliseconds(options_.first_delay_ms),
                          file.last_write + std::chrono::milliseconds(options_.min_interval_ms));
    }
  }
  wake_.notify_one();
}

bool StorageWriter::NextDue(Clock::time_point* due, std::string* name) const {
  bool found = false;
  for (const auto& [file_name, file] : files_) {
    if (!file.queued || file.writing)
      continue;
    if (!found || file.due < *due) {
      *due = file.due;
      *name = file_name;
      found = true;
    }
  }
  return found;
}

void StorageWriter::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    if (flush_requested_ > flush_done_) {
      uint64_t request = flush_requested_;
      flush_status_ = FlushLocked(lock);
      flush_done_ = request;
      done_.notify_all();
      continue;
    }
    if (stop_)
      break;
    Clock::time_point due;
    std::string name;
    if (!NextDue(&due, &name)) {
      wake_.wait(lock);
    } else if (due > Clock::now()) {
      wake_.wait_until(lock, due);
    } else {
      (void)WriteQueued(name, lock);
    }
  }
}

Status StorageWriter::FlushLocked(std::unique_lock<std::mutex>& lock) {
  Status first_error;
  std::vector<std::string> names;
  for (const auto& [name, file] : files_) {
    if (file.queued)
      names.push_back(name);
  }
  for (const std::string& name : names) {
    // Only the writer thread (or Flush before Start) writes, so nothing else holds this file.
    Status status = WriteQueued(name, lock);
    if (!status.ok() && first_error.ok())
      first_error = status;
  }
  return first_error;
}

Status StorageWriter::WriteQueued(const std::string& name, std::unique_lock<std::mutex>& lock) {
  File& file = files_[name];  // std::map: the reference survives other insertions
  if (!file.queued)
    return Status::Ok();
  std::string contents = std::move(file.contents);
  file.contents.clear();
  file.queued = false;
  file.writing = true;
  lock.unlock();
  Status status = WriteFileAtomically(options_.directory, name, contents, options_.mode);
  lock.lock();
  file.writing = false;
  Clock::time_point now = Clock::now();
  if (status.ok()) {
    ++writes_;
    file.last_write = now;
    // Contents that arrived during the write were given a due time from the previous write.
    if (file.queued)
      file.due = std::max(file.due, now + std::chrono::milliseconds(options_.min_interval_ms));
    if (file.failed_attempts > 0) {
      RG_LOG(kInfo, "storage: %s written again after %llu failed attempts", name.c_str(),
             static_cast<unsigned long long>(file.failed_attempts));
    }
    file.failed_attempts = 0;
    file.retry_ms = 0;
  } else {
    ++failures_;
    if (file.failed_attempts == 0) {
      RG_LOG(kError, "storage: cannot save %s: %s; the previous version stays, retrying",
             name.c_str(), status.message().c_str());
    }
    ++file.failed_attempts;
    file.retry_ms =
        file.retry_ms == 0 ? options_.retry_ms : std::min(file.retry_ms * 2, options_.max_retry_ms);
    if (!file.queued) {  // nothing newer arrived meanwhile: try these contents again
      file.contents = std::move(contents);
      file.queued = true;
    }
    file.due = now + std::chrono::milliseconds(file.retry_ms);
  }
  done_.notify_all();
  return status;
}

Status StorageWriter::Flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!running_)
    return FlushLocked(lock);
  uint64_t request = ++flush_requested_;
  wake_.notify_one();
  done_.wait(lock, [&] { return flush_done_ >= request; });
  return flush_status_;
}

void StorageWriter::Stop() {
  (void)Flush();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable())
    thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  running_ = false;
}

uint64_t StorageWriter::writes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return writes_;
}

uint64_t StorageWriter::failures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failures_;
}

}  // namespace ringgate
