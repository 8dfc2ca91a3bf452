#include "ringgate/upstream/upstream_pool.h"

#include <algorithm>
#include <charconv>

#include "ringgate/common/clock.h"
#include "ringgate/config/config.h"
#include "ringgate/io/op_tag.h"
#include "ringgate/observe/metrics.h"
#include "ringgate/tls/tls_context.h"
#include "ringgate/tls/tls_session_cache.h"
#include "ringgate/upstream/upstream_connection.h"

namespace ringgate {

const char* UpstreamErrorName(UpstreamErrorKind kind) {
  switch (kind) {
    case UpstreamErrorKind::kDns:
      return "dns";
    case UpstreamErrorKind::kConnectRefused:
      return "connect_refused";
    case UpstreamErrorKind::kConnectTimeout:
      return "connect_timeout";
    case UpstreamErrorKind::kConnectFailed:
      return "connect_failed";
    case UpstreamErrorKind::kProxy:
      return "proxy";
    case UpstreamErrorKind::kTlsVerify:
      return "tls_verify";
    case UpstreamErrorKind::kTlsHandshake:
      return "tls_handshake";
    case UpstreamErrorKind::kTlsTimeout:
      return "tls_timeout";
    case UpstreamErrorKind::kReset:
      return "reset";
    case UpstreamErrorKind::kFirstByteTimeout:
      return "first_byte_timeout";
    case UpstreamErrorKind::kIdleTimeout:
      return "idle_timeout";
    case UpstreamErrorKind::kProtocol:
      return "protocol";
  }
  return "unknown";
}

Result<UpstreamSettings> UpstreamSettingsFromConfig(const Config& config) {
  UpstreamSettings settings;
  Result<Url> base = ParseUrl(config.gemini_base_url);
  if (!base)
    return Status::Error("GEMINI_BASE_URL: " + base.status().message());
  settings.base = std::move(*base);
  if (!config.https_proxy.empty() && !NoProxyMatches(config.no_proxy, settings.base.host)) {
    Result<Url> proxy = ParseUrl(config.https_proxy);
    if (!proxy)
      return Status::Error("HTTPS_PROXY: " + proxy.status().message());
    settings.proxy = std::move(*proxy);
  }
  settings.ca_file = config.upstream_ca_file;
  settings.connect_timeout_ms = config.upstream_connect_timeout_ms;
  settings.tls_handshake_timeout_ms = config.upstream_tls_timeout_ms;
  settings.first_byte_timeout_ms = config.upstream_first_byte_timeout_ms;
  settings.idle_gap_timeout_ms = config.upstream_idle_timeout_ms;
  settings.max_idle_per_core = config.upstream_max_idle;
  settings.max_idle_age_ms = config.upstream_idle_age_ms;
  return settings;
}

UpstreamPool::UpstreamPool(Reactor& reactor, const UpstreamSettings& settings, Resolver& resolver,
                           TlsContext* tls, uint8_t op_kind_base)
    : reactor_(reactor),
      settings_(settings),
      resolver_(resolver),
      tls_(tls),
      session_cache_(std::make_unique<TlsSessionCache>()),
      op_kind_base_(op_kind_base),
      host_header_(settings_.base.HostHeader()) {}

UpstreamPool::~UpstreamPool() {
  // Connections hold timers on the reactor's wheel and refer to the session cache.
  slots_.clear();
  released_.clear();
}

uint64_t UpstreamPool::OpData(int op, uint32_t slot, uint32_t generation) const {
  return PackOp(static_cast<uint8_t>(op_kind_base_ + op), slot, generation);
}

namespace {

void AppendNumber(std::string& out, uint64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

}  // namespace

UpstreamExchange* UpstreamPool::Start(const UpstreamRequest& request, UpstreamHandler* handler) {
  UpstreamConnection* connection;
  bool reuse = !idle_.empty();
  if (reuse) {
    connection = idle_.back();
    idle_.pop_back();
    ++stats_.reused;
  } else {
    connection = NewConnection();
  }
  std::string& bytes = connection->request_buffer();
  bytes.reserve(256 + request.body.size() + request.extra_headers.size());
  bytes.append(request.method);
  bytes.push_back(' ');
  bytes.append(settings_.base.base_path);
  bytes.append(request.path);
  bytes.append(" HTTP/1.1\r\nHost: ");
  bytes.append(host_header_);
  bytes.append("\r\nUser-Agent: ");
  bytes.append(settings_.user_agent);
  bytes.append("\r\n");
  if (!request.api_key.empty()) {
    bytes.append("x-goog-api-key: ");
    bytes.append(request.api_key);
    bytes.append("\r\n");
  }
  if (!request.body.empty() || request.method == "POST") {
    bytes.append("Content-Type: ");
    bytes.append(request.content_type);
    bytes.append("\r\nContent-Length: ");
    AppendNumber(bytes, request.body.size());
    bytes.append("\r\n");
  }
  bytes.append(request.extra_headers);
  bytes.append("\r\n");
  bytes.append(request.body);
  if (metrics_ != nullptr)
    connection->set_started_us(reactor_.now_us());
  if (reuse) {
    connection->Reuse(request.head, request.max_body_bytes, handler);
  } else {
    connection->Open(request.head, request.max_body_bytes, handler);
  }
  return connection;
}

UpstreamConnection* UpstreamPool::NewConnection() {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
    generations_.push_back(0);
  }
  uint32_t generation = ++generations_[slot];
  slots_[slot] = std::make_unique<UpstreamConnection>(this, slot, generation);
  ++live_;
  return slots_[slot].get();
}

bool UpstreamPool::OnCompletion(const io_uring_cqe& cqe) {
  uint8_t kind = OpKindByte(cqe.user_data);
  if (kind < op_kind_base_ || kind > op_kind_base_ + UpstreamConnection::kOpSend)
    return false;
  uint32_t slot = OpSlotOf(cqe.user_data);
  if (slot < slots_.size() && slots_[slot] &&
      slots_[slot]->generation() == OpGenerationOf(cqe.user_data)) {
    slots_[slot]->OnCompletion(kind - op_kind_base_, cqe.res, cqe.flags);
  }
  return true;
}

void UpstreamPool::OnLoopEnd() {
  released_.clear();
  if (metrics_ != nullptr) {
    metrics_->upstream_open_connections.Set(static_cast<int64_t>(live_));
    metrics_->upstream_idle_connections.Set(static_cast<int64_t>(idle_.size()));
  }
}

void UpstreamPool::ReturnToIdle(UpstreamConnection* connection) {
  idle_.push_back(connection);
  if (idle_.size() > settings_.max_idle_per_core) {
    UpstreamConnection* oldest = idle_.front();
    idle_.erase(idle_.begin());
    oldest->Close();
  }
}

void UpstreamPool::RemoveFromIdle(UpstreamConnection* connection) {
  auto it = std::find(idle_.begin(), idle_.end(), connection);
  if (it != idle_.end())
    idle_.erase(it);
}

void UpstreamPool::Release(UpstreamConnection* connection) {
  uint32_t slot = connection->slot();
  released_.push_back(std::move(slots_[slot]));
  free_slots_.push_back(slot);
  --live_;
}

void UpstreamPool::CloseAll() {
  for (auto& connection : slots_) {
    if (connection && !connection->closing()) {
      connection->FailExchange(UpstreamErrorKind::kReset, "the gateway is shutting down");
    }
  }
}

}  // namespace ringgate
