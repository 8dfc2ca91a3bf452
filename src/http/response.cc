#include "ringgate/http/response.h"

#include "ringgate/json/json_writer.h"

#include <charconv>

namespace ringgate {

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string_view ErrorTypeForStatus(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string_view HttpDate::Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec != second_) {
    second_ = ts.tv_sec;
    tm utc;
    gmtime_r(&second_, &utc);
    length_ = strftime(text_, sizeof(text_), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  }
  return std::string_view(text_, length_);
}

void AppendResponseHead(std::string& out, const ResponseHead& head, std::string_view date) {
  char number[24];
  out.append("HTTP/1.1 ");
  auto [end, ec] = std::to_chars(number, number + sizeof(number), head.status);
  out.append(number, end);
  out.push_back(' ');
  out.append(ReasonPhrase(head.status));
  out.append("\r\nServer: ringgate\r\nDate: ");
  out.append(date);
  if (!head.content_type.empty()) {
    out.append("\r\nContent-Type: ");
    out.append(head.content_type);
  }
  if (head.chunked)
    out.append("\r\nTransfer-Encoding: chunked");
  // 1xx, 204 and 304 answers carry no body and, per RFC 9110, no Content-Length.
  bool bodiless = head.status < 200 || head.status == 204 || head.status == 304;
  if (!head.omit_length && !bodiless) {
    out.append("\r\nContent-Length: ");
    auto [end2, ec2] = std::to_chars(number, number + sizeof(number), head.content_length);
    out.append(number, end2);
  }
  out.append(head.keep_alive ? "\r\n" : "\r\nConnection: close\r\n");
  out.append(head.extra_headers);
  out.append("\r\n");
}

void AppendChunkHeader(std::string& out, size_t size) {
  char number[20];
  auto [end, ec] = std::to_chars(number, number + sizeof(number), size, 16);
  out.append(number, end);
  out.append("\r\n");
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  AppendJsonString(out, text);
}

std::string JsonErrorBody(std::string_view message, std::string_view type, std::string_view code) {
  std::string body;
  body.reserve(64 + message.size());
  body.append("{\"error\":{\"message\":\"");
  AppendJsonEscaped(body, message);
  body.append("\",\"type\":\"");
  AppendJsonEscaped(body, type);
  body.append("\",\"code\":\"");
  AppendJsonEscaped(body, code);
  body.append("\"}}");
  return body;
}

}  // namespace ringgate
