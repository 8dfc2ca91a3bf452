#include "ringgate/http/request_parser.h"

#include <algorithm>

namespace ringgate {
namespace {

RequestParser* Self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

constexpr size_t kIdleHeadKeep = 4096;
constexpr size_t kBodySlack = 64;
constexpr size_t kIdleBodyKeep = 64 * 1024;

// RFC 9110 token characters: what a header name may contain. llhttp 8.1 lets spaces and some
// separators through, and "Host : x" (space before the colon) is a request-smuggling vector.
bool IsTokenChar(unsigned char c) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
         kSymbols.find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

const llhttp_settings_t& RequestParser::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &RequestParser::OnMessageBegin;
    s.on_url = &RequestParser::OnUrl;
    s.on_header_field = &RequestParser::OnHeaderField;
    s.on_header_field_complete = &RequestParser::OnHeaderFieldComplete;
    s.on_header_value = &RequestParser::OnHeaderValue;
    s.on_headers_complete = &RequestParser::OnHeadersComplete;
    s.on_body = &RequestParser::OnBody;
    s.on_message_complete = &RequestParser::OnMessageComplete;
    return s;
  }();
  return settings;
}

RequestParser::RequestParser(Limits limits) : limits_(limits) {
  llhttp_init(&parser_, HTTP_REQUEST, &Settings());
  parser_.data = this;
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->in_request_ = true;
  return 0;
}

int RequestParser::OnUrl(llhttp_t* p, const char* at, size_t length) {
  RequestParser* self = Self(p);
  if (self->url_length_ == 0) self->url_offset_ = static_cast<uint32_t>(self->head_.size());
  self->head_.append(at, length);
  self->url_length_ += static_cast<uint32_t>(length);
  return 0;
}

// Trailers (after a chunked body) are not kept: the request's views already point into head_,
// which must not grow now. They are only counted against the header limit.
bool RequestParser::CountTrailer(size_t length) {
  trailer_bytes_ += length;
  if (trailer_bytes_ > limits_.max_header_bytes) {
    trailers_too_large_ = true;
    return false;
  }
  return true;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t length) {
  RequestParser* self = Self(p);
  if (self->headers_done_) return self->CountTrailer(length + 4) ? 0 : HPE_USER;
  self->headers_.AppendName(self->head_, at, length);
  return 0;
}

int RequestParser::OnHeaderFieldComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  if (self->headers_done_) return 0;
  self->headers_.NameComplete(self->head_);
  return 0;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t length) {
  RequestParser* self = Self(p);
  if (self->headers_done_) return self->CountTrailer(length) ? 0 : HPE_USER;
  self->headers_.AppendValue(self->head_, at, length);
  return 0;
}

int RequestParser::OnHeadersComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->headers_done_ = true;
  self->paused_at_headers_ = true;
  // Pause so Feed() learns exactly where the headers ended (for the header limit) and can
  // apply the body limit before any body byte is read.
  return HPE_PAUSED;
}

int RequestParser::OnBody(llhttp_t* p, const char* at, size_t length) {
  RequestParser* self = Self(p);
  if (self->request_.body.size() + length > self->limits_.max_body_bytes) {
    self->body_too_large_ = true;
    return HPE_USER;
  }
  self->request_.body.append(at, length);
  return 0;
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->message_complete_ = true;
  // After an Upgrade request the bytes that follow are another protocol: answer, then close.
  self->request_.keep_alive = llhttp_should_keep_alive(p) != 0 && p->upgrade == 0;
  return HPE_PAUSED;
}

void RequestParser::StartNextRequest() {
  head_.clear();
  headers_.Clear();
  url_offset_ = url_length_ = 0;
  header_bytes_ = 0;
  trailer_bytes_ = 0;
  in_request_ = false;
  headers_done_ = false;
  message_complete_ = false;
  expect_continue_ = false;
  request_.headers.clear();
  request_.body.clear();
  request_.target = request_.path = request_.query = {};
}

bool RequestParser::TakeExpectContinue() {
  bool value = expect_continue_;
  expect_continue_ = false;
  return value;
}

void RequestParser::ShrinkIfIdle() {
  if (in_request()) return;
  if (head_.capacity() > kIdleHeadKeep) std::string().swap(head_);
  if (request_.body.capacity() > kIdleBodyKeep) std::string().swap(request_.body);
  headers_.ShrinkIfLarge(64);
  if (request_.headers.capacity() > 64) std::vector<HttpHeader>().swap(request_.headers);
}

RequestParser::Outcome RequestParser::Fail(int status, std::string_view code, std::string message,
                                           size_t consumed) {
  failed_ = true;
  Outcome out;
  out.kind = Kind::kError;
  out.consumed = consumed;
  out.error_status = status;
  out.error_code = code;
  out.error_message = std::move(message);
  return out;
}

// Runs once the header block is complete: builds the request's views and applies the checks
// that must happen before any body byte is accepted.
RequestParser::Outcome RequestParser::CheckHeaders() {
  request_.method = llhttp_get_method(&parser_);
  request_.method_name = llhttp_method_name(static_cast<llhttp_method_t>(request_.method));
  request_.version_major = llhttp_get_http_major(&parser_);
  request_.version_minor = llhttp_get_http_minor(&parser_);
  request_.target = std::string_view(head_).substr(url_offset_, url_length_);
  size_t q = request_.target.find('?');
  request_.path = request_.target.substr(0, q);
  request_.query = q == std::string_view::npos ? std::string_view() : request_.target.substr(q + 1);
  if (request_.version_major != 1) {
    return Fail(505, "http_version_not_supported",
                "only HTTP/1.0 and HTTP/1.1 are supported", 0);
  }
  headers_.Views(head_, &request_.headers);
  for (const HttpHeader& header : request_.headers) {
    if (!IsToken(header.name)) {
      return Fail(400, "bad_request", "malformed HTTP request: invalid header name", 0);
    }
  }

  bool has_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  bool chunked = (parser_.flags & F_CHUNKED) != 0;
  if (has_length && parser_.content_length > limits_.max_body_bytes) {
    return Fail(413, "request_too_large",
                "request body of " + std::to_string(parser_.content_length) +
                    " bytes is larger than the limit of " +
                    std::to_string(limits_.max_body_bytes) + " bytes",
                0);
  }
  // The slack lets JSON bodies be parsed in place (simdjson reads up to 64 bytes past the end).
  if (has_length) request_.body.reserve(parser_.content_length + kBodySlack);

  std::string_view expect = request_.Header("expect");
  if (!expect.empty()) {
    if (!EqualsIgnoreCase(expect, "100-continue")) {
      return Fail(417, "expectation_failed",
                  "only 'Expect: 100-continue' is supported", 0);
    }
    // Only worth a 100 when a body is still to come.
    expect_continue_ = chunked || (has_length && parser_.content_length > 0);
  }
  return Outcome{};
}

RequestParser::Outcome RequestParser::Feed(std::string_view data) {
  if (failed_) return Fail(400, "bad_request", "connection is in an error state", 0);
  if (message_complete_) {
    StartNextRequest();
    llhttp_resume(&parser_);
  }
  size_t offset = 0;
  // After the pause at the end of the headers, llhttp still owes the transition that completes
  // a body-less request; it needs one more call even when no bytes are left.
  bool resumed_at_headers = false;
  while (offset < data.size() || resumed_at_headers) {
    resumed_at_headers = false;
    const char* start = data.data() + offset;
    size_t chunk = data.size() - offset;
    bool counting_headers = !headers_done_;
    if (counting_headers) {
      // Never hand llhttp more header bytes than one past the limit, so an endless header
      // block is stopped at the limit whatever the split.
      chunk = std::min<uint64_t>(chunk, limits_.max_header_bytes + 1 - header_bytes_);
    }
    llhttp_errno_t err = llhttp_execute(&parser_, start, chunk);
    size_t used = chunk;
    if (err != HPE_OK) used = static_cast<size_t>(llhttp_get_error_pos(&parser_) - start);
    offset += used;
    if (counting_headers) {
      header_bytes_ += used;
      if (header_bytes_ > limits_.max_header_bytes) {
        return Fail(431, "header_too_large",
                    "request line and headers are larger than the limit of " +
                        std::to_string(limits_.max_header_bytes) + " bytes",
                    offset);
      }
    }
    if (err == HPE_OK) continue;
    if (err == HPE_PAUSED && paused_at_headers_) {
      paused_at_headers_ = false;
      Outcome checked = CheckHeaders();
      if (checked.kind == Kind::kError) {
        checked.consumed = offset;
        return checked;
      }
      llhttp_resume(&parser_);
      resumed_at_headers = true;
      continue;
    }
    if (err == HPE_PAUSED && message_complete_) {
      Outcome out;
      out.kind = Kind::kRequest;
      out.consumed = offset;
      return out;
    }
    if (err == HPE_PAUSED_UPGRADE && message_complete_) {
      // We speak no other protocol: answer this request, then the connection ends.
      request_.keep_alive = false;
      Outcome out;
      out.kind = Kind::kRequest;
      out.consumed = offset;
      return out;
    }
    if (err == HPE_USER && trailers_too_large_) {
      return Fail(431, "header_too_large",
                  "request trailers are larger than the limit of " +
                      std::to_string(limits_.max_header_bytes) + " bytes",
                  offset);
    }
    if (err == HPE_USER && body_too_large_) {
      return Fail(413, "request_too_large",
                  "request body is larger than the limit of " +
                      std::to_string(limits_.max_body_bytes) + " bytes",
                  offset);
    }
    const char* reason = llhttp_get_error_reason(&parser_);
    return Fail(400, "bad_request",
                std::string("malformed HTTP request: ") + (reason != nullptr ? reason : "error"),
                offset);
  }
  Outcome out;
  out.consumed = offset;
  return out;
}

}  // namespace ringgate
