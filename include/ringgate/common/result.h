// Status and Result<T>: error values without exceptions on the data plane.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace ringgate {

// An error message with an optional errno. An empty message means success, so returning OK
// allocates nothing.
class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message, int sys_errno = 0) {
    Status s;
    s.message_ = message.empty() ? std::string("unknown error") : std::move(message);
    s.errno_ = sys_errno;
    return s;
  }

  bool ok() const { return message_.empty(); }
  const std::string& message() const { return message_; }
  int sys_errno() const { return errno_; }

 private:
  std::string message_;
  int errno_ = 0;
};

// A value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  const T& value() const& { return std::get<T>(data_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Status& status() const { return std::get<Status>(data_); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace ringgate
