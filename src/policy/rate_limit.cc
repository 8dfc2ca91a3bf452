#include "ringgate/policy/rate_limit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

constexpr std::string_view kMinuteMessage = "Too many requests per minute";
constexpr std::string_view kDayMessage = "Too many requests per day from this IP";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 5)
    return false;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
  }
  return true;
}

// inet_pton on a view (it needs a terminated string). Both forms end in the mapped layout.
std::optional<IpAddress> ParseBare(std::string_view s, bool v6) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (s.empty() || s.size() >= sizeof(buf))
    return std::nullopt;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  IpAddress ip;
  if (v6) {
    if (inet_pton(AF_INET6, buf, ip.bytes.data()) != 1)
      return std::nullopt;
    return ip;
  }
  uint8_t v4[4];
  if (inet_pton(AF_INET, buf, v4) != 1)
    return std::nullopt;
  ip.bytes[10] = 0xff;
  ip.bytes[11] = 0xff;
  std::memcpy(&ip.bytes[12], v4, 4);
  return ip;
}

bool PrefixMatch(const IpAddress& a, const IpAddress& b, unsigned bits) {
  unsigned full = bits / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), full) != 0)
    return false;
  unsigned rest = bits % 8;
  if (rest == 0)
    return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (b.bytes[full] & mask);
}

}  // namespace

// ---- IpAddress ----

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  text = Trim(text);
  if (text.empty())
    return std::nullopt;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && AllDigits(rest.substr(1))))
      return std::nullopt;
    return ParseBare(text.substr(1, close - 1), true);
  }
  size_t colons = std::count(text.begin(), text.end(), ':');
  if (colons == 0)
    return ParseBare(text, false);
  if (colons == 1) {  // a.b.c.d:port
    size_t colon = text.find(':');
    if (!AllDigits(text.substr(colon + 1)))
      return std::nullopt;
    return ParseBare(text.substr(0, colon), false);
  }
  return ParseBare(text, true);
}

std::optional<IpAddress> IpAddress::FromSockaddr(const sockaddr* address) {
  if (address == nullptr)
    return std::nullopt;
  IpAddress ip;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    std::memcpy(&ip.bytes[12], &in->sin_addr, 4);
    return ip;
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    std::memcpy(ip.bytes.data(), &in6->sin6_addr, 16);
    return ip;
  }
  return std::nullopt;
}

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress ip;
  ip.bytes[10] = 0xff;
  ip.bytes[11] = 0xff;
  ip.bytes[12] = static_cast<uint8_t>(host_order >> 24);
  ip.bytes[13] = static_cast<uint8_t>(host_order >> 16);
  ip.bytes[14] = static_cast<uint8_t>(host_order >> 8);
  ip.bytes[15] = static_cast<uint8_t>(host_order);
  return ip;
}

bool IpAddress::is_v4() const {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), kMapped, 12) == 0;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  const char* out = is_v4() ? inet_ntop(AF_INET, &bytes[12], buf, sizeof(buf))
                            : inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  return out == nullptr ? std::string() : std::string(out);
}

// ---- TrustedProxies ----

Result<TrustedProxies> TrustedProxies::Parse(std::string_view list) {
  TrustedProxies out;
  while (true) {
    size_t comma = list.find(',');
    std::string_view item = Trim(list.substr(0, comma));
    if (!item.empty()) {
      size_t slash = item.find('/');
      std::string_view addr = Trim(item.substr(0, slash));
      bool v6 = addr.find(':') != std::string_view::npos;
      std::optional<IpAddress> ip = ParseBare(addr, v6);
      if (!ip.has_value())
        return Status::Error("TRUSTED_PROXIES: not an IP address or CIDR: " + std::string(item));
      unsigned max_bits = v6 ? 128 : 32;
      unsigned bits = max_bits;
      if (slash != std::string_view::npos) {
        std::string_view len = Trim(item.substr(slash + 1));
        if (len.empty() || len.size() > 3 || !AllDigits(len))
          return Status::Error("TRUSTED_PROXIES: bad prefix length: " + std::string(item));
        bits = 0;
        for (char c : len)
          bits = bits * 10 + static_cast<unsigned>(c - '0');
        if (bits > max_bits)
          return Status::Error("TRUSTED_PROXIES: bad prefix length: " + std::string(item));
      }
      Range range;
      range.prefix = static_cast<uint8_t>(v6 ? bits : bits + 96);
      // Mask the host bits so Contains() can compare whole bytes.
      for (unsigned i = 0; i < 16; ++i) {
        unsigned lo = i * 8;
        if (lo >= range.prefix)
          ip->bytes[i] = 0;
        else if (range.prefix - lo < 8)
          ip->bytes[i] &= static_cast<uint8_t>(0xff << (8 - (range.prefix - lo)));
      }
      range.network = *ip;
      out.ranges_.push_back(range);
    }
    if (comma == std::string_view::npos)
      break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

bool TrustedProxies::Contains(const IpAddress& address) const {
  for (const Range& r : ranges_) {
    if (PrefixMatch(address, r.network, r.prefix))
      return true;
  }
  return false;
}

// ---- ClientIp ----

IpAddress ClientIp(const HttpRequest& request, const IpAddress& peer,
                   const TrustedProxies& trusted) {
  if (trusted.empty() || !trusted.Contains(peer))
    return peer;
  IpAddress current = peer;
  // Right to left over all X-Forwarded-For values (later headers carry later hops).
  for (size_t h = request.headers.size(); h-- > 0;) {
    if (!EqualsIgnoreCase(request.headers[h].name, "x-forwarded-for"))
      continue;
    std::string_view list = request.headers[h].value;
    while (true) {
      size_t comma = list.rfind(',');
      std::string_view item = Trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
      if (!item.empty()) {
        std::optional<IpAddress> hop = IpAddress::Parse(item);
        if (!hop.has_value())
          return current;  // garbage: believe the last trusted hop, nothing to its left
        current = *hop;
        if (!trusted.Contains(current))
          return current;
      }
      if (comma == std::string_view::npos)
        break;
      list = list.substr(0, comma);
    }
  }
  return current;
}

// ---- RateDecision ----

std::string RateDecision::ErrorBody() const {
  if (allowed())
    return {};
  std::string_view message =
      outcome == RateLimitOutcome::kMinuteExceeded ? kMinuteMessage : kDayMessage;
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.Field("message", message);
  w.Field("type", "rate_limit_error");
  w.Key("param");
  w.Null();
  w.Field("code", "rate_limit_exceeded");
  w.EndObject();
  w.Key("detail");
  w.BeginObject();
  w.Field("message", message);
  w.FieldInt("limit", limit);
  w.EndObject();
  w.EndObject();
  return out;
}

std::string RateDecision::Headers() const {
  if (allowed())
    return {};
  return "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
}

// ---- RateLimiter ----

RateLimiter::RateLimiter(RateLimitSettings settings) : settings_(settings) {
  uint32_t capacity = kWays;
  while (capacity < settings_.capacity && capacity < (1u << 30))
    capacity <<= 1;
  settings_.capacity = capacity;
  entries_.resize(capacity);
  dirty_.reserve(capacity);
  set_mask_ = capacity / kWays - 1;
}

void RateLimiter::SetLimits(uint32_t per_minute, uint32_t per_day) {
  settings_.per_minute = per_minute;
  settings_.per_day = per_day;
}

size_t RateLimiter::memory_bytes() const {
  return entries_.capacity() * sizeof(Entry) + dirty_.capacity() * sizeof(uint32_t);
}

uint32_t RateLimiter::SetOf(const IpAddress& ip) const {
  uint64_t h = XXH64(ip.bytes.data(), ip.bytes.size(), settings_.hash_seed);
  return static_cast<uint32_t>(h >> 32) & set_mask_;
}

size_t RateLimiter::FindIndex(const IpAddress& ip) const {
  size_t base = static_cast<size_t>(SetOf(ip)) * kWays;
  for (size_t i = base; i < base + kWays; ++i) {
    if (entries_[i].used && entries_[i].ip == ip)
      return i;
  }
  return kNotFound;
}

const RateLimiter::Entry* RateLimiter::Find(const IpAddress& ip) const {
  size_t index = FindIndex(ip);
  return index == kNotFound ? nullptr : &entries_[index];
}

RateLimiter::Entry& RateLimiter::FindOrClaim(const IpAddress& ip, uint32_t day) {
  Entry* set = &entries_[static_cast<size_t>(SetOf(ip)) * kWays];
  Entry* victim = nullptr;
  int victim_rank = -1;  // 2 free, 1 stale day, 0 in use (then the oldest last_use)
  uint32_t victim_age = 0;
  for (uint32_t w = 0; w < kWays; ++w) {
    Entry& e = set[w];
    if (e.used && e.ip == ip)
      return e;
    int rank = !e.used ? 2 : (e.day < day ? 1 : 0);
    uint32_t age = tick_ - e.last_use;
    if (rank > victim_rank || (rank == victim_rank && age > victim_age)) {
      victim = &e;
      victim_rank = rank;
      victim_age = age;
    }
  }
  if (victim->used)
    ++evictions_;
  else
    ++used_;
  bool dirty = victim->dirty;  // keep its place in dirty_ consistent
  *victim = Entry();
  victim->ip = ip;
  victim->used = true;
  victim->dirty = dirty;
  victim->last_use = tick_;
  return *victim;
}

RateDecision RateLimiter::Check(const IpAddress& ip, uint64_t now_unix_s) {
  uint32_t minute = static_cast<uint32_t>(now_unix_s / 60);
  uint32_t day = static_cast<uint32_t>(now_unix_s / 86400);
  ++tick_;
  Entry& e = FindOrClaim(ip, day);
  e.last_use = tick_;
  if (e.minute != minute) {
    e.minute = minute;
    e.minute_count = 0;
    e.pending_minute = 0;
  }
  if (e.day != day) {
    e.day = day;
    e.day_count = 0;
    e.pending_day = 0;
  }
  // Counted before the checks, refused requests included (HAJIMI).
  ++e.minute_count;
  ++e.day_count;
  ++e.pending_minute;
  ++e.pending_day;
  if (!e.dirty) {
    e.dirty = true;
    dirty_.push_back(static_cast<uint32_t>(&e - entries_.data()));  // within reserve: no alloc
  }

  RateDecision d;
  if (settings_.per_minute != 0 && e.minute_count > settings_.per_minute) {
    d.outcome = RateLimitOutcome::kMinuteExceeded;
    d.limit = settings_.per_minute;
    d.retry_after_s = static_cast<uint32_t>(60 - now_unix_s % 60);
  } else if (settings_.per_day != 0 && e.day_count > settings_.per_day) {
    d.outcome = RateLimitOutcome::kDayExceeded;
    d.limit = settings_.per_day;
    d.retry_after_s = static_cast<uint32_t>(86400 - now_unix_s % 86400);
  }
  return d;
}

size_t RateLimiter::TakeDeltas(std::vector<RateDelta>* out) {
  size_t before = out->size();
  for (uint32_t index : dirty_) {
    Entry& e = entries_[index];
    e.dirty = false;
    if (!e.used || (e.pending_minute == 0 && e.pending_day == 0))
      continue;
    RateDelta d;
    d.ip = e.ip;
    d.minute = e.minute;
    d.day = e.day;
    d.minute_count = e.pending_minute;
    d.day_count = e.pending_day;
    out->push_back(d);
    e.pending_minute = 0;
    e.pending_day = 0;
  }
  dirty_.clear();
  return out->size() - before;
}

void RateLimiter::Merge(const RateDelta& delta) {
  size_t index = FindIndex(delta.ip);
  if (index == kNotFound && delta.day_count == 0)
    return;
  Entry& e = index != kNotFound ? entries_[index] : FindOrClaim(delta.ip, delta.day);
  if (delta.day > e.day) {
    e.day = delta.day;
    e.day_count = 0;
    e.pending_day = 0;
  }
  if (delta.day == e.day)
    e.day_count += delta.day_count;
  if (delta.minute > e.minute) {
    e.minute = delta.minute;
    e.minute_count = 0;
    e.pending_minute = 0;
  }
  if (delta.minute == e.minute)
    e.minute_count += delta.minute_count;
}

uint32_t RateLimiter::MinuteCount(const IpAddress& ip, uint64_t now_unix_s) const {
  const Entry* e = Find(ip);
  return e != nullptr && e->minute == now_unix_s / 60 ? e->minute_count : 0;
}

uint32_t RateLimiter::DayCount(const IpAddress& ip, uint64_t now_unix_s) const {
  const Entry* e = Find(ip);
  return e != nullptr && e->day == now_unix_s / 86400 ? e->day_count : 0;
}

}  // namespace ringgate
