#include "ringgate/tls/tls_session_cache.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <ctime>
#include <utility>

namespace ringgate {

namespace {

bool Expired(const SSL_SESSION* session, uint64_t now) {
  return SSL_SESSION_get_time(session) + SSL_SESSION_get_timeout(session) <= now;
}

}  // namespace

void SslSessionFree::operator()(SSL_SESSION* session) const {
  SSL_SESSION_free(session);
}

TlsSessionCache::~TlsSessionCache() = default;

std::string TlsSessionCache::Key(std::string_view host, uint16_t port) {
  std::string key;
  const bool ipv6 = host.find(':') != std::string_view::npos;
  key.reserve(host.size() + 8);
  if (ipv6)
    key += '[';
  key += host;
  if (ipv6)
    key += ']';
  key += ':';
  key += std::to_string(port);
  return key;
}

void TlsSessionCache::Put(std::string_view peer, SslSessionPtr session) {
  if (session == nullptr || !SSL_SESSION_is_resumable(session.get()))
    return;
  auto it = peers_.find(std::string(peer));
  if (it == peers_.end()) {
    if (max_peers_ == 0)
      return;
    if (peers_.size() >= max_peers_)
      peers_.erase(peers_.begin());
    it = peers_.emplace(std::string(peer), std::deque<SslSessionPtr>()).first;
  }
  std::deque<SslSessionPtr>& sessions = it->second;
  if (!SSL_SESSION_should_be_single_use(session.get())) {
    // A reusable (TLS 1.2) session replaces older reusable ones: the newest ticket is the one
    // the server most likely still accepts, and offering it again costs nothing.
    std::erase_if(sessions, [](const SslSessionPtr& s) {
      return !SSL_SESSION_should_be_single_use(s.get());
    });
  }
  sessions.push_back(std::move(session));
  while (sessions.size() > max_per_peer_)
    sessions.pop_front();
}

SslSessionPtr TlsSessionCache::Take(std::string_view peer, uint64_t now_unix) {
  auto it = peers_.find(std::string(peer));
  if (it == peers_.end())
    return nullptr;
  const uint64_t now = now_unix != 0 ? now_unix : static_cast<uint64_t>(std::time(nullptr));
  std::deque<SslSessionPtr>& sessions = it->second;
  std::erase_if(sessions, [now](const SslSessionPtr& s) { return Expired(s.get(), now); });
  SslSessionPtr out;
  if (!sessions.empty()) {
    if (SSL_SESSION_should_be_single_use(sessions.back().get())) {
      out = std::move(sessions.back());
      sessions.pop_back();
    } else {
      SSL_SESSION_up_ref(sessions.back().get());
      out.reset(sessions.back().get());
    }
  }
  if (sessions.empty())
    peers_.erase(it);
  return out;
}

void TlsSessionCache::Erase(std::string_view peer) {
  peers_.erase(std::string(peer));
}

size_t TlsSessionCache::size(std::string_view peer) const {
  auto it = peers_.find(std::string(peer));
  return it == peers_.end() ? 0 : it->second.size();
}

}  // namespace ringgate
