#include "ringgate/net/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <chrono>
#include <cstring>

#include "ringgate/common/log.h"

namespace ringgate {

Resolver::Resolver(uint32_t refresh_ms, uint32_t retry_ms)
    : refresh_ms_(refresh_ms), retry_ms_(retry_ms) {}

Resolver::~Resolver() { Stop(); }

bool Resolver::IsNumeric(const std::string& host) {
  in6_addr scratch;
  return inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &scratch) == 1;
}

Result<AddressList> Resolver::ResolveBlocking(const std::string& host, uint16_t port) {
  addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
  addrinfo* info = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &info);
  if (rc != 0 && rc == EAI_NONAME) {
    // AI_ADDRCONFIG hides loopback-only answers on hosts without other interfaces: retry plain.
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &info);
  }
  if (rc != 0) {
    return Status::Error("cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  AddressList v4, v6;
  for (addrinfo* ai = info; ai != nullptr; ai = ai->ai_next) {
    ResolvedAddress r;
    memset(&r.address, 0, sizeof(r.address));
    memcpy(&r.address, ai->ai_addr, ai->ai_addrlen);
    r.length = ai->ai_addrlen;
    (ai->ai_family == AF_INET6 ? v6 : v4).push_back(r);
  }
  freeaddrinfo(info);
  v4.insert(v4.end(), v6.begin(), v6.end());
  if (v4.empty()) return Status::Error("no address for '" + host + "'");
  return v4;
}

void Resolver::Watch(const std::string& host, uint16_t port) {
  Key key(host, port);
  // Numeric addresses need no DNS: answer them here, once.
  bool numeric = IsNumeric(host);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.count(key)) return;
    entries_[key];
    if (!numeric) {
      pending_first_.push_back(key);
      wake_.notify_all();
      return;
    }
  }
  RefreshOne(key);
}

void Resolver::RefreshOne(const Key& key) {
  Result<AddressList> result = ResolveBlocking(key.first, key.second);
  std::lock_guard<std::mutex> lock(mutex_);
  Entry& entry = entries_[key];
  if (result.ok()) {
    entry.addresses = std::make_shared<const AddressList>(std::move(result.value()));
    entry.last_error.clear();
  } else {
    // Keep the last good answer: a passing DNS failure must not take the upstream away.
    entry.last_error = result.status().message();
    RG_LOG(kWarning, "%s", entry.last_error.c_str());
  }
}

void Resolver::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { RefreshLoop(); });
}

void Resolver::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Resolver::RefreshLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!pending_first_.empty()) {
      std::vector<Key> first;
      first.swap(pending_first_);
      lock.unlock();
      for (const Key& key : first) RefreshOne(key);
      lock.lock();
      continue;
    }
    bool any_failed = false;
    for (const auto& [key, entry] : entries_) any_failed |= !entry.addresses;
    uint32_t wait_ms = any_failed ? retry_ms_ : refresh_ms_;
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [this] { return stopping_ || !pending_first_.empty(); });
    if (!pending_first_.empty()) continue;
    if (stopping_) break;
    std::vector<Key> keys;
    for (const auto& [key, entry] : entries_) keys.push_back(key);
    lock.unlock();
    for (const Key& key : keys) RefreshOne(key);
    lock.lock();
  }
}

std::shared_ptr<const AddressList> Resolver::Lookup(const std::string& host, uint16_t port) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(Key(host, port));
  return it == entries_.end() ? nullptr : it->second.addresses;
}

std::string Resolver::LastError(const std::string& host, uint16_t port) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(Key(host, port));
  return it == entries_.end() ? "not resolved" : it->second.last_error;
}

}  // namespace ringgate
