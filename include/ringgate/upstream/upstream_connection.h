// UpstreamConnection: one HTTP/1.1 connection to the upstream (through an optional CONNECT
// proxy, with optional TLS), owned by an UpstreamPool on one core. It is also the caller's
// UpstreamExchange while a request is in flight.
//
//   connecting -> [proxy tunnel] -> [TLS handshake] -> ready -> active -> idle -> active ...
//
// Receives are one multishot receive into the core's provided buffers, armed in every state
// after connect, so a close by the server is seen even while idle and no receive is re-armed per
// response. Bytes are parsed (plain) or copied into the TLS stream before the buffer goes back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ringgate/http/response_parser.h"
#include "ringgate/io/output_queue.h"
#include "ringgate/io/timer_wheel.h"
#include "ringgate/net/resolver.h"
#include "ringgate/tls/tls_stream.h"
#include "ringgate/upstream/upstream.h"

namespace ringgate {

class UpstreamPool;

class UpstreamConnection final : public UpstreamExchange, private ResponseSink {
 public:
  enum Op { kOpConnect = 0, kOpRecv = 1, kOpSend = 2 };

  UpstreamConnection(UpstreamPool* pool, uint32_t slot, uint32_t generation);
  ~UpstreamConnection() override;

  // Where the pool serialises the next request (the buffer keeps its capacity across requests).
  std::string& request_buffer() {
    request_.clear();
    return request_;
  }
  // When the pool began this exchange (MonotonicMicros), for the latency metrics; 0: not timed.
  void set_started_us(uint64_t micros) { started_us_ = micros; }

  // Begins connecting for a first exchange (the request is in request_buffer()).
  void Open(bool head, uint64_t max_body_bytes, UpstreamHandler* handler);
  // Runs an exchange on this idle, connected connection.
  void Reuse(bool head, uint64_t max_body_bytes, UpstreamHandler* handler);

  void OnCompletion(int op, int result, uint32_t cqe_flags);
  // Closes without calling the handler (pool shutdown calls FailExchange first).
  void Close();
  void FailExchange(UpstreamErrorKind kind, std::string message);

  // UpstreamExchange
  void Resume() override;
  void Cancel() override;

  uint32_t slot() const { return slot_; }
  uint32_t generation() const { return generation_; }
  uint64_t idle_since_ms() const { return idle_since_ms_; }
  bool closing() const { return closing_; }

 private:
  enum class State { kNew, kConnecting, kProxyTunnel, kTlsHandshake, kReady, kActive, kIdle };
  enum class TimerKind { kNone, kConnect, kTls, kFirstByte, kIdleGap, kIdleAge, kDeferredError };

  // ResponseSink
  void OnHead(const HttpResponseHead& head) override;
  bool OnBody(std::string_view piece) override;
  void OnComplete() override;

  void TryConnect();
  void OnConnected();
  void StartTls();
  void StartRequest();
  void ArmRecv();
  void StopReceiving();
  void OnRecv(int result, uint32_t cqe_flags);
  void OnSend(int result);
  void HandleBytes(std::string_view bytes);
  void HandleProxyReply(std::string_view bytes);
  void ContinueTls();
  void ParsePlaintext();
  void FeedParser(std::string_view data, bool from_held);
  void AfterComplete();
  void OnEof();
  void OnSocketError(int error);
  void QueueCiphertext();
  void Flush();
  void ScheduleTimer(TimerKind kind, uint64_t delay_ms);
  void OnTimer();
  static void TimerThunk(Timer*, void* self);
  void FinishClose();
  bool RetryIfStale();
  UpstreamHandler* TakeHandler();

  UpstreamPool* pool_;
  uint32_t slot_;
  uint32_t generation_;
  int fd_ = -1;
  State state_ = State::kNew;

  std::shared_ptr<const AddressList> addresses_;
  size_t address_index_ = 0;
  bool via_proxy_ = false;
  std::string proxy_reply_;

  std::unique_ptr<TlsStream> tls_;
  ResponseParser parser_;
  OutputQueue out_;
  std::string plain_;        // decrypted or held-back bytes not yet parsed
  size_t plain_offset_ = 0;

  std::string request_;      // kept until the first response byte, for a stale-connection retry
  bool head_request_ = false;
  uint64_t max_body_bytes_ = ResponseParser::kNoBodyLimit;
  UpstreamHandler* handler_ = nullptr;
  uint64_t started_us_ = 0;
  bool reused_ = false;
  bool response_byte_seen_ = false;
  bool paused_ = false;
  bool reusable_ = true;

  Timer timer_;
  TimerKind timer_kind_ = TimerKind::kNone;
  UpstreamErrorKind deferred_kind_ = UpstreamErrorKind::kDns;
  std::string deferred_message_;
  uint64_t idle_since_ms_ = 0;

  bool connect_in_flight_ = false;
  bool recv_in_flight_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace ringgate
