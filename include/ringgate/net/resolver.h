// Resolver: host names resolved off the reactors. A background thread resolves every watched
// name (IPv4 and IPv6) at start and again every refresh interval; reactors read the latest
// answer when they open a connection, which never blocks them on DNS.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ringgate/common/result.h"

namespace ringgate {

struct ResolvedAddress {
  sockaddr_storage address;
  socklen_t length;
};

using AddressList = std::vector<ResolvedAddress>;

class Resolver {
 public:
  explicit Resolver(uint32_t refresh_ms = 60'000, uint32_t retry_ms = 2'000);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Adds a name to keep resolved. Numeric addresses are answered at once without DNS; names are
  // resolved by the background thread as soon as it runs (Start), then every refresh interval.
  void Watch(const std::string& host, uint16_t port);
  // Starts the refresh thread.
  void Start();
  void Stop();

  // The latest answer (IPv4 first, then IPv6), or nullptr while none has succeeded. Cheap: one
  // short critical section on a connection's start, never per request.
  std::shared_ptr<const AddressList> Lookup(const std::string& host, uint16_t port) const;
  // The error of the last failed resolution of that name, if any.
  std::string LastError(const std::string& host, uint16_t port) const;

  // An IPv4 or IPv6 literal: needs no DNS.
  static bool IsNumeric(const std::string& host);

  // Resolves now (blocking): numeric addresses and names through getaddrinfo.
  static Result<AddressList> ResolveBlocking(const std::string& host, uint16_t port);

 private:
  struct Entry {
    std::shared_ptr<const AddressList> addresses;
    std::string last_error;
  };
  using Key = std::pair<std::string, uint16_t>;
  void RefreshLoop();
  void RefreshOne(const Key& key);

  uint32_t refresh_ms_;
  uint32_t retry_ms_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<Key, Entry> entries_;
  std::vector<Key> pending_first_;  // watched names not yet resolved once
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ringgate
