// Client address and per-IP rate limits (hajimi-behaviour.md 11, with the 19 fixes).
//
// ClientIp: the socket peer, unless the peer is a trusted proxy (TRUSTED_PROXIES: comma list of
// IPv4/IPv6 addresses and CIDRs). Then X-Forwarded-For is walked from the right, skipping
// trusted hops; the first untrusted address is the client. Everything left of it is ignored, so a
// client cannot spoof its address by sending its own X-Forwarded-For. An entry that does not
// parse ends the walk: the hop that appended it (the last trusted address) is the client. When
// every entry is trusted, the leftmost one is the client. Several X-Forwarded-For headers are
// read as one comma list, in order. Entries may carry a port ("1.2.3.4:5", "[::1]:5").
// The RFC 7239 Forwarded header and X-Real-IP are not read.
//
// RateLimiter: one per core. Per client IP, two fixed windows with HAJIMI's boundaries:
//   * minute = unix_seconds / 60, at most MAX_REQUESTS_PER_MINUTE per IP and minute
//     (HAJIMI counts this one globally per URL path; per IP is the documented fix, 19);
//   * day = unix_seconds / 86400 (UTC day), at most MAX_REQUESTS_PER_DAY_PER_IP.
// As in HAJIMI both counters are incremented before the checks (refused requests count), the
// minute check runs first, and the limits can be changed live (SetLimits).
// Refusal: 429, Retry-After = seconds to the end of the window that refused (minute: 1..60,
// day: 1..86400), OpenAI error body with HAJIMI's "detail" beside it.
//
// Memory: a fixed table of `capacity` IPs (8-way set associative, allocated once). A new IP takes
// a free way of its set, else one whose day window is over, else the least recently used one.
// So memory is constant however many addresses arrive; an evicted IP starts again from zero
// (the price of the bound: a flood of distinct addresses that lands in the same set as a quiet
// client can reset that client's counters; the hash is seeded, so sets cannot be aimed at).
// Check() never allocates.
//
// Across cores: each core counts locally and decides alone with what it knows: its own counts
// plus the other cores' counts merged so far. Periodically (the caller's timer, e.g. every
// 100 ms) each core calls TakeDeltas() and sends the batch to every other core, which Merge()s
// it. Tolerance: an IP can exceed a limit by at most the requests other cores admitted for it and
// not yet exchanged, i.e. those of the last exchange period (and never by more than
// (cores - 1) x limit, when nothing is exchanged at all). With exchange after every request the
// limits are exact.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/common/result.h"
#include "ringgate/http/request.h"

namespace ringgate {

// An IPv4 or IPv6 address; IPv4 is held as the IPv4-mapped IPv6 address ::ffff:a.b.c.d, so the
// two forms of one IPv4 client (plain and mapped, from a dual-stack socket) compare equal.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};

  // "1.2.3.4", "::1", "[::1]", "1.2.3.4:8080", "[2001:db8::1]:443"; surrounding blanks allowed.
  static std::optional<IpAddress> Parse(std::string_view text);
  // AF_INET / AF_INET6 socket addresses; anything else gives std::nullopt.
  static std::optional<IpAddress> FromSockaddr(const sockaddr* address);
  static IpAddress V4(uint32_t host_order);

  bool is_v4() const;
  std::string ToString() const;  // "1.2.3.4" for IPv4 (mapped or not), RFC 5952 text for IPv6
  friend bool operator==(const IpAddress& a, const IpAddress& b) { return a.bytes == b.bytes; }
  friend bool operator!=(const IpAddress& a, const IpAddress& b) { return a.bytes != b.bytes; }
};

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // TRUSTED_PROXIES: comma list of addresses and CIDRs ("10.0.0.0/8, 127.0.0.1, fd00::/8").
  // Blanks around items are trimmed and empty items dropped (HAJIMI's list rules). Any item that
  // is not an address or a CIDR with a valid prefix length is an error naming it.
  static Result<TrustedProxies> Parse(std::string_view list);

  bool Contains(const IpAddress& address) const;
  bool empty() const { return ranges_.empty(); }
  size_t size() const { return ranges_.size(); }

 private:
  struct Range {
    IpAddress network;   // masked
    uint8_t prefix = 0;  // in IPv6 bits (IPv4 prefixes + 96)
  };
  std::vector<Range> ranges_;
};

// The client's address for rate limiting and logs (see the top of this file).
IpAddress ClientIp(const HttpRequest& request, const IpAddress& peer,
                   const TrustedProxies& trusted);

struct RateLimitSettings {
  uint32_t per_minute = 30;   // MAX_REQUESTS_PER_MINUTE; 0 = no per-minute limit
  uint32_t per_day = 600;     // MAX_REQUESTS_PER_DAY_PER_IP; 0 = no per-day limit
  uint32_t capacity = 32768;  // IPs tracked per core; rounded up to a power of two, at least 8
  uint64_t hash_seed = 0x5bd1e9955bd1e995ull;  // pass a random seed in the server
};

enum class RateLimitOutcome : uint8_t { kAllowed, kMinuteExceeded, kDayExceeded };

struct RateDecision {
  RateLimitOutcome outcome = RateLimitOutcome::kAllowed;
  uint32_t retry_after_s = 0;  // 0 when allowed
  uint32_t limit = 0;          // the limit that refused

  bool allowed() const { return outcome == RateLimitOutcome::kAllowed; }
  int status() const { return allowed() ? 200 : 429; }
  // {"error":{"message":"Too many requests per minute","type":"rate_limit_error","param":null,
  //  "code":"rate_limit_exceeded"},"detail":{"message":"Too many requests per minute","limit":30}}
  // ("... per day from this IP" for the daily limit). Empty when allowed.
  std::string ErrorBody() const;
  // "Retry-After: N\r\n" for the Responder's extra headers; empty when allowed.
  std::string Headers() const;
};

// A core's counts for one IP since its previous TakeDeltas(), for the other cores.
struct RateDelta {
  IpAddress ip;
  uint32_t minute = 0;  // window ids the counts belong to
  uint32_t day = 0;
  uint32_t minute_count = 0;
  uint32_t day_count = 0;
};

struct RateDeltaBatch {
  uint32_t from_core = 0;
  std::vector<RateDelta> deltas;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimitSettings settings = {});
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Counts one request from `ip` at `now_unix_s` (UTC seconds) and decides. Allocation-free.
  RateDecision Check(const IpAddress& ip, uint64_t now_unix_s);

  // Live limit changes (dashboard); 0 disables that limit.
  void SetLimits(uint32_t per_minute, uint32_t per_day);

  // Appends this core's unsent increments and clears them. Returns how many were appended.
  size_t TakeDeltas(std::vector<RateDelta>* out);
  // Adds another core's increments. Counts of a window older than ours are dropped; a newer
  // window replaces ours.
  void Merge(const RateDelta& delta);
  void Merge(const RateDeltaBatch& batch) {
    for (const RateDelta& d : batch.deltas)
      Merge(d);
  }

  // Known counts (local + merged) for tests and the dashboard; 0 when not tracked or stale.
  uint32_t MinuteCount(const IpAddress& ip, uint64_t now_unix_s) const;
  uint32_t DayCount(const IpAddress& ip, uint64_t now_unix_s) const;

  size_t size() const { return used_; }  // IPs tracked
  size_t capacity() const { return entries_.size(); }
  uint64_t evictions() const { return evictions_; }
  // Bytes held by the table and the delta list; constant after construction.
  size_t memory_bytes() const;

 private:
  static constexpr uint32_t kWays = 8;
  struct Entry {
    IpAddress ip;
    uint32_t minute = 0;
    uint32_t day = 0;
    uint32_t minute_count = 0;
    uint32_t day_count = 0;
    uint32_t pending_minute = 0;  // local increments not yet sent
    uint32_t pending_day = 0;
    uint32_t last_use = 0;  // tick_ at the last touch (LRU)
    bool used = false;
    bool dirty = false;  // listed in dirty_
  };

  static constexpr size_t kNotFound = SIZE_MAX;

  uint32_t SetOf(const IpAddress& ip) const;
  size_t FindIndex(const IpAddress& ip) const;
  const Entry* Find(const IpAddress& ip) const;
  // Finds the IP's entry or claims one for it (evicting); never fails.
  Entry& FindOrClaim(const IpAddress& ip, uint32_t day);

  RateLimitSettings settings_;
  std::vector<Entry> entries_;   // sets of kWays consecutive entries
  std::vector<uint32_t> dirty_;  // indices with pending increments; capacity() reserved
  uint32_t set_mask_ = 0;
  uint32_t tick_ = 0;
  size_t used_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace ringgate
