// ttfb: time to first byte of sequential HTTP/1.1 requests on one keep-alive connection.
//
//   build/bench/ttfb --port 8090 --header 'x-goog-api-key: k' --body '{"contents":[...]}'
//       --requests 2000 --warmup 200 --path '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'
//
// For each request it takes three times, all from just before the request's write():
//   first byte   the first byte of the response (status line) arrives
//   first event  the first "data:" of the (de-chunked) body has arrived
//   complete     the whole response (Content-Length, or the chunked terminator) has arrived
// and prints the median, p90, p99 and max of each, plus one `key=value` summary line for
// scripts. Every response must be 200; with --expect-suffix S its de-chunked body must end
// with S (e.g. "data: [DONE]\n\n"). Any failure: exit status 1. Blocking sockets, TCP_NODELAY,
// no dependencies; the client itself costs a few µs per request, the same for every target.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";
  std::string method = "POST";
  std::vector<std::string> headers;
  std::string body;
  std::string expect_suffix;
  int requests = 1000;
  int warmup = 100;
};

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "ttfb: %s\n", what.c_str());
  std::exit(1);
}

std::string Unescape(std::string_view s) {  // \n \r \t \\ in --expect-suffix
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Fail("missing value for " + a);
      return argv[++i];
    };
    if (a == "--host") o.host = next();
    else if (a == "--port") o.port = std::atoi(next().c_str());
    else if (a == "--path") o.path = next();
    else if (a == "--method") o.method = next();
    else if (a == "--header") o.headers.push_back(next());
    else if (a == "--body") o.body = next();
    else if (a == "--body-file") {
      std::ifstream f(next(), std::ios::binary);
      if (!f) Fail("cannot read body file");
      std::stringstream ss;
      ss << f.rdbuf();
      o.body = ss.str();
    } else if (a == "--expect-suffix") o.expect_suffix = Unescape(next());
    else if (a == "--requests") o.requests = std::atoi(next().c_str());
    else if (a == "--warmup") o.warmup = std::atoi(next().c_str());
    else if (a == "-h" || a == "--help") {
      std::printf("usage: ttfb --port P [--host H] [--path P] [--method M] [--header 'K: V']...\n"
                  "            [--body S | --body-file F] [--expect-suffix S] [--requests N] [--warmup N]\n");
      std::exit(0);
    } else {
      Fail("unknown argument " + a);
    }
  }
  if (o.port <= 0 || o.requests <= 0 || o.warmup < 0) Fail("need --port and positive --requests");
  return o;
}

int Connect(const Options& o) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &sa.sin_addr) != 1) Fail("bad --host (IPv4 only)");
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    Fail(std::string("connect: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

struct Sample {
  double first_byte_us, first_event_us, complete_us;
};

// Incremental response reader: head, then a Content-Length or chunked body.
struct Response {
  std::string raw;        // bytes received for this response
  size_t head_end = 0;    // offset past "\r\n\r\n", 0 while unknown
  int status = 0;
  bool chunked = false;
  bool close = false;
  long content_length = -1;
  size_t pos = 0;         // parse position in raw (body part)
  std::string body;       // de-chunked body
  bool done = false;

  static bool IEquals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  }

  void Feed() {
    if (head_end == 0) {
      size_t e = raw.find("\r\n\r\n");
      if (e == std::string::npos) return;
      head_end = e + 4;
      std::string_view head(raw.data(), e);
      if (head.size() < 12 || head.substr(0, 5) != "HTTP/") Fail("bad status line");
      status = std::atoi(std::string(head.substr(9, 3)).c_str());
      size_t line = head.find("\r\n");
      while (line != std::string_view::npos) {
        size_t start = line + 2, end = head.find("\r\n", start);
        std::string_view h = head.substr(start, end == std::string_view::npos ? end : end - start);
        size_t colon = h.find(':');
        if (colon != std::string_view::npos) {
          std::string_view name = h.substr(0, colon), value = h.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
          if (IEquals(name, "content-length")) content_length = std::atol(std::string(value).c_str());
          if (IEquals(name, "transfer-encoding") && IEquals(value, "chunked")) chunked = true;
          if (IEquals(name, "connection") && IEquals(value, "close")) close = true;
        }
        line = end;
      }
      pos = head_end;
    }
    if (!chunked) {
      if (content_length < 0) Fail("response has neither Content-Length nor chunked");
      if (raw.size() - head_end >= static_cast<size_t>(content_length)) {
        body = raw.substr(head_end, content_length);
        done = true;
      }
      return;
    }
    while (!done) {
      size_t eol = raw.find("\r\n", pos);
      if (eol == std::string::npos) return;
      size_t size = std::strtoul(raw.c_str() + pos, nullptr, 16);
      if (size == 0) {
        if (raw.size() < eol + 4) return;  // "0\r\n\r\n" (no trailers expected)
        done = true;
        return;
      }
      if (raw.size() < eol + 2 + size + 2) return;
      body.append(raw, eol + 2, size);
      pos = eol + 2 + size + 2;
    }
  }
};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  std::string request = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" +
                        std::to_string(o.port) + "\r\n";
  for (const auto& h : o.headers) request += h + "\r\n";
  if (!o.body.empty() || o.method == "POST")
    request += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  request += "\r\n" + o.body;

  int fd = Connect(o);
  std::vector<Sample> samples;
  samples.reserve(o.requests);
  size_t events_total = 0, reconnects = 0;
  char buf[65536];
  for (int n = 0; n < o.warmup + o.requests; ++n) {
    Response r;
    auto t0 = Clock::now();
    for (size_t off = 0; off < request.size();) {
      ssize_t w = write(fd, request.data() + off, request.size() - off);
      if (w < 0) Fail(std::string("write: ") + std::strerror(errno));
      off += static_cast<size_t>(w);
    }
    Clock::time_point t_first{}, t_event{};
    bool have_first = false, have_event = false;
    while (!r.done) {
      ssize_t got = read(fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) Fail("connection closed before the response completed (request " +
                         std::to_string(n) + ")");
      auto now = Clock::now();
      if (!have_first) t_first = now, have_first = true;
      r.raw.append(buf, static_cast<size_t>(got));
      r.Feed();
      if (!have_event && r.body.find("data:") != std::string::npos) t_event = now, have_event = true;
    }
    auto t_done = Clock::now();
    if (r.status != 200) Fail("status " + std::to_string(r.status) + ": " + r.body.substr(0, 300));
    if (!o.expect_suffix.empty() &&
        (r.body.size() < o.expect_suffix.size() ||
         r.body.compare(r.body.size() - o.expect_suffix.size(), std::string::npos, o.expect_suffix) != 0))
      Fail("body does not end with the expected suffix; body tail: " +
           r.body.substr(r.body.size() > 300 ? r.body.size() - 300 : 0));
    if (r.pos < r.raw.size() && r.chunked && r.raw.size() > r.pos + 5)
      Fail("extra bytes after the response (pipelining is not expected)");
    size_t events = 0;
    for (size_t p = 0; (p = r.body.find("data:", p)) != std::string::npos; p += 5) ++events;
    if (!have_event) t_event = t_done;
    auto us = [&](Clock::time_point t) {
      return std::chrono::duration<double, std::micro>(t - t0).count();
    };
    if (n >= o.warmup) {
      samples.push_back({us(t_first), us(t_event), us(t_done)});
      events_total += events;
    }
    if (r.close) {
      close(fd);
      fd = Connect(o);
      ++reconnects;
    }
  }
  close(fd);

  std::vector<double> fb, fe, c;
  for (const auto& s : samples) fb.push_back(s.first_byte_us), fe.push_back(s.first_event_us),
                                c.push_back(s.complete_us);
  std::printf("%d requests (after %d warm-up) on one connection, %zu data: events, %zu reconnects\n",
              o.requests, o.warmup, events_total, reconnects);
  std::printf("%-12s %10s %10s %10s %10s   (µs from the request's write)\n", "", "median", "p90",
              "p99", "max");
  auto row = [](const char* name, const std::vector<double>& v) {
    std::printf("%-12s %10.1f %10.1f %10.1f %10.1f\n", name, Percentile(v, 50), Percentile(v, 90),
                Percentile(v, 99), *std::max_element(v.begin(), v.end()));
  };
  row("first byte", fb);
  row("first event", fe);
  row("complete", c);
  std::printf("summary: requests=%d events=%zu fb_p50=%.1f fb_p99=%.1f fe_p50=%.1f fe_p99=%.1f "
              "done_p50=%.1f done_p99=%.1f\n",
              o.requests, events_total, Percentile(fb, 50), Percentile(fb, 99), Percentile(fe, 50),
              Percentile(fe, 99), Percentile(c, 50), Percentile(c, 99));
  return 0;
}
