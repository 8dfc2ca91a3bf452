// Response formatting: status line and headers appended straight into a connection's output
// buffer, the cached Date header, and the JSON error body every error response uses:
//   {"error":{"message":"...","type":"...","code":"..."}}
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace ringgate {

const char* ReasonPhrase(int status);

// The error `type` OpenAI clients expect for a status (invalid_request_error, server_error, ...).
std::string_view ErrorTypeForStatus(int status);

// Formats the Date header value once per second.
class HttpDate {
 public:
  std::string_view Now();

 private:
  time_t second_ = -1;
  char text_[40] = {};
  size_t length_ = 0;
};

struct ResponseHead {
  int status = 200;
  std::string_view content_type;  // omitted when empty
  uint64_t content_length = 0;
  bool keep_alive = true;
  bool chunked = false;       // Transfer-Encoding: chunked
  bool omit_length = false;   // no Content-Length (chunked or close-delimited)
  // Preformatted extra header lines, each ending in "\r\n".
  std::string_view extra_headers;
};

void AppendResponseHead(std::string& out, const ResponseHead& head, std::string_view date);

// "1a2b\r\n": the size line of one chunk of a chunked body.
void AppendChunkHeader(std::string& out, size_t size);

// Appends `text` as the inside of a JSON string (quotes not included), escaping as RFC 8259 says
// (AppendJsonString: invalid UTF-8 becomes U+FFFD).
void AppendJsonEscaped(std::string& out, std::string_view text);

// {"error":{"message":...,"type":...,"code":...}}
std::string JsonErrorBody(std::string_view message, std::string_view type, std::string_view code);

}  // namespace ringgate
