// Integration-test harness: runs the real `ringgate` binary as a child process and talks to it
// over loopback sockets.
//
//   ServerProcess   fork/exec of the binary with extra flags and environment, waits for its
//                   "listening on http://HOST:PORT" lines, stops it with SIGTERM (SIGKILL after a
//                   timeout, only ever for the PID it spawned), keeps its stderr for diagnostics.
//   HttpConnection  a blocking client on one TCP connection: send raw bytes, read one complete
//                   response (Content-Length, chunked or read-until-close body), detect EOF.
//   RunConcurrentRequests
//                   many connections at once from one thread with non-blocking sockets and poll.
//
// Only numeric loopback addresses are ever used (127.0.0.1, ::1).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringgate::testing {

using Millis = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// How long a single read waits by default before giving up.
inline constexpr Millis kDefaultReadTimeout{5000};

// Path of the binary under test, from $RINGGATE_BINARY (set by meson).
std::string RinggateBinary();

// Raises the soft RLIMIT_NOFILE of this process (and so of servers it starts) to at least
// `wanted`, capped by the hard limit. Returns the new soft limit.
uint64_t RaiseFdLimit(uint64_t wanted);

// True when an IPv6 socket can be bound to [::1].
bool Ipv6LoopbackAvailable();

// ---------------------------------------------------------------------------------------------
// Running the binary.

struct ServerOptions {
  // Value of --listen; empty means no --listen flag is passed (e.g. when LISTEN comes from env).
  std::string listen = "127.0.0.1:0";
  // Further command-line arguments, appended after --listen.
  std::vector<std::string> args;
  // Extra environment entries, "NAME=VALUE". The child otherwise gets this process's
  // environment minus ringgate's own variables (LISTEN, THREADS, ...), so runs are hermetic.
  std::vector<std::string> env;
  // Number of "listening on" lines to wait for; 0 means one per comma-separated address in
  // `listen` (or 1 when `listen` is empty).
  int expected_listen_lines = 0;
  Millis startup_timeout{10000};
};

struct Endpoint {
  std::string host;  // as printed, without brackets: "127.0.0.1", "::1"
  uint16_t port = 0;
};

// Result of running the binary to completion (for --help and bad flags).
struct ProcessResult {
  bool exited = false;     // exited normally (not killed by a signal, not timed out)
  int exit_code = -1;      // valid when `exited`
  bool timed_out = false;  // had to be killed
  int wait_status = 0;     // raw status from waitpid
  std::string out;         // stdout
  std::string err;         // stderr
};

// Runs the binary with `args` and extra `env` and waits for it to exit (SIGKILL after `timeout`).
ProcessResult RunBinary(const std::vector<std::string>& args,
                        const std::vector<std::string>& env = {}, Millis timeout = Millis(10000));

// A running server. Move-only; the destructor stops the server (SIGTERM, then SIGKILL) if it
// still runs, and prints its stderr when the current test has failed.
class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the binary and waits until it printed its listening lines.
  ::testing::AssertionResult Start(const ServerOptions& options = {});

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !reaped_; }
  const std::vector<Endpoint>& endpoints() const { return endpoints_; }
  // Port of the first endpoint.
  uint16_t port() const { return endpoints_.empty() ? 0 : endpoints_.front().port; }
  // Host of the first endpoint (numeric, no brackets).
  std::string host() const { return endpoints_.empty() ? "" : endpoints_.front().host; }

  // Sends `signal` to the child; no-op once it has been reaped.
  void Signal(int signal);
  // Waits up to `timeout` for the child to exit; returns its waitpid status, or nullopt if it
  // is still running.
  std::optional<int> WaitExit(Millis timeout);
  // SIGTERM, wait up to `timeout`, then SIGKILL. Returns the waitpid status.
  int Stop(Millis timeout = Millis(5000));
  // Raw waitpid status once reaped.
  std::optional<int> exit_status() const {
    return reaped_ ? std::optional<int>(status_) : std::nullopt;
  }

  // Everything the child wrote to stdout / stderr so far.
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  void Reap(int status);

  pid_t pid_ = -1;
  bool reaped_ = false;
  std::vector<Endpoint> endpoints_;
  int status_ = 0;
  int stdout_fd_ = -1;  // read side of the (unlinked) temp files the child writes to
  int stderr_fd_ = -1;
};

// Describes a waitpid status: "exited with status 0", "killed by signal 9".
std::string DescribeWaitStatus(int status);

// ---------------------------------------------------------------------------------------------
// HTTP client.

struct HttpResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, values trimmed
  std::string body;                                          // decoded (chunked) body
  std::string head;  // status line and headers as received, including the final CRLFCRLF
  bool chunked = false;

  // First value of the header (case-insensitive name), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const { return Header(name).has_value(); }
  int HeaderCount(std::string_view name) const;
  // The Connection header lists the "close" option.
  bool ConnectionClose() const;
};

std::ostream& operator<<(std::ostream& os, const HttpResponse& response);

enum class ReadStatus {
  kOk,              // a complete response was read
  kTimeout,         // nothing (more) arrived in time
  kClosed,          // clean EOF before any byte of a new response
  kTruncated,       // EOF in the middle of a response
  kReset,           // the connection was reset (ECONNRESET) or another socket error
  kMalformed,       // the bytes are not a valid HTTP/1.1 response
  kUnexpectedData,  // WaitForClose(): bytes arrived instead of EOF
};

const char* ReadStatusName(ReadStatus status);
std::ostream& operator<<(std::ostream& os, ReadStatus status);

// Parses one response from the front of `data`. `head_request`: the response to a HEAD has no
// body. `eof`: no more bytes will come (completes a read-until-close body).
enum class ParseState { kIncomplete, kComplete, kError };
ParseState ParseResponse(std::string_view data, bool head_request, bool eof, HttpResponse* out,
                         size_t* consumed, std::string* error);

// One client TCP connection with blocking semantics (every wait is bounded by poll timeouts).
class HttpConnection {
 public:
  HttpConnection() = default;
  ~HttpConnection();
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&& other) noexcept;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Connects to a numeric loopback address. On failure is_open() is false, error() says why and
  // connect_errno() holds the errno (e.g. ECONNREFUSED).
  static HttpConnection Connect(uint16_t port, const std::string& host = "127.0.0.1",
                                Millis timeout = Millis(5000));

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& error() const { return error_; }
  int connect_errno() const { return connect_errno_; }

  // Sends all bytes (MSG_NOSIGNAL); false on error or if the peer stops reading for `timeout`.
  bool Send(std::string_view bytes, Millis timeout = Millis(5000));

  // Reads one complete response. A 1xx response is returned on its own; call again for the
  // final one.
  ReadStatus ReadResponse(HttpResponse* response, Millis timeout = kDefaultReadTimeout,
                          bool head_request = false);

  // Reads exactly `n` bytes (raw, unparsed).
  ReadStatus ReadExactly(size_t n, std::string* out, Millis timeout = kDefaultReadTimeout);

  // Waits for the peer to close. kClosed: clean EOF with no byte in between; kUnexpectedData:
  // bytes arrived (appended to *data when given); kReset; kTimeout.
  ReadStatus WaitForClose(Millis timeout = kDefaultReadTimeout, std::string* data = nullptr);

  // Waits until bytes are readable or EOF/error is pending, without consuming anything.
  bool WaitReadable(Millis timeout);

  void ShutdownWrite();
  void Close();

  // Bytes received but not consumed by a read yet.
  const std::string& pending() const { return in_; }

 private:
  enum class Fill { kData, kEof, kTimeout, kError };
  Fill FillOnce(Clock::time_point deadline);

  int fd_ = -1;
  int connect_errno_ = 0;
  std::string error_;
  std::string in_;
  bool eof_ = false;
};

// Sends `request` on a new connection and reads one response.
ReadStatus RoundTrip(uint16_t port, std::string_view request, HttpResponse* response,
                     const std::string& host = "127.0.0.1", bool head_request = false,
                     Millis timeout = kDefaultReadTimeout);

// "GET /healthz" on a NEW connection answers 200 with {"status":"ok"}.
::testing::AssertionResult HealthzOk(uint16_t port, const std::string& host = "127.0.0.1");

// The headers every response carries: Server: ringgate, a Date in IMF-fixdate form, exactly one
// Content-Length, equal to the body size unless `head_request`.
::testing::AssertionResult HasCommonHeaders(const HttpResponse& response,
                                            bool head_request = false);

// Content-Type application/json and a body {"error":{"message":...,"type":...,"code":...}} with
// a non-empty string message and type and a code.
::testing::AssertionResult IsJsonError(const HttpResponse& response);

// The body is valid JSON.
::testing::AssertionResult IsValidJson(std::string_view text);

// A complete error response with `status`, JSON error body, common headers and
// "Connection: close", after which the server closes the connection cleanly (EOF).
::testing::AssertionResult ReadErrorThenClose(HttpConnection& connection, int status,
                                              Millis timeout = kDefaultReadTimeout);

// ---------------------------------------------------------------------------------------------
// Many connections at once.

struct ConcurrentResult {
  int connect_errno = 0;  // non-zero when the connection could not be established
  ReadStatus read_status = ReadStatus::kTimeout;
  HttpResponse response;
};

// Opens `count` connections to host:port with non-blocking sockets, waits until every one is
// established (all open at the same time), then sends `request` on each and reads one response
// from each, all from this thread with poll(). Connections stay open until every response has
// arrived or `timeout` has passed.
std::vector<ConcurrentResult> RunConcurrentRequests(uint16_t port, size_t count,
                                                    std::string_view request, Millis timeout,
                                                    const std::string& host = "127.0.0.1");

// Milliseconds since `start`.
inline int64_t ElapsedMs(Clock::time_point start) {
  return std::chrono::duration_cast<Millis>(Clock::now() - start).count();
}

}  // namespace ringgate::testing
