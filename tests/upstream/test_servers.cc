#include "test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ringgate/tls/tls_stream.h"

namespace ringgate::testing {
namespace {

int ListenLoopback(int backlog, uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(fd, backlog);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

bool WaitReadable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) > 0;
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Returns the request once the head and a Content-Length body are in `buffer`.
bool ExtractRequest(std::string& buffer, std::string* request) {
  size_t end = buffer.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  size_t length = 0;
  std::string head = buffer.substr(0, end);
  for (std::string key : {"Content-Length: ", "content-length: "}) {
    size_t at = head.find(key);
    if (at != std::string::npos) length = std::strtoul(head.c_str() + at + key.size(), nullptr, 10);
  }
  if (buffer.size() < end + 4 + length) return false;
  *request = buffer.substr(0, end + 4 + length);
  buffer.erase(0, end + 4 + length);
  return true;
}

class PlainConn : public ServerConn {
 public:
  PlainConn(int fd, ScriptedServer* server) : fd_(fd), server_(server) {}
  bool ReadRequest(std::string* request) override {
    for (;;) {
      if (ExtractRequest(buffer_, request)) {
        server_->RecordRequest(*request);
        return true;
      }
      if (!WaitReadable(fd_, 10000)) return false;
      char chunk[16384];
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }
  bool Write(const std::string& bytes) override { return WriteAll(fd_, bytes); }
  bool WaitForClose(int timeout_ms) override {
    for (;;) {
      if (!WaitReadable(fd_, timeout_ms)) return false;
      char chunk[4096];
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return true;
    }
  }
  int fd() const override { return fd_; }

 protected:
  int fd_;
  ScriptedServer* server_;
  std::string buffer_;
};

class TlsConn : public ServerConn {
 public:
  TlsConn(int fd, ScriptedServer* server, std::unique_ptr<TlsStream> tls)
      : fd_(fd), server_(server), tls_(std::move(tls)) {}

  bool Pump() {  // flush output, read more ciphertext; false on EOF/error
    Flush();
    if (!WaitReadable(fd_, 10000)) return false;
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    tls_->FeedCiphertext(std::string_view(chunk, static_cast<size_t>(n)));
    return true;
  }
  bool Flush() {
    std::string out;
    tls_->DrainCiphertextTo(out);
    return WriteAll(fd_, out);
  }
  bool Handshake() {
    for (;;) {
      TlsStream::HandshakeStatus status = tls_->Handshake();
      if (status == TlsStream::HandshakeStatus::kDone) return Flush();
      if (status == TlsStream::HandshakeStatus::kError) {
        Flush();
        return false;
      }
      if (!Pump()) return false;
    }
  }
  bool ReadRequest(std::string* request) override {
    for (;;) {
      if (ExtractRequest(buffer_, request)) {
        server_->RecordRequest(*request);
        return true;
      }
      TlsStream::ReadStatus status = tls_->ReadPlaintext(buffer_);
      if (status == TlsStream::ReadStatus::kData) continue;
      if (status != TlsStream::ReadStatus::kWantRead) return false;
      if (!Pump()) return false;
    }
  }
  bool Write(const std::string& bytes) override {
    return tls_->WritePlaintext(bytes) && Flush();
  }
  bool WaitForClose(int timeout_ms) override {
    for (;;) {
      if (!WaitReadable(fd_, timeout_ms)) return false;
      char chunk[4096];
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return true;
    }
  }
  int fd() const override { return fd_; }

 private:
  int fd_;
  ScriptedServer* server_;
  std::unique_ptr<TlsStream> tls_;
  std::string buffer_;
};

std::string Run(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  char line[512];
  while (fgets(line, sizeof(line), pipe) != nullptr) out += line;
  int status = pclose(pipe);
  if (status != 0) out = "FAILED(" + std::to_string(status) + "): " + out;
  return out;
}

}  // namespace

ScriptedServer::ScriptedServer(ConnectionScript script, TlsContext* tls, int backlog)
    : script_(std::move(script)), tls_(tls) {
  listen_fd_ = ListenLoopback(backlog, &port_);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

ScriptedServer::~ScriptedServer() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  accept_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& t : workers_) t.join();
  for (int fd : open_fds_) close(fd);
  close(listen_fd_);
}

void ScriptedServer::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    int index = connections_.fetch_add(1);
    std::lock_guard<std::mutex> lock(mutex_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd, index] {
      if (tls_ == nullptr) {
        PlainConn conn(fd, this);
        script_(conn, index);
      } else {
        Result<std::unique_ptr<TlsStream>> stream = TlsStream::Server(*tls_);
        if (!stream) return;
        TlsConn conn(fd, this, std::move(*stream));
        if (!conn.Handshake()) return;
        script_(conn, index);
      }
      shutdown(fd, SHUT_WR);
    });
  }
}

std::vector<std::string> ScriptedServer::requests() {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

void ScriptedServer::RecordRequest(const std::string& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.push_back(request);
}

ConnectProxy::ConnectProxy(std::string required_auth) : required_auth_(std::move(required_auth)) {
  listen_fd_ = ListenLoopback(64, &port_);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

ConnectProxy::~ConnectProxy() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  accept_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& t : workers_) t.join();
  for (int fd : open_fds_) close(fd);
  close(listen_fd_);
}

std::string ConnectProxy::last_connect_line() {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_connect_line_;
}

void ConnectProxy::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void ConnectProxy::Serve(int client) {
  std::string head;
  char chunk[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (!WaitReadable(client, 5000)) return;
    ssize_t n = recv(client, chunk, sizeof(chunk), 0);
    if (n <= 0) return;
    head.append(chunk, static_cast<size_t>(n));
  }
  std::string line = head.substr(0, head.find("\r\n"));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last_connect_line_ = line;
  }
  if (!required_auth_.empty() &&
      head.find("Proxy-Authorization: " + required_auth_ + "\r\n") == std::string::npos) {
    WriteAll(client, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  // "CONNECT 127.0.0.1:PORT HTTP/1.1"
  size_t colon = line.rfind(':');
  int port = std::atoi(line.c_str() + colon + 1);
  int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (line.rfind("CONNECT 127.0.0.1:", 0) != 0 ||
      connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    WriteAll(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    close(upstream);
    return;
  }
  ++tunnels_;
  WriteAll(client, "HTTP/1.1 200 Connection established\r\n\r\n");
  pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
  while (!stopping_) {
    if (poll(fds, 2, 200) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = recv(fds[i].fd, chunk, sizeof(chunk), 0);
      if (n <= 0 || !WriteAll(fds[1 - i].fd, std::string_view(chunk, static_cast<size_t>(n)))) {
        close(upstream);
        return;
      }
    }
  }
  close(upstream);
}

const TestPki& GetTestPki() {
  static TestPki pki = [] {
    TestPki p;
    char tmpl[] = "/tmp/ringgate-pki-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return p;
    p.dir = tmpl;
    std::string d = p.dir;
    auto leaf = [&](const std::string& name, const std::string& san, const std::string& ca) {
      std::string ext = d + "/" + name + ".ext";
      FILE* f = fopen(ext.c_str(), "w");
      fprintf(f, "subjectAltName=%s\n", san.c_str());
      fclose(f);
      return Run("openssl req -newkey rsa:2048 -nodes -keyout " + d + "/" + name +
                 ".key -subj /CN=" + name + " -out " + d + "/" + name + ".csr && openssl x509 -req -in " +
                 d + "/" + name + ".csr -CA " + d + "/" + ca + ".pem -CAkey " + d + "/" + ca +
                 ".key -CAcreateserial -days 2 -extfile " + ext + " -out " + d + "/" + name +
                 ".pem");
    };
    std::string log;
    for (std::string ca : {"ca", "rogue-ca"}) {
      log += Run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + d + "/" + ca +
                 ".key -subj /CN=ringgate-test-" + ca + " -days 2 -out " + d + "/" + ca + ".pem");
    }
    log += leaf("localhost", "DNS:localhost,IP:127.0.0.1", "ca");
    log += leaf("wrong", "DNS:wrong.example", "ca");
    log += leaf("rogue", "DNS:localhost,IP:127.0.0.1", "rogue-ca");
    p.ca_cert = d + "/ca.pem";
    p.localhost_cert = d + "/localhost.pem";
    p.localhost_key = d + "/localhost.key";
    p.wrong_host_cert = d + "/wrong.pem";
    p.wrong_host_key = d + "/wrong.key";
    p.rogue_cert = d + "/rogue.pem";
    p.rogue_key = d + "/rogue.key";
    p.ok = log.find("FAILED") == std::string::npos;
    if (!p.ok) fprintf(stderr, "openssl failed: %s\n", log.c_str());
    return p;
  }();
  return pki;
}

}  // namespace ringgate::testing
