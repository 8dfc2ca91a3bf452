#include "ringgate/upstream/upstream_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ringgate/common/clock.h"
#include "ringgate/common/log.h"
#include "ringgate/observe/metrics.h"
#include "ringgate/tls/tls_context.h"
#include "ringgate/upstream/upstream_pool.h"

namespace ringgate {
namespace {

static_assert(static_cast<size_t>(UpstreamErrorKind::kProtocol) + 1 == kUpstreamErrorKinds,
              "every upstream error kind has a counter");

std::string Describe(const Url& url) {
  return url.Authority();
}

}  // namespace

UpstreamConnection::UpstreamConnection(UpstreamPool* pool, uint32_t slot, uint32_t generation)
    : pool_(pool), slot_(slot), generation_(generation), parser_(this) {
  timer_.set_callback(&UpstreamConnection::TimerThunk, this);
}

UpstreamConnection::~UpstreamConnection() = default;

UpstreamHandler* UpstreamConnection::TakeHandler() {
  UpstreamHandler* handler = handler_;
  handler_ = nullptr;
  return handler;
}

void UpstreamConnection::Open(bool head, uint64_t max_body_bytes, UpstreamHandler* handler) {
  head_request_ = head;
  max_body_bytes_ = max_body_bytes;
  handler_ = handler;
  reused_ = false;
  const UpstreamSettings& settings = pool_->settings();
  via_proxy_ = settings.proxy.has_value();
  const Url& target = via_proxy_ ? *settings.proxy : settings.base;
  addresses_ = pool_->resolver().Lookup(target.host, target.port);
  if (!addresses_ || addresses_->empty()) {
    deferred_kind_ = UpstreamErrorKind::kDns;
    deferred_message_ = "cannot resolve " + target.host + ": " +
                        pool_->resolver().LastError(target.host, target.port);
    ScheduleTimer(TimerKind::kDeferredError, 0);
    return;
  }
  address_index_ = 0;
  TryConnect();
}

void UpstreamConnection::Reuse(bool head, uint64_t max_body_bytes, UpstreamHandler* handler) {
  head_request_ = head;
  max_body_bytes_ = max_body_bytes;
  handler_ = handler;
  reused_ = true;
  state_ = State::kReady;
  StartRequest();
}

void UpstreamConnection::TryConnect() {
  const ResolvedAddress& address = (*addresses_)[address_index_];
  fd_ = socket(address.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    FailExchange(UpstreamErrorKind::kConnectFailed, std::string("socket(): ") + strerror(errno));
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  io_uring_sqe* sqe = pool_->reactor().GetSqe();
  io_uring_prep_connect(sqe, fd_, reinterpret_cast<const sockaddr*>(&address.address),
                        address.length);
  io_uring_sqe_set_data64(sqe, pool_->OpData(kOpConnect, slot_, generation_));
  connect_in_flight_ = true;
  state_ = State::kConnecting;
  ++pool_->mutable_stats().connections_opened;
  ScheduleTimer(TimerKind::kConnect, pool_->settings().connect_timeout_ms);
}

void UpstreamConnection::OnCompletion(int op, int result, uint32_t cqe_flags) {
  switch (op) {
    case kOpConnect:
      connect_in_flight_ = false;
      if (closing_)
        break;
      if (result < 0) {
        int error = -result;
        close(fd_);
        fd_ = -1;
        if (address_index_ + 1 < addresses_->size() && error != ECANCELED) {
          ++address_index_;  // the next address (IPv6 after IPv4) may answer
          TryConnect();
          return;
        }
        const Url& target = via_proxy_ ? *pool_->settings().proxy : pool_->settings().base;
        FailExchange(error == ECONNREFUSED ? UpstreamErrorKind::kConnectRefused
                                           : UpstreamErrorKind::kConnectFailed,
                     "connect to " + Describe(target) + (via_proxy_ ? " (proxy)" : "") +
                         " failed: " + strerror(error));
        return;
      }
      OnConnected();
      return;
    case kOpRecv:
      OnRecv(result, cqe_flags);
      return;
    case kOpSend:
      OnSend(result);
      return;
  }
  FinishClose();
}

void UpstreamConnection::OnConnected() {
  const UpstreamSettings& settings = pool_->settings();
  if (via_proxy_) {
    state_ = State::kProxyTunnel;
    std::string connect = "CONNECT " + settings.base.Authority() +
                          " HTTP/1.1\r\nHost: " + settings.base.Authority() + "\r\n";
    if (!settings.proxy->userinfo.empty()) {
      connect += "Proxy-Authorization: Basic " + BasicAuthToken(settings.proxy->userinfo) + "\r\n";
    }
    connect += "\r\n";
    out_.Append(connect);
    Flush();
    ArmRecv();
    return;  // the connect timer keeps running until the tunnel is up
  }
  ArmRecv();
  if (settings.base.tls()) {
    StartTls();
  } else {
    state_ = State::kReady;
    StartRequest();
  }
}

void UpstreamConnection::StartTls() {
  const Url& base = pool_->settings().base;
  Result<std::unique_ptr<TlsStream>> stream =
      TlsStream::Client(*pool_->tls(), base.host, pool_->session_cache(), base.port);
  if (!stream) {
    FailExchange(UpstreamErrorKind::kTlsHandshake, stream.status().message());
    return;
  }
  tls_ = std::move(*stream);
  state_ = State::kTlsHandshake;
  ++pool_->mutable_stats().tls_handshakes;
  ScheduleTimer(TimerKind::kTls, pool_->settings().tls_handshake_timeout_ms);
  ContinueTls();
}

void UpstreamConnection::ContinueTls() {
  TlsStream::HandshakeStatus status = tls_->Handshake();
  QueueCiphertext();
  Flush();
  if (status == TlsStream::HandshakeStatus::kWantIO)
    return;
  if (status == TlsStream::HandshakeStatus::kError) {
    bool verify = tls_->error() == TlsError::kCertificateVerify ||
                  tls_->error() == TlsError::kHostnameMismatch;
    FailExchange(verify ? UpstreamErrorKind::kTlsVerify : UpstreamErrorKind::kTlsHandshake,
                 "TLS handshake with " + Describe(pool_->settings().base) +
                     " failed: " + tls_->error_message());
    return;
  }
  if (tls_->session_reused())
    ++pool_->mutable_stats().tls_resumed;
  state_ = State::kReady;
  StartRequest();
}

void UpstreamConnection::StartRequest() {
  state_ = State::kActive;
  parser_.Reset(head_request_, max_body_bytes_);
  response_byte_seen_ = false;
  paused_ = false;
  reusable_ = true;
  plain_.clear();
  plain_offset_ = 0;
  ++pool_->mutable_stats().exchanges;
  if (tls_) {
    if (!tls_->WritePlaintext(request_)) {
      FailExchange(UpstreamErrorKind::kProtocol, "TLS write failed: " + tls_->error_message());
      return;
    }
    QueueCiphertext();
  } else {
    out_.Append(request_);
  }
  Flush();
  ArmRecv();
  ScheduleTimer(TimerKind::kFirstByte, pool_->settings().first_byte_timeout_ms);
}

void UpstreamConnection::QueueCiphertext() {
  if (tls_ && tls_->has_pending_ciphertext()) {
    out_.AppendWith([this](std::string& buffer) { tls_->DrainCiphertextTo(buffer); });
  }
}

void UpstreamConnection::Flush() {
  if (closing_ || out_.send_in_flight())
    return;
  std::string_view bytes = out_.StartSend();
  if (bytes.empty())
    return;
  io_uring_sqe* sqe = pool_->reactor().GetSqe();
  io_uring_prep_send(sqe, fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, pool_->OpData(kOpSend, slot_, generation_));
}

void UpstreamConnection::OnSend(int result) {
  if (result < 0) {
    out_.Clear();
    if (closing_) {
      FinishClose();
      return;
    }
    OnSocketError(-result);
    return;
  }
  out_.Sent(static_cast<size_t>(result));
  if (closing_) {
    FinishClose();
    return;
  }
  Flush();
}

// One multishot receive stays armed for the connection's life (idle in the pool too): the
// kernel keeps its poll registered, and data lands in the core's provided buffers, which are
// handed back as soon as they are parsed or copied.
void UpstreamConnection::ArmRecv() {
  if (recv_in_flight_ || closing_ || paused_ || fd_ < 0)
    return;
  io_uring_sqe* sqe = pool_->reactor().GetSqe();
  io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = pool_->reactor().buffers().group_id();
  io_uring_sqe_set_data64(sqe, pool_->OpData(kOpRecv, slot_, generation_));
  recv_in_flight_ = true;
}

// While paused no further data is wanted: the multishot receive is cancelled (what arrives
// before the cancel lands is kept), and re-armed on Resume.
void UpstreamConnection::StopReceiving() {
  if (!recv_in_flight_)
    return;
  io_uring_sqe* sqe = pool_->reactor().GetSqe();
  io_uring_prep_cancel64(sqe, pool_->OpData(kOpRecv, slot_, generation_), 0);
  io_uring_sqe_set_data64(sqe, 0);
}

void UpstreamConnection::OnRecv(int result, uint32_t cqe_flags) {
  if ((cqe_flags & IORING_CQE_F_MORE) == 0)
    recv_in_flight_ = false;
  BufferRing& buffers = pool_->reactor().buffers();
  bool has_buffer = (cqe_flags & IORING_CQE_F_BUFFER) != 0;
  uint16_t buffer_id = 0;
  std::string_view data;
  if (has_buffer) {
    buffers.NoteTaken();
    buffer_id = BufferRing::BufferId(cqe_flags);
    if (result > 0)
      data = buffers.Data(cqe_flags, static_cast<size_t>(result));
  }
  if (closing_) {
    if (has_buffer)
      buffers.Recycle(buffer_id);
    FinishClose();
    return;
  }
  if (result <= 0) {
    if (has_buffer)
      buffers.Recycle(buffer_id);
    if (result == -ENOBUFS || result == -ECANCELED) {
      // Out of buffers (they come back as this batch is processed), or the cancel of a pause
      // that has already ended.
      if (!paused_)
        ArmRecv();
      return;
    }
    if (result < 0) {
      OnSocketError(-result);
    } else {
      OnEof();
    }
    return;
  }
  if (paused_) {
    // Arrived before the cancel took effect: keep it for Resume.
    if (tls_) {
      tls_->FeedCiphertext(data);
    } else {
      plain_.append(data);
    }
  } else {
    HandleBytes(data);  // parses or copies every byte it keeps
  }
  buffers.Recycle(buffer_id);
  if (!closing_ && !paused_)
    ArmRecv();
}

void UpstreamConnection::HandleBytes(std::string_view bytes) {
  if (state_ == State::kProxyTunnel) {
    HandleProxyReply(bytes);
    return;
  }
  if (tls_) {
    tls_->FeedCiphertext(bytes);
    if (state_ == State::kTlsHandshake) {
      ContinueTls();
      if (closing_ || state_ == State::kTlsHandshake)
        return;
    }
    ParsePlaintext();
    return;
  }
  if (state_ != State::kActive) {
    // The server spoke while no request was out: nothing it says can be trusted after that.
    Close();
    return;
  }
  FeedParser(bytes, false);
}

void UpstreamConnection::HandleProxyReply(std::string_view bytes) {
  proxy_reply_.append(bytes);
  size_t end = proxy_reply_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (proxy_reply_.size() > 16 * 1024) {
      FailExchange(UpstreamErrorKind::kProxy, "proxy reply headers too large");
    }
    return;
  }
  // "HTTP/1.1 200 Connection established"
  std::string_view status_line =
      std::string_view(proxy_reply_).substr(0, proxy_reply_.find("\r\n"));
  size_t space = status_line.find(' ');
  bool ok = space != std::string_view::npos && status_line.substr(space + 1, 3) == "200";
  if (!ok) {
    FailExchange(UpstreamErrorKind::kProxy,
                 "proxy refused CONNECT: " + std::string(status_line.substr(0, 200)));
    return;
  }
  std::string rest = proxy_reply_.substr(end + 4);
  proxy_reply_.clear();
  proxy_reply_.shrink_to_fit();
  if (pool_->settings().base.tls()) {
    StartTls();
    if (!rest.empty() && !closing_)
      HandleBytes(rest);
  } else {
    state_ = State::kReady;
    StartRequest();
    if (!rest.empty() && !closing_)
      HandleBytes(rest);
  }
}

void UpstreamConnection::ParsePlaintext() {
  while (!closing_ && !paused_) {
    size_t before = plain_.size();
    TlsStream::ReadStatus status = tls_->ReadPlaintext(plain_);
    QueueCiphertext();
    Flush();
    if (status == TlsStream::ReadStatus::kData || plain_.size() > before) {
      if (state_ != State::kActive) {
        Close();
        return;
      }
      FeedParser(std::string_view(plain_).substr(plain_offset_), true);
      if (state_ != State::kActive)
        return;  // complete (maybe already reused) or closed
      continue;
    }
    if (status == TlsStream::ReadStatus::kWantRead)
      return;
    if (status == TlsStream::ReadStatus::kClosed || status == TlsStream::ReadStatus::kAbruptEof) {
      OnEof();
      return;
    }
    FailExchange(UpstreamErrorKind::kProtocol, "TLS: " + tls_->error_message());
    return;
  }
}

void UpstreamConnection::FeedParser(std::string_view data, bool from_held) {
  if (data.empty())
    return;
  response_byte_seen_ = true;
  ResponseParser::Outcome outcome = parser_.Feed(data);
  if (closing_)
    return;  // the handler cancelled from a callback
  switch (outcome.kind) {
    case ResponseParser::Kind::kNeedMore:
      if (from_held) {
        plain_.clear();
        plain_offset_ = 0;
      }
      ScheduleTimer(TimerKind::kIdleGap, pool_->settings().idle_gap_timeout_ms);
      return;
    case ResponseParser::Kind::kPaused:
      paused_ = true;
      StopReceiving();
      pool_->reactor().timers().Cancel(&timer_);  // a slow client is not a silent upstream
      timer_kind_ = TimerKind::kNone;
      if (from_held) {
        plain_offset_ += outcome.consumed;
      } else {
        plain_.assign(data.substr(outcome.consumed));
        plain_offset_ = 0;
      }
      return;
    case ResponseParser::Kind::kComplete:
      if (outcome.consumed < data.size())
        reusable_ = false;  // bytes after the response
      plain_.clear();
      plain_offset_ = 0;
      AfterComplete();
      return;
    case ResponseParser::Kind::kError:
      FailExchange(UpstreamErrorKind::kProtocol,
                   "bad response from upstream: " + outcome.error_message);
      return;
  }
}

void UpstreamConnection::OnHead(const HttpResponseHead& head) {
  request_.clear();  // answered: no retry will need it
  if (CoreMetrics* metrics = pool_->metrics(); metrics != nullptr && started_us_ != 0) {
    metrics->upstream_ttfb.Observe(pool_->reactor().now_us() - started_us_);
    metrics->upstream_responses.Count(head.status);
  }
  if (handler_ != nullptr)
    handler_->OnUpstreamHead(head);
}

bool UpstreamConnection::OnBody(std::string_view piece) {
  if (handler_ == nullptr)
    return false;
  return handler_->OnUpstreamBody(piece);
}

void UpstreamConnection::OnComplete() {}

void UpstreamConnection::AfterComplete() {
  UpstreamHandler* handler = TakeHandler();
  if (CoreMetrics* metrics = pool_->metrics(); metrics != nullptr && started_us_ != 0) {
    metrics->upstream_duration.Observe(pool_->reactor().now_us() - started_us_);
    started_us_ = 0;
  }
  pool_->reactor().timers().Cancel(&timer_);
  timer_kind_ = TimerKind::kNone;
  bool reuse = reusable_ && parser_.keep_alive() && (!tls_ || tls_->error() == TlsError::kNone);
  if (reuse) {
    state_ = State::kIdle;
    idle_since_ms_ = pool_->reactor().now_ms();
    ScheduleTimer(TimerKind::kIdleAge, pool_->settings().max_idle_age_ms);
    pool_->ReturnToIdle(this);
  } else {
    Close();
  }
  if (handler != nullptr)
    handler->OnUpstreamComplete();
}

// A reused connection the server closed just as we sent on it: reconnect and send again, once.
bool UpstreamConnection::RetryIfStale() {
  if (state_ != State::kActive || !reused_ || response_byte_seen_ || handler_ == nullptr ||
      out_.send_in_flight() || recv_in_flight_ || request_.empty()) {
    return false;
  }
  ++pool_->mutable_stats().stale_retries;
  io_uring_sqe* sqe = pool_->reactor().GetSqe();
  io_uring_prep_close(sqe, fd_);
  io_uring_sqe_set_data64(sqe, 0);
  fd_ = -1;
  generation_ = pool_->NewGeneration(slot_);
  tls_.reset();
  out_.Clear();
  plain_.clear();
  plain_offset_ = 0;
  Open(head_request_, max_body_bytes_, TakeHandler());
  return true;
}

void UpstreamConnection::OnEof() {
  if (tls_)
    tls_->OnSocketEof();
  switch (state_) {
    case State::kActive: {
      if (RetryIfStale())
        return;
      if (parser_.in_response()) {
        ResponseParser::Outcome outcome = parser_.FinishOnEof();
        if (outcome.kind == ResponseParser::Kind::kComplete) {
          reusable_ = false;
          AfterComplete();
          return;
        }
      }
      FailExchange(UpstreamErrorKind::kReset,
                   response_byte_seen_ ? "upstream closed the connection mid-response"
                                       : "upstream closed the connection before responding");
      return;
    }
    case State::kProxyTunnel:
      FailExchange(UpstreamErrorKind::kProxy, "proxy closed the connection during CONNECT");
      return;
    case State::kTlsHandshake:
      FailExchange(UpstreamErrorKind::kTlsHandshake,
                   "upstream closed the connection during the TLS handshake");
      return;
    default:
      Close();
      return;
  }
}

void UpstreamConnection::OnSocketError(int error) {
  if ((error == ECONNRESET || error == EPIPE) && RetryIfStale())
    return;
  FailExchange(UpstreamErrorKind::kReset,
               std::string("upstream connection error: ") + strerror(error));
}

void UpstreamConnection::FailExchange(UpstreamErrorKind kind, std::string message) {
  UpstreamHandler* handler = TakeHandler();
  if (CoreMetrics* metrics = pool_->metrics(); metrics != nullptr && handler != nullptr) {
    metrics->upstream_errors[static_cast<size_t>(kind) % kUpstreamErrorKinds].Add();
    started_us_ = 0;
  }
  bool started = parser_.head_done();
  Close();
  if (handler != nullptr) {
    UpstreamError error{kind, std::move(message), started};
    handler->OnUpstreamError(error);
  }
}

void UpstreamConnection::Resume() {
  if (!paused_ || closing_)
    return;
  paused_ = false;
  if (plain_offset_ < plain_.size()) {
    FeedParser(std::string_view(plain_).substr(plain_offset_), true);
    if (closing_ || paused_ || state_ != State::kActive)
      return;
  }
  if (tls_) {
    ParsePlaintext();
    if (closing_ || paused_ || state_ != State::kActive)
      return;
  }
  ScheduleTimer(TimerKind::kIdleGap, pool_->settings().idle_gap_timeout_ms);
  ArmRecv();
}

void UpstreamConnection::Cancel() {
  handler_ = nullptr;
  reusable_ = false;
  Close();
}

void UpstreamConnection::Close() {
  if (closing_)
    return;
  closing_ = true;
  if (state_ == State::kIdle)
    pool_->RemoveFromIdle(this);
  pool_->reactor().timers().Cancel(&timer_);
  timer_kind_ = TimerKind::kNone;
  auto cancel = [this](int op) {
    io_uring_sqe* sqe = pool_->reactor().GetSqe();
    io_uring_prep_cancel64(sqe, pool_->OpData(op, slot_, generation_), 0);
    io_uring_sqe_set_data64(sqe, 0);
  };
  if (connect_in_flight_)
    cancel(kOpConnect);
  if (recv_in_flight_)
    cancel(kOpRecv);
  if (out_.send_in_flight())
    cancel(kOpSend);
  FinishClose();
}

void UpstreamConnection::FinishClose() {
  if (!closing_ || closed_ || connect_in_flight_ || recv_in_flight_ || out_.send_in_flight()) {
    return;
  }
  closed_ = true;
  if (fd_ >= 0) {
    io_uring_sqe* sqe = pool_->reactor().GetSqe();
    io_uring_prep_close(sqe, fd_);
    io_uring_sqe_set_data64(sqe, 0);
    fd_ = -1;
  }
  pool_->Release(this);
}

void UpstreamConnection::ScheduleTimer(TimerKind kind, uint64_t delay_ms) {
  uint64_t deadline = pool_->reactor().now_ms() + delay_ms;
  // Every body piece pushes the idle-gap timer: keep the old deadline while it is within 1/16
  // of the delay (it fires at most that much early) instead of relinking it each time.
  if (kind == timer_kind_ && timer_.scheduled() && deadline >= timer_.deadline_ms() &&
      deadline - timer_.deadline_ms() <= delay_ms / 16) {
    return;
  }
  timer_kind_ = kind;
  pool_->reactor().timers().Schedule(&timer_, deadline);
}

void UpstreamConnection::TimerThunk(Timer*, void* self) {
  static_cast<UpstreamConnection*>(self)->OnTimer();
}

void UpstreamConnection::OnTimer() {
  TimerKind kind = timer_kind_;
  timer_kind_ = TimerKind::kNone;
  const UpstreamSettings& settings = pool_->settings();
  switch (kind) {
    case TimerKind::kConnect:
      FailExchange(state_ == State::kProxyTunnel ? UpstreamErrorKind::kProxy
                                                 : UpstreamErrorKind::kConnectTimeout,
                   "connect to " + Describe(via_proxy_ ? *settings.proxy : settings.base) +
                       " timed out after " + std::to_string(settings.connect_timeout_ms) + " ms");
      return;
    case TimerKind::kTls:
      FailExchange(UpstreamErrorKind::kTlsTimeout,
                   "TLS handshake timed out after " +
                       std::to_string(settings.tls_handshake_timeout_ms) + " ms");
      return;
    case TimerKind::kFirstByte:
      FailExchange(UpstreamErrorKind::kFirstByteTimeout,
                   "no response from upstream within " +
                       std::to_string(settings.first_byte_timeout_ms) + " ms");
      return;
    case TimerKind::kIdleGap:
      FailExchange(
          UpstreamErrorKind::kIdleTimeout,
          "upstream response stalled for " + std::to_string(settings.idle_gap_timeout_ms) + " ms");
      return;
    case TimerKind::kIdleAge:
      Close();
      return;
    case TimerKind::kDeferredError:
      FailExchange(deferred_kind_, deferred_message_);
      return;
    case TimerKind::kNone:
      return;
  }
}

}  // namespace ringgate
