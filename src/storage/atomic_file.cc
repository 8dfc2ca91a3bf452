#include "ringgate/storage/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace ringgate {
namespace {

Status Errno(const std::string& what, int error) {
  return Status::Error(what + ": " + strerror(error), error);
}

// Closes the descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0)
      close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // close(2)'s own result matters for a file just written (NFS reports write errors there).
  int Close() {
    int rc = close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view contents, const std::string& path) {
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return Errno("cannot write " + path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& directory) {
  FileDescriptor dir(open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0)
    return Errno("cannot open directory " + directory, errno);
  if (fsync(dir.get()) != 0 && errno != EINVAL)  // some file systems cannot sync a directory
    return Errno("cannot fsync directory " + directory, errno);
  return Status::Ok();
}

}  // namespace

std::string JoinPath(const std::string& directory, const std::string& name) {
  if (directory.empty())
    return name;
  if (directory.back() == '/')
    return directory + name;
  return directory + "/" + name;
}

Status MakeDirectories(const std::string& directory) {
  if (directory.empty())
    return Status::Error("no directory given");
  std::string path;
  size_t start = 0;
  while (start <= directory.size()) {
    size_t slash = directory.find('/', start);
    size_t end = slash == std::string::npos ? directory.size() : slash;
    path = directory.substr(0, end);
    if (!path.empty() && mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
      return Errno("cannot create directory " + path, errno);
    if (slash == std::string::npos)
      break;
    start = slash + 1;
  }
  struct stat info;
  if (stat(directory.c_str(), &info) != 0)
    return Errno("cannot use directory " + directory, errno);
  if (!S_ISDIR(info.st_mode))
    return Status::Error(directory + " is not a directory", ENOTDIR);
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& directory, const std::string& name,
                           std::string_view contents, mode_t mode) {
  std::string target = JoinPath(directory, name);
  std::string temporary = target + std::string(kTemporarySuffix);
  FileDescriptor file(
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (file.get() < 0)
    return Errno("cannot create " + temporary, errno);
  Status status;
  // A leftover temporary file keeps its old mode through O_CREAT: set it again.
  if (fchmod(file.get(), mode) != 0) {
    status = Errno("cannot chmod " + temporary, errno);
  } else {
    status = WriteAll(file.get(), contents, temporary);
  }
  if (status.ok() && fsync(file.get()) != 0)
    status = Errno("cannot fsync " + temporary, errno);
  if (file.Close() != 0 && status.ok())
    status = Errno("cannot close " + temporary, errno);
  if (status.ok() && rename(temporary.c_str(), target.c_str()) != 0)
    status = Errno("cannot rename " + temporary + " to " + target, errno);
  if (!status.ok()) {
    unlink(temporary.c_str());
    return status;
  }
  return SyncDirectory(directory);
}

Result<std::string> ReadWholeFile(const std::string& path) {
  FileDescriptor file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0)
    return Errno("cannot open " + path, errno);
  std::string out;
  char buffer[16384];
  while (true) {
    ssize_t n = read(file.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return Errno("cannot read " + path, errno);
    }
    if (n == 0)
      break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> MoveAside(const std::string& path, int64_t now_ms) {
  time_t seconds = static_cast<time_t>(now_ms / 1000);
  tm utc;
  gmtime_r(&seconds, &utc);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &utc);
  std::string base = path + ".corrupt-" + stamp;
  std::string aside = base;
  for (int attempt = 1; access(aside.c_str(), F_OK) == 0; ++attempt) {
    if (attempt > 1000)
      return Status::Error("cannot find a free name for " + base, EEXIST);
    aside = base + "-" + std::to_string(attempt);
  }
  if (rename(path.c_str(), aside.c_str()) != 0)
    return Errno("cannot rename " + path + " to " + aside, errno);
  return aside;
}

bool RemoveStaleTemporary(const std::string& directory, const std::string& name) {
  std::string temporary = JoinPath(directory, name) + std::string(kTemporarySuffix);
  return unlink(temporary.c_str()) == 0;
}

}  // namespace ringgate
