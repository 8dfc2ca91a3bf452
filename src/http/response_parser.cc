#include "ringgate/http/response_parser.h"

#include <algorithm>
#include <utility>

namespace ringgate {
namespace {

ResponseParser* Self(llhttp_t* p) {
  return static_cast<ResponseParser*>(p->data);
}

// Return values of on_headers_complete (see llhttp.h).
constexpr int kProceed = 0;
constexpr int kNoBody = 1;

bool IsInterim(int status) {
  return status >= 100 && status < 200 && status != 101;
}

}  // namespace

std::string_view HttpResponseHead::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

bool HttpResponseHead::HasHeader(std::string_view name) const {
  return FindHeader(headers, name).data() != nullptr;
}

const llhttp_settings_t& ResponseParser::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &ResponseParser::OnMessageBegin;
    s.on_status = &ResponseParser::OnStatus;
    s.on_header_field = &ResponseParser::OnHeaderField;
    s.on_header_field_complete = &ResponseParser::OnHeaderFieldComplete;
    s.on_header_value = &ResponseParser::OnHeaderValue;
    s.on_headers_complete = &ResponseParser::OnHeadersComplete;
    s.on_body = &ResponseParser::OnBody;
    s.on_message_complete = &ResponseParser::OnMessageComplete;
    return s;
  }();
  return settings;
}

ResponseParser::ResponseParser(ResponseSink* sink) : ResponseParser(sink, Limits()) {}

ResponseParser::ResponseParser(ResponseSink* sink, Limits limits)
    : sink_(sink), limits_(limits), max_body_bytes_(limits.max_body_bytes) {
  Reset(false);
}

void ResponseParser::Reset(bool head_request) {
  Reset(head_request, limits_.max_body_bytes);
}

void ResponseParser::Reset(bool head_request, uint64_t max_body_bytes) {
  llhttp_init(&parser_, HTTP_RESPONSE, &Settings());
  parser_.data = this;
  // Only changes what follows a message that does not keep the connection alive: llhttp would
  // refuse further bytes. The final response pauses the parser anyway (the next needs Reset()),
  // so this only lets an interim 1xx saying "Connection: close" (or HTTP/1.0) be skipped.
  llhttp_set_lenient_keep_alive(&parser_, 1);
  max_body_bytes_ = max_body_bytes;
  head_request_ = head_request;
  ClearHeadStorage();
  // Field by field so the header vector keeps its capacity: no allocation per response.
  std::vector<HttpHeader> headers = std::move(head_.headers);
  headers.clear();
  head_ = HttpResponseHead();
  head_.headers = std::move(headers);
  header_bytes_ = 0;
  trailer_bytes_ = 0;
  body_bytes_ = 0;
  in_response_ = false;
  headers_done_ = false;
  head_delivered_ = false;
  paused_at_headers_ = false;
  sink_paused_ = false;
  message_complete_ = false;
  body_too_large_ = false;
  trailers_too_large_ = false;
  switching_protocols_ = false;
  failed_ = false;
  error_at_ = nullptr;
  error_message_.clear();
}

void ResponseParser::ClearHeadStorage() {
  storage_.clear();
  headers_.Clear();
  reason_offset_ = reason_length_ = 0;
}

int ResponseParser::OnMessageBegin(llhttp_t* p) {
  Self(p)->in_response_ = true;
  return 0;
}

int ResponseParser::OnStatus(llhttp_t* p, const char* at, size_t length) {
  ResponseParser* self = Self(p);
  if (self->reason_length_ == 0)
    self->reason_offset_ = static_cast<uint32_t>(self->storage_.size());
  self->storage_.append(at, length);
  self->reason_length_ += static_cast<uint32_t>(length);
  return 0;
}

int ResponseParser::OnHeaderField(llhttp_t* p, const char* at, size_t length) {
  ResponseParser* self = Self(p);
  if (self->headers_done_) {
    // A chunked trailer: discarded (the head's views must not move), but limited.
    return self->CountTrailer(at, length);
  }
  self->headers_.AppendName(self->storage_, at, length);
  return 0;
}

int ResponseParser::CountTrailer(const char* at, size_t length) {
  uint64_t room = limits_.max_header_bytes - trailer_bytes_;
  if (length > room) {
    // Stop at the first byte over the limit, wherever the split fell.
    trailers_too_large_ = true;
    error_at_ = at + room + 1;
    return HPE_USER;
  }
  trailer_bytes_ += length;
  return 0;
}

int ResponseParser::OnHeaderFieldComplete(llhttp_t* p) {
  ResponseParser* self = Self(p);
  if (self->headers_done_)
    return 0;
  self->headers_.NameComplete(self->storage_);
  return 0;
}

int ResponseParser::OnHeaderValue(llhttp_t* p, const char* at, size_t length) {
  ResponseParser* self = Self(p);
  if (self->headers_done_) {
    return self->CountTrailer(at, length);
  }
  self->headers_.AppendValue(self->storage_, at, length);
  return 0;
}

int ResponseParser::OnHeadersComplete(llhttp_t* p) {
  ResponseParser* self = Self(p);
  int status = llhttp_get_status_code(p);
  if (status == 101) {
    self->switching_protocols_ = true;
    return -1;
  }
  // Interim responses never carry a body; their end is skipped in OnMessageComplete.
  if (IsInterim(status))
    return kNoBody;
  if (self->head_request_ || status == 204 || status == 304) {
    // No body whatever the headers say. Set here rather than returning kNoBody, because the
    // parser also pauses; llhttp reads the flag right after resuming.
    p->flags |= F_SKIPBODY;
  }
  self->headers_done_ = true;
  self->paused_at_headers_ = true;
  // Pause so Feed() learns exactly where the head ended (for the header limit), and hands the
  // head to the sink and applies the body limit before any body byte is read.
  return HPE_PAUSED;
}

int ResponseParser::OnBody(llhttp_t* p, const char* at, size_t length) {
  ResponseParser* self = Self(p);
  // llhttp flushes the open body span at the end of every execute, even an empty one.
  if (length == 0)
    return 0;
  uint64_t room = self->max_body_bytes_ - self->body_bytes_;
  if (length > room) {
    // Deliver what fits and stop at the first byte over the limit, wherever the split fell.
    if (room > 0)
      self->sink_->OnBody(std::string_view(at, room));
    self->body_bytes_ += room;
    self->body_too_large_ = true;
    self->error_at_ = at + room + 1;
    return HPE_USER;
  }
  self->body_bytes_ += length;
  if (!self->sink_->OnBody(std::string_view(at, length))) {
    self->sink_paused_ = true;
    return HPE_PAUSED;
  }
  return 0;
}

int ResponseParser::OnMessageComplete(llhttp_t* p) {
  ResponseParser* self = Self(p);
  if (!self->headers_done_) {
    // The end of an interim 1xx response: forget its head and read the next one.
    self->ClearHeadStorage();
    return 0;
  }
  self->message_complete_ = true;
  return HPE_PAUSED;
}

ResponseParser::Outcome ResponseParser::Fail(std::string message, size_t consumed) {
  failed_ = true;
  error_message_ = message;
  Outcome out;
  out.kind = Kind::kError;
  out.consumed = consumed;
  out.error_message = std::move(message);
  return out;
}

ResponseParser::Outcome ResponseParser::Complete(size_t consumed) {
  sink_->OnComplete();
  Outcome out;
  out.kind = Kind::kComplete;
  out.consumed = consumed;
  return out;
}

bool ResponseParser::FinishHead() {
  std::string_view storage(storage_);
  head_.status = llhttp_get_status_code(&parser_);
  head_.reason = storage.substr(reason_offset_, reason_length_);
  head_.version_major = llhttp_get_http_major(&parser_);
  head_.version_minor = llhttp_get_http_minor(&parser_);
  headers_.Views(storage, &head_.headers);
  bool skip_body = (parser_.flags & F_SKIPBODY) != 0;
  head_.has_content_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  head_.content_length = head_.has_content_length ? parser_.content_length : 0;
  head_.chunked = (parser_.flags & F_CHUNKED) != 0;
  head_.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
  // The same decision llhttp__after_headers_complete makes once resumed.
  head_.body_ends_at_eof = !skip_body && !head_.chunked &&
                           ((parser_.flags & F_TRANSFER_ENCODING) != 0 ||
                            (!head_.has_content_length && llhttp_message_needs_eof(&parser_) != 0));
  head_.has_body = !skip_body && (head_.chunked || head_.body_ends_at_eof ||
                                  (head_.has_content_length && head_.content_length > 0));
  if (head_.has_body && !head_.chunked && head_.has_content_length &&
      head_.content_length > max_body_bytes_) {
    return false;
  }
  return true;
}

ResponseParser::Outcome ResponseParser::Feed(std::string_view data) {
  if (failed_)
    return Fail(error_message_, 0);
  if (message_complete_) {
    Outcome out;
    out.kind = Kind::kComplete;
    return out;
  }
  size_t offset = 0;
  // After a pause (end of the head, or the sink's), llhttp may owe transitions that need no
  // input, such as completing a body-less response: it needs one more call even with no bytes.
  bool must_execute = false;
  if (sink_paused_) {
    sink_paused_ = false;
    llhttp_resume(&parser_);
    must_execute = true;
  }
  while (offset < data.size() || must_execute) {
    must_execute = false;
    const char* start = data.data() + offset;
    size_t chunk = data.size() - offset;
    bool counting_head = !headers_done_;
    if (counting_head) {
      // Never hand llhttp more head bytes than one past the limit, so an endless head is
      // stopped at the limit whatever the split.
      chunk = std::min<uint64_t>(chunk, uint64_t{limits_.max_header_bytes} + 1 - header_bytes_);
    }
    llhttp_errno_t err = llhttp_execute(&parser_, start, chunk);
    size_t used = chunk;
    if (err != HPE_OK) {
      const char* end = error_at_ != nullptr ? error_at_ : llhttp_get_error_pos(&parser_);
      used = static_cast<size_t>(end - start);
    }
    offset += used;
    if (counting_head) {
      header_bytes_ += used;
      if (header_bytes_ > limits_.max_header_bytes) {
        return Fail("upstream response head is larger than the limit of " +
                        std::to_string(limits_.max_header_bytes) + " bytes",
                    offset);
      }
    }
    if (err == HPE_OK)
      continue;
    if (err == HPE_PAUSED && paused_at_headers_) {
      paused_at_headers_ = false;
      if (!FinishHead()) {
        return Fail("upstream response body of " + std::to_string(head_.content_length) +
                        " bytes is larger than the limit of " + std::to_string(max_body_bytes_) +
                        " bytes",
                    offset);
      }
      head_delivered_ = true;
      sink_->OnHead(head_);
      llhttp_resume(&parser_);
      must_execute = true;
      continue;
    }
    if (err == HPE_PAUSED && message_complete_)
      return Complete(offset);
    if (err == HPE_PAUSED && sink_paused_) {
      Outcome out;
      out.kind = Kind::kPaused;
      out.consumed = offset;
      return out;
    }
    if (body_too_large_) {
      return Fail("upstream response body is larger than the limit of " +
                      std::to_string(max_body_bytes_) + " bytes",
                  offset);
    }
    if (trailers_too_large_) {
      return Fail("upstream response trailers are larger than the limit of " +
                      std::to_string(limits_.max_header_bytes) + " bytes",
                  offset);
    }
    if (switching_protocols_)
      return Fail("unexpected 101 Switching Protocols from upstream", offset);
    const char* reason = llhttp_get_error_reason(&parser_);
    return Fail(std::string("malformed upstream response: ") +
                    (reason != nullptr ? reason : llhttp_errno_name(err)),
                offset);
  }
  Outcome out;
  out.consumed = offset;
  return out;
}

ResponseParser::Outcome ResponseParser::FinishOnEof() {
  if (failed_)
    return Fail(error_message_, 0);
  if (sink_paused_) {
    // Run what the pause left owed (it may complete the response).
    Outcome out = Feed({});
    if (out.kind != Kind::kNeedMore)
      return out;
  }
  if (message_complete_) {
    Outcome out;
    out.kind = Kind::kComplete;
    return out;
  }
  if (!in_response_)
    return Fail("upstream closed the connection without a response", 0);
  if (!headers_done_)
    return Fail("upstream closed mid-head", 0);
  if (!head_.body_ends_at_eof)
    return Fail("upstream closed mid-body", 0);
  llhttp_errno_t err = llhttp_finish(&parser_);
  if (message_complete_)
    return Complete(0);
  const char* reason = llhttp_get_error_reason(&parser_);
  return Fail(std::string("upstream closed mid-body: ") +
                  (reason != nullptr ? reason : llhttp_errno_name(err)),
              0);
}

}  // namespace ringgate
