#include "ringgate/server/connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "ringgate/common/clock.h"
#include "ringgate/common/log.h"
#include "ringgate/http/response.h"
#include "ringgate/observe/metrics.h"
#include "ringgate/policy/rate_limit.h"
#include "ringgate/server/op.h"
#include "ringgate/server/shard.h"

namespace ringgate {
namespace {

// How long a closing connection waits for the peer to close after our final response, so the
// peer reads that response instead of a reset caused by its own unread bytes.
constexpr uint64_t kLingerMs = 2000;
// Output buffer memory an idle connection may keep.
constexpr size_t kIdleOutputKeep = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

RequestParser::Limits LimitsFrom(const Config& config) {
  RequestParser::Limits limits;
  limits.max_header_bytes = config.max_header_bytes;
  limits.max_body_bytes = config.max_body_bytes;
  return limits;
}

}  // namespace

ClientConnection::ClientConnection(Shard* shard, uint32_t slot, uint32_t generation, int fd)
    : shard_(shard),
      slot_(slot),
      generation_(generation),
      fd_(fd),
      parser_(LimitsFrom(shard->config())) {
  timer_.set_callback(&ClientConnection::TimerThunk, this);
}

ClientConnection::~ClientConnection() = default;

void ClientConnection::Start() {
  // The accept is multishot without addresses: ask once, for the handlers (rate limits, logs).
  socklen_t peer_length = sizeof(peer_);
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer_), &peer_length) != 0) {
    peer_.ss_family = AF_UNSPEC;
  }
  if (shard_->server_tls() != nullptr) {
    Result<std::unique_ptr<TlsStream>> tls = TlsStream::Server(*shard_->server_tls());
    if (!tls) {
      RG_LOG(kWarning, "TLS setup failed: %s", tls.status().message().c_str());
      Abort();
      return;
    }
    tls_ = std::move(*tls);
  }
  ArmRecv();
  UpdateTimer();
}

template <typename WriteFn>
void ClientConnection::Emit(WriteFn&& write) {
  if (tls_) {
    // Plaintext waits here and is encrypted in one go per flush: one record, not one per piece.
    write(tls_plain_);
    return;
  }
  if (out_.AppendWith(write) == OutputQueue::Watermark::kCrossedHigh)
    PauseReading();
}

void ClientConnection::EncryptPending() {
  if (!tls_plain_.empty() && tls_->handshake_done()) {
    if (!tls_->WritePlaintext(tls_plain_)) {
      RG_LOG(kDebug, "TLS write failed: %s", tls_->error_message().c_str());
    }
    tls_plain_.clear();
  }
  if (tls_->has_pending_ciphertext()) {
    OutputQueue::Watermark mark =
        out_.AppendWith([this](std::string& buffer) { tls_->DrainCiphertextTo(buffer); });
    if (mark == OutputQueue::Watermark::kCrossedHigh)
      PauseReading();
  }
}

void ClientConnection::DecryptAndProcess(std::string_view ciphertext) {
  tls_->FeedCiphertext(ciphertext);
  if (!tls_->handshake_done()) {
    TlsStream::HandshakeStatus status = tls_->Handshake();
    if (status == TlsStream::HandshakeStatus::kError) {
      RG_LOG(kDebug, "TLS handshake failed: %s", tls_->error_message().c_str());
      Flush();  // the alert, if any
      keep_alive_ = false;
      close_after_flush_ = true;
      peer_closed_ = true;  // nothing more to read from a failed handshake
      Flush();
      return;
    }
    if (status == TlsStream::HandshakeStatus::kWantIO) {
      Flush();
      UpdateTimer();
      return;
    }
  }
  std::string plain;
  TlsStream::ReadStatus status = tls_->ReadPlaintext(plain);
  if (!plain.empty()) {
    if (recv_wanted_) {
      ProcessInput(plain);
    } else {
      held_input_.append(plain);
    }
  } else {
    Flush();
  }
  if (status == TlsStream::ReadStatus::kClosed || status == TlsStream::ReadStatus::kError) {
    keep_alive_ = false;
    close_after_flush_ = true;
    peer_closed_ = true;
    Flush();
  }
}

bool ClientConnection::idle() const {
  return !parser_.in_request() && !response_pending_ && out_.empty() && !out_.send_in_flight() &&
         tls_plain_.empty();
}

void ClientConnection::ArmRecv() {
  io_uring_sqe* sqe = shard_->Sqe();
  io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = shard_->buffers().group_id();
  io_uring_sqe_set_data64(sqe, PackOp(OpKind::kRecv, slot_, generation_));
  recv_armed_ = true;
}

void ClientConnection::OnRecv(int result, uint32_t cqe_flags) {
  if ((cqe_flags & IORING_CQE_F_MORE) == 0)
    recv_armed_ = false;
  if (cqe_flags & IORING_CQE_F_BUFFER) {
    BufferRing& buffers = shard_->buffers();
    uint16_t id = BufferRing::BufferId(cqe_flags);
    buffers.NoteTaken();
    if (result > 0 && !aborting_ && !lingering_) {
      std::string_view data = buffers.Data(cqe_flags, static_cast<size_t>(result));
      if (tls_) {
        DecryptAndProcess(data);
      } else if (recv_wanted_) {
        ProcessInput(data);
      } else {
        held_input_.append(data);
      }
    }
    buffers.Recycle(id);  // parsed (or copied): the kernel may have it back at once
  }
  if (aborting_) {
    MaybeFinish();
    return;
  }
  if (result == 0) {
    // The peer closed its side. Whatever we still owe it goes out first, unless the answer is
    // still being produced: then the client has given up on it.
    if (lingering_ || idle() || response_pending_) {
      Abort();
    } else {
      keep_alive_ = false;
      close_after_flush_ = true;
      peer_closed_ = true;
      Flush();
    }
    return;
  }
  if (result < 0 && result != -ENOBUFS && result != -ECANCELED) {
    Abort();  // reset or other socket error
    return;
  }
  // -ENOBUFS: the core's buffers ran out and ended the multishot; they are recycled as this
  // batch is processed, and the new recv is submitted only after it.
  if (!recv_armed_ && (recv_wanted_ || lingering_))
    ArmRecv();
}

void ClientConnection::ProcessInput(std::string_view data) {
  while (!data.empty() && keep_alive_ && !aborting_) {
    if (!recv_wanted_ || response_pending_) {
      // Pipelined bytes wait until the pending answer is done; past a bound, stop reading.
      held_input_.append(data);
      if (held_input_.size() > shard_->config().max_header_bytes && recv_wanted_)
        PauseReading();
      break;
    }
    RequestParser::Outcome outcome = parser_.Feed(data);
    if (parser_.TakeExpectContinue() && outcome.kind == RequestParser::Kind::kNeedMore) {
      Emit([](std::string& buffer) { buffer.append(kContinue); });
    }
    if (outcome.kind == RequestParser::Kind::kNeedMore)
      break;
    if (outcome.kind == RequestParser::Kind::kError) {
      FailRequest(outcome.error_status, outcome.error_code, outcome.error_message);
      break;
    }
    data.remove_prefix(outcome.consumed);
    HandleRequest();
  }
  UpdateTimer();
  Flush();
}

void ClientConnection::HandleRequest() {
  HttpRequest& request = parser_.request();
  current_keep_alive_ = request.keep_alive && !shard_->draining() && !peer_closed_;
  current_http10_ = request.version_major == 1 && request.version_minor == 0;
  handling_head_ = request.is_head();
  request.peer = peer_.ss_family != AF_UNSPEC ? reinterpret_cast<const sockaddr*>(&peer_) : nullptr;
  route_id_ = kRouteNone;
  response_status_ = 0;
  response_bytes_ = 0;
  request_parsed_ = true;
  if (shard_->config().access_log) {
    request_started_us_ = shard_->now_us();
    access_method_.assign(request.method_name);
    access_path_.assign(request.path);
  }
  in_dispatch_ = true;
  shard_->router().Dispatch(request, *this, &route_id_);
  in_dispatch_ = false;
  timer_kind_ = TimerKind::kNone;  // the next request gets its own header deadline
  if (!response_pending_)
    ResponseFinished();
}

// The current request's answer is complete in the output queue.
void ClientConnection::ResponseFinished() {
  NoteResponseEnd(/*completed=*/true);
  response_pending_ = false;
  streaming_ = false;
  observer_ = nullptr;
  handling_head_ = false;
  if (!current_keep_alive_) {
    keep_alive_ = false;
    close_after_flush_ = true;
  }
}

AsyncResponder* ClientConnection::Defer(ResponseObserver* observer) {
  response_pending_ = true;
  observer_ = observer;
  shard_->timers().Cancel(&timer_);  // the handler owns the timing of its answer
  timer_kind_ = TimerKind::kNone;
  return this;
}

void ClientConnection::StartStream(int status, std::string_view content_type,
                                   std::string_view extra_headers) {
  streaming_ = true;
  stream_chunked_ = !current_http10_;
  if (!stream_chunked_)
    current_keep_alive_ = false;  // the end of the body is the close
  ResponseHead head;
  head.status = status;
  head.content_type = content_type;
  head.keep_alive = current_keep_alive_;
  head.extra_headers = extra_headers;
  head.chunked = stream_chunked_;
  head.omit_length = true;
  NoteResponseStatus(status);
  shard_->StreamStarted();
  Emit([&](std::string& buffer) {
    size_t before = buffer.size();
    AppendResponseHead(buffer, head, shard_->date());
    response_bytes_ += buffer.size() - before;
  });
  if (!in_dispatch_)
    ScheduleFlush();
}

void ClientConnection::WriteChunk(std::string_view data) {
  if (data.empty() || handling_head_)
    return;
  Emit([&](std::string& buffer) {
    size_t before = buffer.size();
    if (stream_chunked_)
      AppendChunkHeader(buffer, data.size());
    buffer.append(data);
    if (stream_chunked_)
      buffer.append("\r\n");
    response_bytes_ += buffer.size() - before;
  });
  if (!in_dispatch_)
    ScheduleFlush();
}

void ClientConnection::WriteChunkWith(ChunkWriter write, void* context) {
  if (handling_head_)
    return;
  Emit([&](std::string& buffer) {
    size_t before = buffer.size();
    if (!stream_chunked_) {
      write(buffer, context);
      response_bytes_ += buffer.size() - before;
      return;
    }
    // The size goes first but is known only afterwards: reserve a fixed-width hex field (leading
    // zeros are valid chunk-size syntax) and fill it in.
    constexpr size_t kWidth = 8;
    size_t header_at = buffer.size();
    buffer.append(kWidth, '0');
    buffer.append("\r\n");
    size_t start = buffer.size();
    write(buffer, context);
    size_t length = buffer.size() - start;
    if (length == 0) {
      buffer.resize(header_at);
      return;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < kWidth; ++i) {
      buffer[header_at + kWidth - 1 - i] = kHex[(length >> (4 * i)) & 15];
    }
    buffer.append("\r\n");
    response_bytes_ += buffer.size() - before;
  });
  if (!in_dispatch_)
    ScheduleFlush();
}

void ClientConnection::EndStream() {
  if (stream_chunked_ && !handling_head_) {
    Emit([](std::string& buffer) { buffer.append("0\r\n\r\n"); });
    response_bytes_ += 5;
  }
  CompleteDeferred();
}

// A deferred answer is complete: send it and go on with any pipelined requests.
void ClientConnection::CompleteDeferred() {
  ResponseFinished();
  if (in_dispatch_)
    return;  // HandleRequest's caller carries on
  if (!held_input_.empty() && recv_wanted_) {
    std::string pending = std::move(held_input_);
    held_input_.clear();
    ProcessInput(pending);  // flushes
  } else {
    UpdateTimer();
    Flush();
  }
  if (recv_wanted_ && !recv_armed_ && !aborting_ && !lingering_ && !peer_closed_)
    ArmRecv();
}

void ClientConnection::Send(int status, std::string_view content_type, std::string_view body,
                            std::string_view extra_headers) {
  ResponseHead head;
  head.status = status;
  head.content_type = content_type;
  head.content_length = body.size();
  head.keep_alive = current_keep_alive_;
  head.extra_headers = extra_headers;
  bool with_body = !handling_head_;
  NoteResponseStatus(status);
  Emit([&](std::string& buffer) {
    size_t before = buffer.size();
    AppendResponseHead(buffer, head, shard_->date());
    if (with_body)
      buffer.append(body);
    response_bytes_ += buffer.size() - before;
  });
  if (response_pending_)
    CompleteDeferred();
}

void ClientConnection::FailRequest(int status, std::string_view code, std::string_view message) {
  current_keep_alive_ = false;
  handling_head_ = false;
  // Refused before routing: no route, and maybe no method or path either.
  route_id_ = kRouteNone;
  response_status_ = 0;
  response_bytes_ = 0;
  request_parsed_ = false;
  if (shard_->config().access_log)
    request_started_us_ = shard_->now_us();
  RG_LOG(kDebug, "connection %u: %d %.*s", slot_, status, static_cast<int>(message.size()),
         message.data());
  Send(status, "application/json", JsonErrorBody(message, ErrorTypeForStatus(status), code), {});
  NoteResponseEnd(/*completed=*/true);
  keep_alive_ = false;
  close_after_flush_ = true;
}

void ClientConnection::NoteResponseStatus(int status) {
  if (response_status_ != 0)
    return;  // one count per request
  response_status_ = status;
  shard_->metrics().CountRequest(route_id_, status);
}

// The answer is whole in the output queue (`completed`) or will never be (the client left).
void ClientConnection::NoteResponseEnd(bool completed) {
  if (streaming_)
    shard_->StreamEnded();
  streaming_ = false;
  // nginx's 499: the client closed the connection before it had an answer.
  if (response_status_ == 0)
    NoteResponseStatus(499);
  if (shard_->config().access_log)
    WriteAccessLog(completed);
  response_status_ = -1;  // counted and logged: nothing more for this request
}

void ClientConnection::WriteAccessLog(bool completed) {
  if (response_status_ < 0)
    return;
  std::optional<IpAddress> peer =
      IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&peer_));
  std::string ip = peer ? peer->ToString() : "-";
  LogFields fields;
  fields.method = request_parsed_ ? std::string_view(access_method_) : "-";
  fields.path = request_parsed_ ? std::string_view(access_path_) : "-";
  fields.status_code = response_status_;
  fields.bytes = static_cast<int64_t>(response_bytes_);
  fields.duration_us = static_cast<int64_t>(MonotonicMicros() - request_started_us_);
  fields.client_ip = ip;
  fields.keep_recent = false;
  RG_LOG_FIELDS(kInfo, fields, completed ? "access" : "access (client closed first)");
}

// Writes made outside a request's dispatch (deferred answers, streams) are sent together at the
// end of the loop iteration: a stream's head and first event leave in one send.
void ClientConnection::ScheduleFlush() {
  if (flush_scheduled_ || aborting_)
    return;
  flush_scheduled_ = true;
  shard_->QueueFlush(this);
}

void ClientConnection::RunScheduledFlush() {
  flush_scheduled_ = false;
  Flush();
}

void ClientConnection::Flush() {
  if (aborting_)
    return;
  if (tls_)
    EncryptPending();
  if (out_.send_in_flight())
    return;
  std::string_view bytes = out_.StartSend();
  if (bytes.empty()) {
    AfterOutputDrained();
    return;
  }
  io_uring_sqe* sqe = shard_->Sqe();
  io_uring_prep_send(sqe, fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, PackOp(OpKind::kSend, slot_, generation_));
}

void ClientConnection::OnSend(int result) {
  if (result < 0) {
    out_.Clear();
    if (!aborting_)
      Abort();
    MaybeFinish();
    return;
  }
  OutputQueue::Watermark mark = out_.Sent(static_cast<size_t>(result));
  if (aborting_) {
    MaybeFinish();
    return;
  }
  if (mark == OutputQueue::Watermark::kCrossedLow) {
    ResumeReading();
    if (observer_ != nullptr && !aborting_)
      observer_->OnWritable();
  }
  Flush();
  UpdateTimer();
}

void ClientConnection::AfterOutputDrained() {
  if (!close_after_flush_ || lingering_ || aborting_ || response_pending_)
    return;
  if (peer_closed_) {
    Abort();
    return;
  }
  BeginLinger();
}

void ClientConnection::BeginLinger() {
  lingering_ = true;
  io_uring_sqe* sqe = shard_->Sqe();
  io_uring_prep_shutdown(sqe, fd_, SHUT_WR);
  io_uring_sqe_set_data64(sqe, PackOp(OpKind::kIgnore, 0, 0));
  held_input_.clear();
  recv_wanted_ = true;
  if (!recv_armed_)
    ArmRecv();
  ScheduleTimer(TimerKind::kLinger, shard_->now_ms() + kLingerMs);
}

void ClientConnection::PauseReading() {
  if (!recv_wanted_)
    return;
  recv_wanted_ = false;
  if (recv_armed_) {
    io_uring_sqe* sqe = shard_->Sqe();
    io_uring_prep_cancel64(sqe, PackOp(OpKind::kRecv, slot_, generation_), 0);
    io_uring_sqe_set_data64(sqe, PackOp(OpKind::kIgnore, 0, 0));
  }
}

void ClientConnection::ResumeReading() {
  if (recv_wanted_ || aborting_)
    return;
  recv_wanted_ = true;
  if (!held_input_.empty()) {
    std::string pending = std::move(held_input_);
    held_input_.clear();
    ProcessInput(pending);
  }
  if (recv_wanted_ && !recv_armed_ && !aborting_ && !peer_closed_)
    ArmRecv();
}

void ClientConnection::ScheduleTimer(TimerKind kind, uint64_t deadline_ms) {
  // Pushing the same timer a little later on every request costs more than it is worth: keep the
  // old deadline while it is within 1/16 of the timeout (it fires at most that much early).
  if (kind == timer_kind_ && timer_.scheduled() && deadline_ms >= timer_.deadline_ms()) {
    uint64_t now = shard_->now_ms();
    uint64_t timeout = deadline_ms > now ? deadline_ms - now : 0;
    if (deadline_ms - timer_.deadline_ms() <= timeout / 16)
      return;
  }
  timer_kind_ = kind;
  shard_->timers().Schedule(&timer_, deadline_ms);
}

void ClientConnection::UpdateTimer() {
  if (aborting_ || lingering_ || response_pending_)
    return;
  const Config& config = shard_->config();
  uint64_t now = shard_->now_ms();
  if (parser_.in_request()) {
    if (!parser_.headers_done()) {
      // The header deadline runs from the request's first byte; later bytes do not extend it.
      if (timer_kind_ != TimerKind::kHeader) {
        ScheduleTimer(TimerKind::kHeader, now + config.header_timeout_ms);
      }
    } else {
      ScheduleTimer(TimerKind::kBody, now + config.header_timeout_ms);
    }
    return;
  }
  ScheduleTimer(TimerKind::kIdle, now + config.idle_timeout_ms);
  if (idle()) {
    parser_.ShrinkIfIdle();
    out_.ShrinkIfIdle(kIdleOutputKeep);
  }
}

void ClientConnection::TimerThunk(Timer*, void* self) {
  static_cast<ClientConnection*>(self)->OnTimer();
}

void ClientConnection::OnTimer() {
  TimerKind kind = timer_kind_;
  timer_kind_ = TimerKind::kNone;
  switch (kind) {
    case TimerKind::kHeader:
    case TimerKind::kBody:
      FailRequest(408, "request_timeout",
                  kind == TimerKind::kHeader ? "request headers were not received in time"
                                             : "request body stalled");
      Flush();
      break;
    case TimerKind::kIdle:
    case TimerKind::kLinger:
    case TimerKind::kNone:
      Abort();
      break;
  }
}

void ClientConnection::Drain() {
  if (aborting_ || finished_ || !keep_alive_)
    return;
  if (parser_.in_request())
    return;  // its response will carry Connection: close
  if (idle()) {
    Abort();
    return;
  }
  keep_alive_ = false;
  close_after_flush_ = true;
}

void ClientConnection::Abort() {
  if (aborting_)
    return;
  aborting_ = true;
  NotifyGone();
  shard_->timers().Cancel(&timer_);
  if (recv_armed_) {
    io_uring_sqe* sqe = shard_->Sqe();
    io_uring_prep_cancel64(sqe, PackOp(OpKind::kRecv, slot_, generation_), 0);
    io_uring_sqe_set_data64(sqe, PackOp(OpKind::kIgnore, 0, 0));
  }
  if (out_.send_in_flight()) {
    io_uring_sqe* sqe = shard_->Sqe();
    io_uring_prep_cancel64(sqe, PackOp(OpKind::kSend, slot_, generation_), 0);
    io_uring_sqe_set_data64(sqe, PackOp(OpKind::kIgnore, 0, 0));
  }
  MaybeFinish();
}

void ClientConnection::NotifyGone() {
  ResponseObserver* observer = observer_;
  observer_ = nullptr;
  if (response_pending_)
    NoteResponseEnd(/*completed=*/false);
  response_pending_ = false;
  if (observer != nullptr)
    observer->OnClientGone();
}

void ClientConnection::MaybeFinish() {
  if (!aborting_ || finished_ || recv_armed_ || out_.send_in_flight())
    return;
  finished_ = true;
  io_uring_sqe* sqe = shard_->Sqe();
  io_uring_prep_close(sqe, fd_);
  io_uring_sqe_set_data64(sqe, PackOp(OpKind::kIgnore, 0, 0));
  shard_->Release(this);
}

}  // namespace ringgate
