// ClientConnection: one accepted HTTP/1.1 connection on one core.
//
// Life: receives arrive through the core's multishot recv into provided buffers; each buffer is
// parsed at once (RequestParser) and given back, so an idle connection holds no receive buffer.
// Each complete request is dispatched to the router, whose answer goes into the output queue;
// one send is in flight at a time, and everything answered meanwhile leaves in the next one.
// When the output rises above its high mark the connection stops reading (the multishot recv is
// cancelled) until it drains below the low mark.
//
// Closing: after a final response (errors, Connection: close, draining) the write side is shut
// and the connection lingers, discarding input, until the peer closes or the linger time runs
// out, so the client reads the whole response instead of a reset. The slot is freed only after
// the last completion for it has arrived.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ringgate/http/request_parser.h"
#include "ringgate/http/router.h"
#include "ringgate/io/output_queue.h"
#include "ringgate/io/timer_wheel.h"
#include "ringgate/tls/tls_stream.h"

namespace ringgate {

class Shard;

class ClientConnection final : public Responder, public AsyncResponder {
 public:
  ClientConnection(Shard* shard, uint32_t slot, uint32_t generation, int fd);
  ~ClientConnection() override;

  void Start();
  // Called by the shard at the end of the loop iteration for connections that asked for it.
  void RunScheduledFlush();
  void OnRecv(int result, uint32_t cqe_flags);
  void OnSend(int result);
  // The core is draining: finish what is in progress, take no more requests.
  void Drain();
  // Close now, whatever is in progress.
  void Abort();

  uint32_t slot() const { return slot_; }
  uint32_t generation() const { return generation_; }
  bool idle() const;

  // Responder and AsyncResponder
  void Send(int status, std::string_view content_type, std::string_view body,
            std::string_view extra_headers) override;
  AsyncResponder* Defer(ResponseObserver* observer) override;
  void StartStream(int status, std::string_view content_type,
                   std::string_view extra_headers) override;
  void WriteChunk(std::string_view data) override;
  void WriteChunkWith(ChunkWriter write, void* context) override;
  void EndStream() override;
  bool congested() const override { return out_.above_high(); }
  void AbortResponse() override {
    observer_ = nullptr;
    Abort();
  }

 private:
  enum class TimerKind { kNone, kHeader, kBody, kIdle, kLinger };

  void ArmRecv();
  void ProcessInput(std::string_view data);
  void HandleRequest();
  void FailRequest(int status, std::string_view code, std::string_view message);
  void Flush();
  void ScheduleFlush();
  void AfterOutputDrained();
  void BeginLinger();
  void PauseReading();
  void ResumeReading();
  void UpdateTimer();
  void ScheduleTimer(TimerKind kind, uint64_t deadline_ms);
  void OnTimer();
  void MaybeFinish();
  template <typename WriteFn>
  void Emit(WriteFn&& write);
  void EncryptPending();
  void DecryptAndProcess(std::string_view ciphertext);
  void ResponseFinished();
  void CompleteDeferred();
  // Metrics and the access log: the answer's status (counted once per request), its end.
  void NoteResponseStatus(int status);
  void NoteResponseEnd(bool completed);
  void WriteAccessLog(bool completed);
  void NotifyGone();
  static void TimerThunk(Timer* timer, void* self);

  Shard* shard_;
  uint32_t slot_;
  uint32_t generation_;
  int fd_;
  sockaddr_storage peer_{};  // from getpeername() at Start; ss_family 0 when unknown
  RequestParser parser_;
  OutputQueue out_;
  Timer timer_;
  TimerKind timer_kind_ = TimerKind::kNone;
  std::string held_input_;  // bytes read but not parsed while reading is paused
  std::unique_ptr<TlsStream> tls_;  // set when the shard serves HTTPS
  std::string tls_plain_;           // response bytes waiting to be encrypted

  bool recv_armed_ = false;
  bool recv_wanted_ = true;      // false while paused by the output watermark
  bool keep_alive_ = true;       // false once a final response is queued
  bool close_after_flush_ = false;
  bool lingering_ = false;
  bool aborting_ = false;
  bool finished_ = false;
  bool peer_closed_ = false;     // the peer shut its write side (EOF seen)
  bool handling_head_ = false;   // the request being answered is HEAD
  bool current_keep_alive_ = true;
  bool current_http10_ = false;
  bool in_dispatch_ = false;
  bool flush_scheduled_ = false;      // inside the router's call for the current request
  bool response_pending_ = false; // deferred: answered later, maybe streamed
  bool streaming_ = false;
  bool stream_chunked_ = false;
  ResponseObserver* observer_ = nullptr;

  // The request being answered, for metrics and the access log.
  uint16_t route_id_ = 0;            // Router's id; kRouteNone before routing
  int response_status_ = 0;          // 0 until the head is written
  uint64_t response_bytes_ = 0;      // head and body bytes (before TLS)
  uint64_t request_started_us_ = 0;  // only with ACCESS_LOG
  bool request_parsed_ = false;
  std::string access_method_;  // only with ACCESS_LOG; capacity reused
  std::string access_path_;
};

}  // namespace ringgate
