// RequestParser: incremental HTTP/1.1 request parsing on llhttp with the server's limits.
//
// Feed() takes whatever bytes arrived and stops at the end of each request, so pipelined
// requests are handled one at a time, in order:
//
//   kNeedMore  every byte was consumed; the request is not complete yet
//   kRequest   request() is complete; `consumed` bytes were used, feed the rest next
//   kError     the request is malformed or over a limit: answer `error_status` and close
//
// Limits: the request line plus headers may not exceed max_header_bytes (431), the body may not
// exceed max_body_bytes (413, decided from Content-Length before any body byte is read when the
// length is declared). Bytes arriving in any split give the same result.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/http/header_collector.h"
#include "ringgate/http/request.h"

namespace ringgate {

class RequestParser {
 public:
  struct Limits {
    uint32_t max_header_bytes = 64 * 1024;
    uint64_t max_body_bytes = 32ull * 1024 * 1024;
  };
  enum class Kind { kNeedMore, kRequest, kError };
  struct Outcome {
    Kind kind = Kind::kNeedMore;
    size_t consumed = 0;
    int error_status = 0;          // 400, 413, 417, 431, 501
    std::string_view error_code;   // machine-readable, e.g. "header_too_large"
    std::string error_message;     // for the client
  };

  explicit RequestParser(Limits limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  Outcome Feed(std::string_view data);

  // Valid after Feed() returned kRequest, until the next Feed().
  HttpRequest& request() { return request_; }

  // Bytes of a request not yet complete have been seen (an idle connection has none).
  bool in_request() const { return in_request_ && !message_complete_; }
  bool headers_done() const { return headers_done_; }
  // True once after the headers of a request carrying "Expect: 100-continue" were read.
  bool TakeExpectContinue();

  // Frees buffer memory beyond a small reserve (for idle connections).
  void ShrinkIfIdle();

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t length);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t length);
  static int OnHeaderFieldComplete(llhttp_t* p);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t length);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t length);
  static int OnMessageComplete(llhttp_t* p);
  static const llhttp_settings_t& Settings();

  void StartNextRequest();
  bool CountTrailer(size_t length);
  Outcome CheckHeaders();
  Outcome Fail(int status, std::string_view code, std::string message, size_t consumed);

  Limits limits_;
  llhttp_t parser_;
  HttpRequest request_;
  std::string head_;  // URL, header names and values, back to back
  uint32_t url_offset_ = 0, url_length_ = 0;
  HeaderCollector headers_;
  uint64_t header_bytes_ = 0;
  uint64_t trailer_bytes_ = 0;
  bool in_request_ = false;
  bool headers_done_ = false;
  bool paused_at_headers_ = false;
  bool message_complete_ = false;
  bool body_too_large_ = false;
  bool trailers_too_large_ = false;
  bool expect_continue_ = false;
  bool failed_ = false;
};

}  // namespace ringgate
