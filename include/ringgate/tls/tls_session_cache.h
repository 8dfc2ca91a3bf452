// TlsSessionCache: client TLS sessions kept per upstream "host:port", for resumption.
//
// One per core: no locks, not thread-safe. Each peer keeps at most `max_per_peer` sessions, the
// newest last. Take() offers the newest live one: a TLS 1.3 session (single use, RFC 8446 C.4)
// is removed when taken, a TLS 1.2 session stays for the next connection. Expired sessions are
// dropped as they are met. Use one cache with one TlsContext: sessions are not portable between
// differently configured contexts.
#pragma once

#include <openssl/base.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ringgate {

struct SslSessionFree {
  void operator()(SSL_SESSION* session) const;
};
using SslSessionPtr = std::unique_ptr<SSL_SESSION, SslSessionFree>;

class TlsSessionCache {
 public:
  explicit TlsSessionCache(size_t max_per_peer = 4, size_t max_peers = 1024)
      : max_per_peer_(max_per_peer == 0 ? 1 : max_per_peer), max_peers_(max_peers) {}
  ~TlsSessionCache();
  TlsSessionCache(const TlsSessionCache&) = delete;
  TlsSessionCache& operator=(const TlsSessionCache&) = delete;

  // Stores `session` for `peer` (ownership of the reference passes to the cache). Sessions that
  // are not resumable are dropped; beyond max_per_peer the oldest goes. Once max_peers peers are
  // known, a new peer evicts some other peer's sessions.
  void Put(std::string_view peer, SslSessionPtr session);

  // The session to offer on the next connection to `peer`, or null. `now_unix` (seconds) is for
  // tests; 0 means the wall clock.
  SslSessionPtr Take(std::string_view peer, uint64_t now_unix = 0);

  void Erase(std::string_view peer);
  void Clear() { peers_.clear(); }

  size_t size(std::string_view peer) const;
  size_t peers() const { return peers_.size(); }

  // The cache key for a host and port: "host:port".
  static std::string Key(std::string_view host, uint16_t port);

 private:
  size_t max_per_peer_;
  size_t max_peers_;
  std::unordered_map<std::string, std::deque<SslSessionPtr>> peers_;
};

}  // namespace ringgate
