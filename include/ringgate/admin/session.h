// Dashboard sign-in: session tokens, their revocation, and the slow-down of failed sign-ins.
//
// SessionToken: a token is "<payload>.<mac>" in base64url, payload = version, 16 random bytes
// (the session id), issue and expiry times (epoch ms); mac = HMAC-SHA256 of the payload under a
// key drawn once per process (so a restart signs everybody out). Every core checks a token alone:
// no shared table. Lifetime: kSessionLifetimeMs from sign-in, not sliding.
//
// SessionRevocations: logout revokes a token's id on every core (AdminService broadcasts it and
// answers once every core has it). One per core; bounded: entries are dropped when their token
// would have expired anyway, and past kMaxRevocations every session issued so far is revoked at
// once (not_before), which fails safe.
//
// LoginThrottle: failed password checks per client IP. After kFreeFailures failures, each further
// failure blocks the IP for 1 s, 2 s, 4 s, ... up to kMaxBlockMs; while blocked every password
// attempt from it is answered 429 (the right password too). kForgetMs after its last failure an
// IP starts from zero; a success clears it. One per core, fed every core's failures (broadcast).
// Memory is a fixed table of kCapacity IPs (8-way sets, seeded hash); a full set evicts its
// least recently failed IP.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ringgate/policy/rate_limit.h"

namespace ringgate {

inline constexpr int64_t kSessionLifetimeMs = 7LL * 24 * 3600 * 1000;
inline constexpr char kSessionCookieName[] = "ringgate_session";

struct SessionClaims {
  std::array<uint8_t, 16> id{};
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
};

// A new token for a session starting at now_ms.
std::string IssueSessionToken(int64_t now_ms, SessionClaims* claims = nullptr);
// The token's claims when its MAC is right and it has not expired; std::nullopt otherwise.
std::optional<SessionClaims> VerifySessionToken(std::string_view token, int64_t now_ms);
// The value of cookie `name` in a Cookie header ("a=1; ringgate_session=...; b=2"), or empty.
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);

class SessionRevocations {
 public:
  static constexpr size_t kMaxRevocations = 10'000;

  void Revoke(const SessionClaims& claims, int64_t now_ms);
  bool IsRevoked(const SessionClaims& claims) const;
  size_t size() const { return revoked_.size(); }
  int64_t not_before_ms() const { return not_before_ms_; }

 private:
  struct IdHash {
    size_t operator()(const std::array<uint8_t, 16>& id) const;
  };
  std::unordered_map<std::array<uint8_t, 16>, int64_t, IdHash> revoked_;  // id -> expiry
  int64_t not_before_ms_ = 0;
};

class LoginThrottle {
 public:
  static constexpr uint32_t kFreeFailures = 5;
  static constexpr int64_t kMaxBlockMs = 300'000;
  static constexpr int64_t kForgetMs = 15 * 60'000;
  static constexpr size_t kCapacity = 4096;

  explicit LoginThrottle(uint64_t seed = 0x9E3779B97F4A7C15ull);

  // Milliseconds the IP must still wait before a password attempt, 0 when it may try.
  int64_t BlockedFor(const IpAddress& ip, int64_t now_ms) const;
  // A wrong password from ip (from this core or another).
  void RecordFailure(const IpAddress& ip, int64_t now_ms);
  // The right password: the IP starts from zero.
  void RecordSuccess(const IpAddress& ip);
  uint32_t failures(const IpAddress& ip, int64_t now_ms) const;
  size_t size() const;

 private:
  static constexpr size_t kWays = 8;
  struct Entry {
    IpAddress ip;
    uint32_t failures = 0;  // 0: free slot
    int64_t last_failure_ms = 0;
    int64_t blocked_until_ms = 0;
  };
  size_t SetOf(const IpAddress& ip) const;
  const Entry* Find(const IpAddress& ip, int64_t now_ms) const;

  uint64_t seed_;
  std::vector<Entry> entries_;
};

}  // namespace ringgate
