#include "ringgate/admin/session.h"

#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

namespace ringgate {
namespace {

constexpr uint8_t kTokenVersion = 1;
constexpr size_t kPayloadBytes = 1 + 16 + 8 + 8;
constexpr size_t kMacBytes = SHA256_DIGEST_LENGTH;
constexpr size_t kTokenBytes = kPayloadBytes + kMacBytes;

// Drawn once per process, on first use (thread-safe static initialisation), read-only after.
const std::array<uint8_t, 32>& SigningKey() {
  static const std::array<uint8_t, 32> key = [] {
    std::array<uint8_t, 32> k{};
    RAND_bytes(k.data(), k.size());
    return k;
  }();
  return key;
}

void PutInt64(uint8_t* out, int64_t value) {
  uint64_t v = static_cast<uint64_t>(value);
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

int64_t GetInt64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | in[i];
  return static_cast<int64_t>(v);
}

void Mac(const uint8_t* payload, uint8_t* out) {
  unsigned int length = kMacBytes;
  const std::array<uint8_t, 32>& key = SigningKey();
  HMAC(EVP_sha256(), key.data(), key.size(), payload, kPayloadBytes, out, &length);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string IssueSessionToken(int64_t now_ms, SessionClaims* claims) {
  SessionClaims made;
  RAND_bytes(made.id.data(), made.id.size());
  made.issued_ms = now_ms;
  made.expires_ms = now_ms + kSessionLifetimeMs;
  uint8_t bytes[kTokenBytes];
  bytes[0] = kTokenVersion;
  memcpy(bytes + 1, made.id.data(), made.id.size());
  PutInt64(bytes + 17, made.issued_ms);
  PutInt64(bytes + 25, made.expires_ms);
  Mac(bytes, bytes + kPayloadBytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(kTokenBytes * 2);
  for (uint8_t b : bytes) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 15]);
  }
  if (claims != nullptr)
    *claims = made;
  return token;
}

std::optional<SessionClaims> VerifySessionToken(std::string_view token, int64_t now_ms) {
  if (token.size() != kTokenBytes * 2)
    return std::nullopt;
  uint8_t bytes[kTokenBytes];
  for (size_t i = 0; i < kTokenBytes; ++i) {
    int hi = HexValue(token[2 * i]);
    int lo = HexValue(token[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  uint8_t mac[kMacBytes];
  Mac(bytes, mac);
  if (CRYPTO_memcmp(mac, bytes + kPayloadBytes, kMacBytes) != 0 || bytes[0] != kTokenVersion)
    return std::nullopt;
  SessionClaims claims;
  memcpy(claims.id.data(), bytes + 1, claims.id.size());
  claims.issued_ms = GetInt64(bytes + 17);
  claims.expires_ms = GetInt64(bytes + 25);
  if (now_ms >= claims.expires_ms)
    return std::nullopt;
  return claims;
}

std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t end = header.find(';');
    std::string_view item = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || item.substr(0, eq) != name)
      continue;
    std::string_view value = item.substr(eq + 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
      value.remove_suffix(1);
    return value;
  }
  return {};
}

size_t SessionRevocations::IdHash::operator()(const std::array<uint8_t, 16>& id) const {
  uint64_t h;
  memcpy(&h, id.data(), sizeof(h));  // random bytes: any eight of them are a good hash
  return static_cast<size_t>(h);
}

void SessionRevocations::Revoke(const SessionClaims& claims, int64_t now_ms) {
  if (claims.issued_ms < not_before_ms_)
    return;  // already covered
  if (revoked_.size() >= kMaxRevocations) {
    std::erase_if(revoked_, [now_ms](const auto& entry) { return entry.second <= now_ms; });
  }
  if (revoked_.size() >= kMaxRevocations) {
    // Too many live revocations to keep: revoke every session issued so far instead.
    revoked_.clear();
    not_before_ms_ = now_ms + 1;
    return;
  }
  revoked_[claims.id] = claims.expires_ms;
}

bool SessionRevocations::IsRevoked(const SessionClaims& claims) const {
  return claims.issued_ms < not_before_ms_ || revoked_.count(claims.id) > 0;
}

LoginThrottle::LoginThrottle(uint64_t seed) : seed_(seed), entries_(kCapacity) {}

size_t LoginThrottle::SetOf(const IpAddress& ip) const {
  uint64_t h = seed_;
  for (uint8_t b : ip.bytes) {
    h ^= b;
    h *= 0x100000001B3ull;
  }
  h ^= h >> 29;
  return static_cast<size_t>(h % (kCapacity / kWays)) * kWays;
}

const LoginThrottle::Entry* LoginThrottle::Find(const IpAddress& ip, int64_t now_ms) const {
  size_t set = SetOf(ip);
  for (size_t i = set; i < set + kWays; ++i) {
    const Entry& e = entries_[i];
    if (e.failures > 0 && e.ip == ip)
      return now_ms - e.last_failure_ms >= kForgetMs ? nullptr : &e;
  }
  return nullptr;
}

int64_t LoginThrottle::BlockedFor(const IpAddress& ip, int64_t now_ms) const {
  const Entry* e = Find(ip, now_ms);
  return e == nullptr ? 0 : std::max<int64_t>(e->blocked_until_ms - now_ms, 0);
}

uint32_t LoginThrottle::failures(const IpAddress& ip, int64_t now_ms) const {
  const Entry* e = Find(ip, now_ms);
  return e == nullptr ? 0 : e->failures;
}

void LoginThrottle::RecordFailure(const IpAddress& ip, int64_t now_ms) {
  size_t set = SetOf(ip);
  Entry* slot = nullptr;
  Entry* oldest = &entries_[set];
  for (size_t i = set; i < set + kWays; ++i) {
    Entry& e = entries_[i];
    if (e.failures > 0 && e.ip == ip) {
      slot = &e;
      break;
    }
    if (e.failures == 0 || now_ms - e.last_failure_ms >= kForgetMs) {
      if (slot == nullptr)
        slot = &e;
      continue;
    }
    if (e.last_failure_ms < oldest->last_failure_ms)
      oldest = &e;
  }
  if (slot == nullptr)
    slot = oldest;
  if (slot->failures == 0 || slot->ip != ip || now_ms - slot->last_failure_ms >= kForgetMs)
    *slot = Entry{ip, 0, 0, 0};
  ++slot->failures;
  slot->last_failure_ms = now_ms;
  if (slot->failures >= kFreeFailures) {
    uint32_t doublings = std::min<uint32_t>(slot->failures - kFreeFailures, 20);
    int64_t block = std::min<int64_t>(int64_t{1000} << doublings, kMaxBlockMs);
    slot->blocked_until_ms = std::max(slot->blocked_until_ms, now_ms + block);
  }
}

void LoginThrottle::RecordSuccess(const IpAddress& ip) {
  size_t set = SetOf(ip);
  for (size_t i = set; i < set + kWays; ++i) {
    if (entries_[i].failures > 0 && entries_[i].ip == ip)
      entries_[i] = Entry{};
  }
}

size_t LoginThrottle::size() const {
  size_t n = 0;
  for (const Entry& e : entries_)
    n += e.failures > 0 ? 1 : 0;
  return n;
}

}  // namespace ringgate
