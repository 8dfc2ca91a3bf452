// ResponseParser: incremental HTTP/1.1 parsing, on llhttp, of the responses an upstream (Google's
// API or a fake) sends back on a connection the gateway opened.
//
// One parser serves one upstream connection, one response at a time:
//
//   parser.Reset(/*head_request=*/false);   // before each response
//   Outcome out = parser.Feed(bytes);       // as bytes arrive, any split
//
// Results reach a ResponseSink while Feed() runs: OnHead() once with the status line and headers,
// OnBody() for each piece of the (de-chunked) body as a view INTO THE BYTES PASSED TO Feed() (no
// copy; valid only during the call), then OnComplete(). Feed() returns
//
//   kNeedMore  every byte was consumed; the response is not complete yet
//   kComplete  the response ended (OnComplete() ran); `consumed` bytes were used and the rest
//              belong to no response: on a keep-alive connection they are a protocol error (the
//              upstream spoke out of turn), the caller decides. Feed() returns kComplete with
//              nothing consumed until Reset().
//   kPaused    the sink returned false from OnBody(): that piece was accepted and `consumed`
//              counts it; feed the rest (data.substr(consumed), EVEN WHEN EMPTY) to resume.
//   kError     malformed, over a limit, or an unexpected 101: close the connection. Later calls
//              repeat the error until Reset().
//
// Bodies that end at EOF (no Content-Length, not chunked) are completed by FinishOnEof(); EOF in
// the middle of a head, a Content-Length body or a chunked body is an error.
//
// Interim 1xx responses (100 Continue, 102, 103) are skipped: the sink never sees them. 101
// Switching Protocols is an error (the gateway never asks to upgrade). Responses to HEAD, and 204
// and 304 responses, have no body whatever their Content-Length or Transfer-Encoding say.
//
// Limits: the status line plus headers may not exceed max_header_bytes (interim 1xx heads count
// toward it, so an endless run of them stops too); chunked trailers are discarded and limited to
// the same size. The body is unlimited by default (streams can run long); max_body_bytes, per
// parser or per response, stops a larger body before its first byte when Content-Length declares
// it (OnHead() does not run), otherwise after delivering the bytes up to the limit. On a limit
// error `consumed` counts the first byte over the limit, whatever the split.
//
// Callbacks run inside Feed()/FinishOnEof(); the sink must not call back into the parser except
// for the const accessors.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/http/header_collector.h"
#include "ringgate/http/request.h"

namespace ringgate {

// The status line and headers of one final (non-1xx) response. The views point into storage
// owned by the ResponseParser and stay valid until its next Reset() (or its destruction).
struct HttpResponseHead {
  int status = 0;
  std::string_view reason;  // as sent, may be empty
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  std::vector<HttpHeader> headers;  // in order, values without surrounding blanks
  // The connection may carry another response after this one (llhttp_should_keep_alive: HTTP
  // version, Connection header, and false for a body that ends at EOF).
  bool keep_alive = true;
  bool has_content_length = false;
  uint64_t content_length = 0;  // as declared, when has_content_length
  bool chunked = false;         // Transfer-Encoding ends in chunked
  // A body follows (possibly empty when chunked); false for HEAD, 204, 304, Content-Length: 0.
  bool has_body = false;
  // The body ends when the upstream closes the connection (see FinishOnEof()).
  bool body_ends_at_eof = false;

  // First header with this name (ASCII case-insensitive), or empty.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Once per response, before any body byte. `head` stays valid until the parser's Reset().
  virtual void OnHead(const HttpResponseHead& head) = 0;
  // One piece of the body (chunk framing removed), never empty. `piece` points into the buffer
  // given to Feed() and is valid only during the call. Return false to pause: Feed() returns
  // kPaused right after this piece.
  virtual bool OnBody(std::string_view piece) = 0;
  // Once, when the response ended (Feed() or FinishOnEof() then returns kComplete).
  virtual void OnComplete() = 0;
};

class ResponseParser {
 public:
  static constexpr uint64_t kNoBodyLimit = std::numeric_limits<uint64_t>::max();
  struct Limits {
    uint32_t max_header_bytes = 64 * 1024;
    uint64_t max_body_bytes = kNoBodyLimit;  // default for each response
  };
  enum class Kind { kNeedMore, kComplete, kPaused, kError };
  struct Outcome {
    Kind kind = Kind::kNeedMore;
    size_t consumed = 0;
    std::string error_message;  // for logs and the client's 502, when kError
  };

  // `sink` must outlive the parser. Ready for a non-HEAD response, as after Reset(false).
  explicit ResponseParser(ResponseSink* sink);
  ResponseParser(ResponseSink* sink, Limits limits);
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Prepares for the next response, forgetting the previous one (its head's views die here).
  // `head_request`: the request was HEAD, so the response has no body.
  void Reset(bool head_request);
  // As above, with a body limit for this response only (e.g. a non-streaming call).
  void Reset(bool head_request, uint64_t max_body_bytes);

  Outcome Feed(std::string_view data);
  // The upstream closed the connection (read returned 0): completes a body that ends at EOF;
  // otherwise an error unless the response was already complete (then kComplete again, without
  // a second OnComplete()). Call it only after every received byte was fed (and accepted).
  Outcome FinishOnEof();

  // Valid once OnHead() ran, until Reset().
  const HttpResponseHead& head() const { return head_; }
  bool head_done() const { return head_delivered_; }
  // Some byte of this response (interim 1xx included) was seen.
  bool in_response() const { return in_response_; }
  bool message_complete() const { return message_complete_; }
  // The head asked to keep the connection open and nothing failed. The connection is reusable
  // when message_complete() && keep_alive() and no byte followed the response.
  bool keep_alive() const { return head_delivered_ && head_.keep_alive && !failed_; }
  // The head was delivered but the body has not all been read: the connection cannot carry
  // another response unless the rest is read first.
  bool body_unread() const { return head_delivered_ && !message_complete_; }
  bool failed() const { return failed_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnStatus(llhttp_t* p, const char* at, size_t length);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t length);
  static int OnHeaderFieldComplete(llhttp_t* p);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t length);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t length);
  static int OnMessageComplete(llhttp_t* p);
  static const llhttp_settings_t& Settings();

  int CountTrailer(const char* at, size_t length);
  void ClearHeadStorage();
  // Builds head_ once the final head is complete and applies the body limit.
  bool FinishHead();
  Outcome Fail(std::string message, size_t consumed);
  Outcome Complete(size_t consumed);

  ResponseSink* sink_;
  Limits limits_;
  uint64_t max_body_bytes_;
  llhttp_t parser_;
  HttpResponseHead head_;
  std::string storage_;  // reason, header names and values, back to back
  uint32_t reason_offset_ = 0, reason_length_ = 0;
  HeaderCollector headers_;
  uint64_t header_bytes_ = 0;
  uint64_t trailer_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  bool head_request_ = false;
  bool in_response_ = false;
  bool headers_done_ = false;
  bool head_delivered_ = false;
  bool paused_at_headers_ = false;
  bool sink_paused_ = false;
  bool message_complete_ = false;
  bool body_too_large_ = false;
  bool trailers_too_large_ = false;
  bool switching_protocols_ = false;
  bool failed_ = false;
  const char* error_at_ = nullptr;  // where a callback's limit error stopped, if it did
  std::string error_message_;
};

}  // namespace ringgate
