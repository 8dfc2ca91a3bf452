#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <regex>
#include <thread>

extern char** environ;

namespace ringgate::testing {
namespace {

// ringgate's own environment variables; stripped from the child's environment by default.
constexpr const char* kConfigEnvNames[] = {
    "LISTEN",
    "THREADS",
    "MAX_HEADER_BYTES",
    "MAX_BODY_BYTES",
    "HEADER_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_CONNECTIONS_PER_CORE",
    "DRAIN_TIMEOUT",
    "LOG_LEVEL",
    "GEMINI_API_KEYS",
    "GEMINI_BASE_URL",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "UPSTREAM_CA_FILE",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "ENABLE_STORAGE",
    "STORAGE_DIR",
};

constexpr std::string_view kListeningPrefix = "listening on http://";
constexpr std::string_view kListeningTlsPrefix = "listening on https://";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  if (left <= 0)
    return 0;
  return static_cast<int>(std::min<int64_t>(left, 1 << 30));
}

// An unlinked temporary file: returns {write fd for the child, read fd for us}.
std::pair<int, int> MakeCaptureFile(const char* tag) {
  const char* tmpdir = getenv("TMPDIR");
  std::string path = std::string(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp") + "/ringgate-it-" +
                     tag + "-XXXXXX";
  std::vector<char> name(path.begin(), path.end());
  name.push_back('\0');
  int write_fd = mkostemp(name.data(), O_CLOEXEC | O_APPEND);
  if (write_fd < 0)
    return {-1, -1};
  int read_fd = open(name.data(), O_RDONLY | O_CLOEXEC);
  unlink(name.data());
  return {write_fd, read_fd};
}

std::string ReadWholeFile(int fd) {
  std::string out;
  if (fd < 0)
    return out;
  char buffer[8192];
  off_t offset = 0;
  for (;;) {
    ssize_t n = pread(fd, buffer, sizeof(buffer), offset);
    if (n <= 0)
      break;
    out.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
  return out;
}

std::vector<std::string> ChildEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool is_config = false;
    for (const char* config_name : kConfigEnvNames)
      is_config |= name == config_name;
    if (!is_config)
      env.emplace_back(entry);
  }
  for (const std::string& entry : extra)
    env.push_back(entry);
  return env;
}

std::vector<char*> CStringArray(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// fork/exec of the binary with stdin from /dev/null and stdout/stderr into the given fds.
// Everything the child needs is prepared before fork(); the child only makes async-signal-safe
// calls until exec.
pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
            int stdout_fd, int stderr_fd, std::string* error) {
  std::vector<std::string> argv_strings;
  argv_strings.push_back(RinggateBinary());
  for (const std::string& a : args)
    argv_strings.push_back(a);
  std::vector<std::string> env_strings = ChildEnvironment(extra_env);
  std::vector<char*> argv = CStringArray(argv_strings);
  std::vector<char*> envp = CStringArray(env_strings);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    *error = std::string("open /dev/null: ") + strerror(errno);
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    close(devnull);
    return -1;
  }
  if (pid == 0) {
    // Die with the test process so a crashed test leaves no server behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    if (dup2(devnull, STDIN_FILENO) < 0 || dup2(stdout_fd, STDOUT_FILENO) < 0 ||
        dup2(stderr_fd, STDERR_FILENO) < 0) {
      _exit(127);
    }
    // Close every other descriptor (the test's sockets must not leak into the server).
    if (close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 4096; ++fd)
        close(fd);
    }
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv[0], argv.data(), envp.data());
    static const char kMessage[] = "ringgate-it: execve failed\n";
    ssize_t ignored = write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    (void)ignored;
    _exit(127);
  }
  close(devnull);
  return pid;
}

// Waits for `pid` up to `timeout`; returns the status or nullopt.
std::optional<int> WaitPidFor(pid_t pid, Millis timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return status;
    if (r < 0 && errno != EINTR)
      return std::nullopt;
    if (Clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(Millis(2));
  }
}

// Parses "HOST:PORT" or "[V6]:PORT" after the "http://" of a listening line.
bool ParseEndpoint(std::string_view text, Endpoint* out) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5)
    return false;
  uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535)
    return false;
  out->host = std::string(host);
  out->port = static_cast<uint16_t>(value);
  return true;
}

// Listening endpoints announced in complete lines of `text`.
std::vector<Endpoint> ListeningEndpoints(const std::string& text, std::string* error) {
  std::vector<Endpoint> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      break;  // incomplete line
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    size_t at = line.find(kListeningPrefix);
    size_t prefix = kListeningPrefix.size();
    if (at == std::string_view::npos) {
      at = line.find(kListeningTlsPrefix);
      prefix = kListeningTlsPrefix.size();
    }
    if (at != std::string_view::npos) {
      Endpoint endpoint;
      if (ParseEndpoint(line.substr(at + prefix), &endpoint)) {
        out.push_back(endpoint);
      } else if (error != nullptr) {
        *error = "unparseable listening line: " + std::string(line);
      }
    }
    start = end + 1;
  }
  return out;
}

// Fills a sockaddr for a numeric loopback host.
bool MakeAddress(const std::string& host, uint16_t port, sockaddr_storage* storage,
                 socklen_t* length) {
  memset(storage, 0, sizeof(*storage));
  auto* v4 = reinterpret_cast<sockaddr_in*>(storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *length = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(storage);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool ParseDecimal(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 18)
    return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = value;
  return true;
}

bool IsTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return true;
  return strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// Decodes a chunked body starting at data[pos]. Returns kComplete with *end just past the
// trailer section.
ParseState DecodeChunked(std::string_view data, size_t pos, std::string* body, size_t* end,
                         std::string* error) {
  body->clear();
  for (;;) {
    size_t line_end = data.find("\r\n", pos);
    if (line_end == std::string_view::npos) {
      if (data.size() - pos > 1024) {
        *error = "chunk size line too long";
        return ParseState::kError;
      }
      return ParseState::kIncomplete;
    }
    std::string_view size_text = data.substr(pos, line_end - pos);
    size_text = Trim(size_text.substr(0, size_text.find(';')));
    if (size_text.empty() || size_text.size() > 15) {
      *error = "bad chunk size line";
      return ParseState::kError;
    }
    uint64_t size = 0;
    for (char c : size_text) {
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        *error = "bad chunk size '" + std::string(size_text) + "'";
        return ParseState::kError;
      }
      size = size * 16 + static_cast<uint64_t>(digit);
    }
    pos = line_end + 2;
    if (size == 0) {
      // Trailer fields until an empty line.
      for (;;) {
        size_t trailer_end = data.find("\r\n", pos);
        if (trailer_end == std::string_view::npos)
          return ParseState::kIncomplete;
        bool empty = trailer_end == pos;
        pos = trailer_end + 2;
        if (empty) {
          *end = pos;
          return ParseState::kComplete;
        }
      }
    }
    if (data.size() - pos < size + 2)
      return ParseState::kIncomplete;
    body->append(data.substr(pos, size));
    pos += size;
    if (data.substr(pos, 2) != "\r\n") {
      *error = "chunk data not followed by CRLF";
      return ParseState::kError;
    }
    pos += 2;
  }
}

}  // namespace

std::string RinggateBinary() {
  const char* path = getenv("RINGGATE_BINARY");
  return path != nullptr ? path : "";
}

uint64_t RaiseFdLimit(uint64_t wanted) {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return 0;
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min<rlim_t>(wanted, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

bool Ipv6LoopbackAvailable() {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in6 address = {};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

ProcessResult RunBinary(const std::vector<std::string>& args, const std::vector<std::string>& env,
                        Millis timeout) {
  ProcessResult result;
  auto [out_write, out_read] = MakeCaptureFile("out");
  auto [err_write, err_read] = MakeCaptureFile("err");
  std::string error;
  pid_t pid = -1;
  if (out_write >= 0 && err_write >= 0)
    pid = Spawn(args, env, out_write, err_write, &error);
  if (out_write >= 0)
    close(out_write);
  if (err_write >= 0)
    close(err_write);
  if (pid > 0) {
    std::optional<int> status = WaitPidFor(pid, timeout);
    if (!status) {
      result.timed_out = true;
      kill(pid, SIGKILL);  // our own child, not yet reaped
      int s = 0;
      waitpid(pid, &s, 0);
      status = s;
    }
    result.wait_status = *status;
    result.exited = !result.timed_out && WIFEXITED(*status);
    if (result.exited)
      result.exit_code = WEXITSTATUS(*status);
  } else {
    result.err = "could not start " + RinggateBinary() + ": " + error;
  }
  result.out = ReadWholeFile(out_read);
  result.err += ReadWholeFile(err_read);
  if (out_read >= 0)
    close(out_read);
  if (err_read >= 0)
    close(err_read);
  return result;
}

// ---------------------------------------------------------------------------------------------
// ServerProcess

ServerProcess::~ServerProcess() {
  if (running())
    Stop(Millis(3000));
  if (::testing::Test::HasFailure() && stderr_fd_ >= 0) {
    std::string err = Stderr();
    if (err.size() > 8000)
      err = "...\n" + err.substr(err.size() - 8000);
    std::cerr << "---- ringgate stdout ----\n"
              << Stdout() << "---- ringgate stderr (" << DescribeWaitStatus(status_) << ") ----\n"
              << err << "---- end ----\n";
  }
  if (stdout_fd_ >= 0)
    close(stdout_fd_);
  if (stderr_fd_ >= 0)
    close(stderr_fd_);
}

::testing::AssertionResult ServerProcess::Start(const ServerOptions& options) {
  if (pid_ > 0)
    return ::testing::AssertionFailure() << "Start() called twice";
  if (RinggateBinary().empty()) {
    return ::testing::AssertionFailure() << "RINGGATE_BINARY is not set";
  }
  std::vector<std::string> args;
  if (!options.listen.empty()) {
    args.push_back("--listen");
    args.push_back(options.listen);
  }
  args.insert(args.end(), options.args.begin(), options.args.end());
  int wanted = options.expected_listen_lines;
  if (wanted <= 0) {
    wanted = 1 + static_cast<int>(std::count(options.listen.begin(), options.listen.end(), ','));
  }

  auto [out_write, out_read] = MakeCaptureFile("out");
  auto [err_write, err_read] = MakeCaptureFile("err");
  stdout_fd_ = out_read;
  stderr_fd_ = err_read;
  if (out_write < 0 || err_write < 0) {
    if (out_write >= 0)
      close(out_write);
    if (err_write >= 0)
      close(err_write);
    return ::testing::AssertionFailure() << "cannot create capture files: " << strerror(errno);
  }
  std::string error;
  pid_ = Spawn(args, options.env, out_write, err_write, &error);
  close(out_write);
  close(err_write);
  if (pid_ < 0)
    return ::testing::AssertionFailure() << error;

  std::string command = RinggateBinary();
  for (const std::string& a : args)
    command += " " + a;
  Clock::time_point deadline = Clock::now() + options.startup_timeout;
  for (;;) {
    std::string parse_error;
    std::vector<Endpoint> endpoints = ListeningEndpoints(Stdout(), &parse_error);
    if (!parse_error.empty()) {
      return ::testing::AssertionFailure() << command << ": " << parse_error;
    }
    if (static_cast<int>(endpoints.size()) >= wanted) {
      endpoints_ = std::move(endpoints);
      return ::testing::AssertionSuccess();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      Reap(status);
      return ::testing::AssertionFailure()
             << command << " " << DescribeWaitStatus(status) << " before listening; stdout:\n"
             << Stdout() << "stderr:\n"
             << Stderr();
    }
    if (Clock::now() >= deadline) {
      return ::testing::AssertionFailure()
             << command << ": no " << wanted << " 'listening on' line(s) within "
             << options.startup_timeout.count() << " ms; stdout:\n"
             << Stdout() << "stderr:\n"
             << Stderr();
    }
    std::this_thread::sleep_for(Millis(2));
  }
}

void ServerProcess::Reap(int status) {
  reaped_ = true;
  status_ = status;
}

void ServerProcess::Signal(int signal) {
  if (running())
    kill(pid_, signal);
}

std::optional<int> ServerProcess::WaitExit(Millis timeout) {
  if (pid_ <= 0)
    return std::nullopt;
  if (reaped_)
    return status_;
  std::optional<int> status = WaitPidFor(pid_, timeout);
  if (status)
    Reap(*status);
  return status;
}

int ServerProcess::Stop(Millis timeout) {
  if (pid_ <= 0)
    return 0;
  if (reaped_)
    return status_;
  kill(pid_, SIGTERM);
  if (std::optional<int> status = WaitExit(timeout))
    return *status;
  kill(pid_, SIGKILL);  // still our unreaped child, so the PID cannot have been reused
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  Reap(status);
  return status;
}

std::string ServerProcess::Stdout() const {
  return ReadWholeFile(stdout_fd_);
}
std::string ServerProcess::Stderr() const {
  return ReadWholeFile(stderr_fd_);
}

// ---------------------------------------------------------------------------------------------
// Responses

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name))
      return value;
  }
  return std::nullopt;
}

int HttpResponse::HeaderCount(std::string_view name) const {
  int count = 0;
  for (const auto& header : headers)
    count += EqualsIgnoreCase(header.first, name) ? 1 : 0;
  return count;
}

bool HttpResponse::ConnectionClose() const {
  for (const auto& [key, value] : headers) {
    if (!EqualsIgnoreCase(key, "connection"))
      continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      if (EqualsIgnoreCase(Trim(rest.substr(0, comma)), "close"))
        return true;
      if (comma == std::string_view::npos)
        break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::ostream& operator<<(std::ostream& os, const HttpResponse& response) {
  os << response.head;
  if (response.body.size() > 512) {
    os << response.body.substr(0, 512) << "...(" << response.body.size() << " bytes)";
  } else {
    os << response.body;
  }
  return os;
}

const char* ReadStatusName(ReadStatus status) {
  switch (status) {
    case ReadStatus::kOk:
      return "kOk";
    case ReadStatus::kTimeout:
      return "kTimeout";
    case ReadStatus::kClosed:
      return "kClosed";
    case ReadStatus::kTruncated:
      return "kTruncated";
    case ReadStatus::kReset:
      return "kReset";
    case ReadStatus::kMalformed:
      return "kMalformed";
    case ReadStatus::kUnexpectedData:
      return "kUnexpectedData";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, ReadStatus status) {
  return os << ReadStatusName(status);
}

ParseState ParseResponse(std::string_view data, bool head_request, bool eof, HttpResponse* out,
                         size_t* consumed, std::string* error) {
  size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (data.size() > (1 << 20)) {
      *error = "response head larger than 1 MiB";
      return ParseState::kError;
    }
    if (!data.empty() && data.size() >= 5 && data.substr(0, 5) != "HTTP/") {
      *error = "response does not start with HTTP/";
      return ParseState::kError;
    }
    return ParseState::kIncomplete;
  }
  HttpResponse response;
  response.head = std::string(data.substr(0, head_end + 4));
  std::string_view head = data.substr(0, head_end + 2);  // every line ends in CRLF

  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  // HTTP/1.x SP 3DIGIT SP reason
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ' ||
      status_line[12] != ' ' || !isdigit(static_cast<unsigned char>(status_line[9])) ||
      !isdigit(static_cast<unsigned char>(status_line[10])) ||
      !isdigit(static_cast<unsigned char>(status_line[11]))) {
    *error = "bad status line '" + std::string(status_line) + "'";
    return ParseState::kError;
  }
  response.version = std::string(status_line.substr(0, 8));
  response.status =
      (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  response.reason = std::string(status_line.substr(13));

  size_t pos = line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      *error = "bad header line '" + std::string(line) + "'";
      return ParseState::kError;
    }
    std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), IsTokenChar)) {
      *error = "bad header name '" + std::string(name) + "'";
      return ParseState::kError;
    }
    std::string_view value = Trim(line.substr(colon + 1));
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        *error = "control character in header '" + std::string(name) + "'";
        return ParseState::kError;
      }
    }
    response.headers.emplace_back(std::string(name), std::string(value));
  }

  size_t body_start = head_end + 4;
  bool no_body = head_request || (response.status >= 100 && response.status < 200) ||
                 response.status == 204 || response.status == 304;
  std::optional<std::string> transfer_encoding = response.Header("transfer-encoding");
  std::optional<std::string> content_length = response.Header("content-length");
  if (no_body) {
    *consumed = body_start;
  } else if (transfer_encoding) {
    if (!EqualsIgnoreCase(Trim(*transfer_encoding), "chunked")) {
      *error = "unsupported Transfer-Encoding '" + *transfer_encoding + "'";
      return ParseState::kError;
    }
    if (content_length) {
      *error = "both Transfer-Encoding and Content-Length";
      return ParseState::kError;
    }
    response.chunked = true;
    size_t end = 0;
    ParseState state = DecodeChunked(data, body_start, &response.body, &end, error);
    if (state != ParseState::kComplete)
      return state;
    *consumed = end;
  } else if (content_length) {
    uint64_t length = 0;
    if (response.HeaderCount("content-length") != 1 || !ParseDecimal(*content_length, &length)) {
      *error = "bad Content-Length";
      return ParseState::kError;
    }
    if (data.size() - body_start < length)
      return ParseState::kIncomplete;
    response.body = std::string(data.substr(body_start, length));
    *consumed = body_start + length;
  } else {
    if (!eof)
      return ParseState::kIncomplete;
    response.body = std::string(data.substr(body_start));
    *consumed = data.size();
  }
  *out = std::move(response);
  return ParseState::kComplete;
}

// ---------------------------------------------------------------------------------------------
// HttpConnection

HttpConnection::~HttpConnection() {
  Close();
}

HttpConnection::HttpConnection(HttpConnection&& other) noexcept {
  *this = std::move(other);
}

HttpConnection& HttpConnection::operator=(HttpConnection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    connect_errno_ = other.connect_errno_;
    error_ = std::move(other.error_);
    in_ = std::move(other.in_);
    eof_ = other.eof_;
  }
  return *this;
}

HttpConnection HttpConnection::Connect(uint16_t port, const std::string& host, Millis timeout) {
  HttpConnection connection;
  sockaddr_storage address;
  socklen_t length;
  if (!MakeAddress(host, port, &address, &length)) {
    connection.error_ = "not a numeric address: " + host;
    connection.connect_errno_ = EINVAL;
    return connection;
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    connection.connect_errno_ = errno;
    connection.error_ = std::string("socket: ") + strerror(errno);
    return connection;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&address), length);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p = {fd, POLLOUT, 0};
    int ready = poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready == 1) {
      int so_error = 0;
      socklen_t so_length = sizeof(so_error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_length);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    } else {
      rc = -1;
      errno = ETIMEDOUT;
    }
  }
  if (rc != 0) {
    connection.connect_errno_ = errno;
    connection.error_ = "connect to " + host + ":" + std::to_string(port) + ": " + strerror(errno);
    close(fd);
    return connection;
  }
  connection.fd_ = fd;
  return connection;
}

bool HttpConnection::Send(std::string_view bytes, Millis timeout) {
  if (fd_ < 0)
    return false;
  Clock::time_point deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p = {fd_, POLLOUT, 0};
      int left = RemainingMs(deadline);
      if (left == 0 || poll(&p, 1, left) <= 0) {
        error_ = "send timed out";
        return false;
      }
      continue;
    }
    error_ = std::string("send: ") + strerror(errno);
    return false;
  }
  return true;
}

HttpConnection::Fill HttpConnection::FillOnce(Clock::time_point deadline) {
  if (eof_)
    return Fill::kEof;
  for (;;) {
    char buffer[65536];
    ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n > 0) {
      in_.append(buffer, static_cast<size_t>(n));
      return Fill::kData;
    }
    if (n == 0) {
      eof_ = true;
      return Fill::kEof;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      error_ = std::string("recv: ") + strerror(errno);
      return Fill::kError;
    }
    pollfd p = {fd_, POLLIN, 0};
    int left = RemainingMs(deadline);
    if (left == 0)
      return Fill::kTimeout;
    int ready = poll(&p, 1, left);
    if (ready == 0)
      return Fill::kTimeout;
    if (ready < 0 && errno != EINTR) {
      error_ = std::string("poll: ") + strerror(errno);
      return Fill::kError;
    }
  }
}

ReadStatus HttpConnection::ReadResponse(HttpResponse* response, Millis timeout, bool head_request) {
  if (fd_ < 0)
    return ReadStatus::kReset;
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    size_t consumed = 0;
    std::string parse_error;
    ParseState state = ParseResponse(in_, head_request, eof_, response, &consumed, &parse_error);
    if (state == ParseState::kComplete) {
      in_.erase(0, consumed);
      return ReadStatus::kOk;
    }
    if (state == ParseState::kError) {
      error_ = parse_error;
      return ReadStatus::kMalformed;
    }
    if (eof_)
      return in_.empty() ? ReadStatus::kClosed : ReadStatus::kTruncated;
    switch (FillOnce(deadline)) {
      case Fill::kData:
      case Fill::kEof:
        continue;
      case Fill::kTimeout:
        error_ = "timed out with " + std::to_string(in_.size()) + " bytes of a response";
        return ReadStatus::kTimeout;
      case Fill::kError:
        return ReadStatus::kReset;
    }
  }
}

ReadStatus HttpConnection::ReadExactly(size_t n, std::string* out, Millis timeout) {
  if (fd_ < 0)
    return ReadStatus::kReset;
  Clock::time_point deadline = Clock::now() + timeout;
  while (in_.size() < n) {
    switch (FillOnce(deadline)) {
      case Fill::kData:
        continue;
      case Fill::kEof:
        return in_.empty() ? ReadStatus::kClosed : ReadStatus::kTruncated;
      case Fill::kTimeout:
        return ReadStatus::kTimeout;
      case Fill::kError:
        return ReadStatus::kReset;
    }
  }
  *out = in_.substr(0, n);
  in_.erase(0, n);
  return ReadStatus::kOk;
}

ReadStatus HttpConnection::WaitForClose(Millis timeout, std::string* data) {
  if (fd_ < 0)
    return ReadStatus::kReset;
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    if (!in_.empty()) {
      if (data != nullptr)
        data->append(in_);
      in_.clear();
      return ReadStatus::kUnexpectedData;
    }
    switch (FillOnce(deadline)) {
      case Fill::kData:
        continue;
      case Fill::kEof:
        return ReadStatus::kClosed;
      case Fill::kTimeout:
        return ReadStatus::kTimeout;
      case Fill::kError:
        return ReadStatus::kReset;
    }
  }
}

bool HttpConnection::WaitReadable(Millis timeout) {
  if (fd_ < 0)
    return false;
  if (!in_.empty() || eof_)
    return true;
  pollfd p = {fd_, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

void HttpConnection::ShutdownWrite() {
  if (fd_ >= 0)
    shutdown(fd_, SHUT_WR);
}

void HttpConnection::Close() {
  if (fd_ >= 0)
    close(fd_);
  fd_ = -1;
}

ReadStatus RoundTrip(uint16_t port, std::string_view request, HttpResponse* response,
                     const std::string& host, bool head_request, Millis timeout) {
  HttpConnection connection = HttpConnection::Connect(port, host);
  if (!connection.is_open())
    return ReadStatus::kReset;
  if (!connection.Send(request))
    return ReadStatus::kReset;
  return connection.ReadResponse(response, timeout, head_request);
}

::testing::AssertionResult HealthzOk(uint16_t port, const std::string& host) {
  HttpConnection connection = HttpConnection::Connect(port, host);
  if (!connection.is_open()) {
    return ::testing::AssertionFailure() << "healthz: " << connection.error();
  }
  if (!connection.Send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")) {
    return ::testing::AssertionFailure() << "healthz: " << connection.error();
  }
  HttpResponse response;
  ReadStatus status = connection.ReadResponse(&response);
  if (status != ReadStatus::kOk) {
    return ::testing::AssertionFailure()
           << "healthz on a new connection: read " << status << " " << connection.error();
  }
  if (response.status != 200 || response.body != "{\"status\":\"ok\"}") {
    return ::testing::AssertionFailure() << "healthz on a new connection answered:\n" << response;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult HasCommonHeaders(const HttpResponse& response, bool head_request) {
  std::optional<std::string> server = response.Header("server");
  if (!server || *server != "ringgate") {
    return ::testing::AssertionFailure() << "missing 'Server: ringgate':\n" << response;
  }
  static const std::regex kImfFixdate(
      R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) )"
      R"(\d{4} \d\d:\d\d:\d\d GMT)");
  std::optional<std::string> date = response.Header("date");
  if (!date || !std::regex_match(*date, kImfFixdate)) {
    return ::testing::AssertionFailure() << "missing or malformed Date header:\n" << response;
  }
  if (response.HeaderCount("content-length") != 1) {
    return ::testing::AssertionFailure() << "expected exactly one Content-Length:\n" << response;
  }
  if (!head_request && *response.Header("content-length") != std::to_string(response.body.size())) {
    return ::testing::AssertionFailure() << "Content-Length does not match the body:\n" << response;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsValidJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  simdjson::error_code error = parser.parse(text.data(), text.size()).get(element);
  if (error) {
    return ::testing::AssertionFailure()
           << "not valid JSON (" << simdjson::error_message(error) << "): " << text;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsJsonError(const HttpResponse& response) {
  std::optional<std::string> content_type = response.Header("content-type");
  if (!content_type || content_type->rfind("application/json", 0) != 0) {
    return ::testing::AssertionFailure() << "Content-Type is not application/json:\n" << response;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(response.body.data(), response.body.size()).get(root)) {
    return ::testing::AssertionFailure() << "error body is not valid JSON:\n" << response;
  }
  simdjson::dom::object error_object;
  if (root["error"].get(error_object)) {
    return ::testing::AssertionFailure() << "error body has no \"error\" object:\n" << response;
  }
  std::string_view message, type;
  if (error_object["message"].get(message) || message.empty()) {
    return ::testing::AssertionFailure() << "error.message is not a non-empty string:\n"
                                         << response;
  }
  if (error_object["type"].get(type) || type.empty()) {
    return ::testing::AssertionFailure() << "error.type is not a non-empty string:\n" << response;
  }
  simdjson::dom::element code;
  if (error_object["code"].get(code) ||
      !(code.is_string() || code.is_int64() || code.is_uint64())) {
    return ::testing::AssertionFailure() << "error.code is missing:\n" << response;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ReadErrorThenClose(HttpConnection& connection, int status,
                                              Millis timeout) {
  HttpResponse response;
  ReadStatus read = connection.ReadResponse(&response, timeout);
  if (read != ReadStatus::kOk) {
    return ::testing::AssertionFailure() << "expected a " << status << " response, read " << read
                                         << " (" << connection.error() << ")";
  }
  if (response.status != status) {
    return ::testing::AssertionFailure() << "expected status " << status << ", got:\n" << response;
  }
  if (::testing::AssertionResult r = HasCommonHeaders(response); !r)
    return r;
  if (::testing::AssertionResult r = IsJsonError(response); !r)
    return r;
  if (!response.ConnectionClose()) {
    return ::testing::AssertionFailure() << "expected 'Connection: close':\n" << response;
  }
  std::string extra;
  ReadStatus close_status = connection.WaitForClose(Millis(3000), &extra);
  if (close_status != ReadStatus::kClosed) {
    return ::testing::AssertionFailure()
           << "after the " << status << " response expected a clean EOF, got " << close_status
           << (extra.empty() ? "" : " with bytes: " + extra);
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------------
// RunConcurrentRequests

std::vector<ConcurrentResult> RunConcurrentRequests(uint16_t port, size_t count,
                                                    std::string_view request, Millis timeout,
                                                    const std::string& host) {
  struct Client {
    int fd = -1;
    enum Phase { kConnecting, kConnected, kSending, kReading, kDone } phase = kConnecting;
    size_t sent = 0;
    std::string in;
  };
  std::vector<ConcurrentResult> results(count);
  std::vector<Client> clients(count);
  Clock::time_point deadline = Clock::now() + timeout;
  sockaddr_storage address;
  socklen_t length;
  if (!MakeAddress(host, port, &address, &length)) {
    for (ConcurrentResult& r : results)
      r.connect_errno = EINVAL;
    return results;
  }

  auto finish = [&](size_t i, ReadStatus status) {
    results[i].read_status = status;
    clients[i].phase = Client::kDone;
    if (clients[i].fd >= 0)
      close(clients[i].fd);
    clients[i].fd = -1;
  };

  // Phase 1: start every connect.
  for (size_t i = 0; i < count; ++i) {
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      results[i].connect_errno = errno;
      finish(i, ReadStatus::kReset);
      continue;
    }
    clients[i].fd = fd;
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0) {
      clients[i].phase = Client::kConnected;
    } else if (errno != EINPROGRESS) {
      results[i].connect_errno = errno;
      finish(i, ReadStatus::kReset);
    }
  }

  std::vector<pollfd> fds;
  std::vector<size_t> owners;
  auto poll_phase = [&](Client::Phase phase, short events) -> bool {
    fds.clear();
    owners.clear();
    for (size_t i = 0; i < count; ++i) {
      if (clients[i].phase == phase) {
        fds.push_back({clients[i].fd, events, 0});
        owners.push_back(i);
      }
    }
    if (fds.empty())
      return false;
    int left = RemainingMs(deadline);
    if (left == 0)
      return false;
    poll(fds.data(), fds.size(), std::min(left, 100));
    return true;
  };

  // Phase 2: wait until every connection is established.
  while (poll_phase(Client::kConnecting, POLLOUT)) {
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0)
        continue;
      size_t i = owners[k];
      int so_error = 0;
      socklen_t so_length = sizeof(so_error);
      getsockopt(clients[i].fd, SOL_SOCKET, SO_ERROR, &so_error, &so_length);
      if (so_error != 0) {
        results[i].connect_errno = so_error;
        finish(i, ReadStatus::kReset);
      } else {
        clients[i].phase = Client::kConnected;
      }
    }
  }
  for (size_t i = 0; i < count; ++i) {
    if (clients[i].phase == Client::kConnecting) {
      results[i].connect_errno = ETIMEDOUT;
      finish(i, ReadStatus::kTimeout);
    } else if (clients[i].phase == Client::kConnected) {
      clients[i].phase = Client::kSending;
    }
  }

  // Phase 3: send the request on every connection, then read one response from each.
  auto try_send = [&](size_t i) {
    Client& c = clients[i];
    while (c.sent < request.size()) {
      ssize_t n = send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else {
        finish(i, ReadStatus::kReset);
        return;
      }
    }
    c.phase = Client::kReading;
  };
  auto try_read = [&](size_t i) {
    Client& c = clients[i];
    char buffer[16384];
    for (;;) {
      ssize_t n = recv(c.fd, buffer, sizeof(buffer), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n < 0) {
        finish(i, ReadStatus::kReset);
        return;
      }
      if (n > 0)
        c.in.append(buffer, static_cast<size_t>(n));
      bool eof = n == 0;
      size_t consumed = 0;
      std::string error;
      ParseState state =
          ParseResponse(c.in, /*head_request=*/false, eof, &results[i].response, &consumed, &error);
      if (state == ParseState::kComplete) {
        finish(i, ReadStatus::kOk);
        return;
      }
      if (state == ParseState::kError) {
        finish(i, ReadStatus::kMalformed);
        return;
      }
      if (eof) {
        finish(i, c.in.empty() ? ReadStatus::kClosed : ReadStatus::kTruncated);
        return;
      }
    }
  };
  for (size_t i = 0; i < count; ++i) {
    if (clients[i].phase == Client::kSending)
      try_send(i);
  }
  for (;;) {
    fds.clear();
    owners.clear();
    for (size_t i = 0; i < count; ++i) {
      if (clients[i].phase == Client::kSending) {
        fds.push_back({clients[i].fd, POLLOUT, 0});
        owners.push_back(i);
      } else if (clients[i].phase == Client::kReading) {
        fds.push_back({clients[i].fd, POLLIN, 0});
        owners.push_back(i);
      }
    }
    if (fds.empty())
      break;
    int left = RemainingMs(deadline);
    if (left == 0)
      break;
    poll(fds.data(), fds.size(), std::min(left, 100));
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0)
        continue;
      size_t i = owners[k];
      if (clients[i].phase == Client::kSending) {
        try_send(i);
      } else if (clients[i].phase == Client::kReading) {
        try_read(i);
      }
    }
  }
  for (size_t i = 0; i < count; ++i) {
    if (clients[i].phase != Client::kDone)
      finish(i, ReadStatus::kTimeout);
  }
  return results;
}

}  // namespace ringgate::testing
