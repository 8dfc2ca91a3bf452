// Small blocking servers for upstream-client tests, each on its own thread on 127.0.0.1:
//   ScriptedServer  accepts connections and runs a script per connection (raw bytes, optionally
//                   over TLS through TlsStream), counting connections;
//   ConnectProxy    an HTTP CONNECT proxy that checks Proxy-Authorization and splices bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ringgate {
class TlsContext;
}

namespace ringgate::testing {

// One accepted connection, from the script's point of view. Reads and writes go through TLS
// when the server was given a TLS context.
class ServerConn {
 public:
  virtual ~ServerConn() = default;
  // Reads one request head and its Content-Length body; false at EOF or error.
  virtual bool ReadRequest(std::string* request) = 0;
  virtual bool Write(const std::string& bytes) = 0;
  // Waits until the peer closes (true) or `timeout_ms` passes (false).
  virtual bool WaitForClose(int timeout_ms) = 0;
  virtual int fd() const = 0;
};

using ConnectionScript = std::function<void(ServerConn& conn, int connection_index)>;

class ScriptedServer {
 public:
  // `tls` null: plain TCP. The script runs on a thread per connection.
  explicit ScriptedServer(ConnectionScript script, TlsContext* tls = nullptr, int backlog = 64);
  ~ScriptedServer();
  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  // The requests read so far through ReadRequest, in order.
  std::vector<std::string> requests();
  void RecordRequest(const std::string& request);

 private:
  void AcceptLoop();
  ConnectionScript script_;
  TlsContext* tls_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  std::vector<std::string> requests_;
};

class ConnectProxy {
 public:
  // `required_auth`: the expected "Basic ..." token, or empty to accept any.
  explicit ConnectProxy(std::string required_auth = "");
  ~ConnectProxy();
  uint16_t port() const { return port_; }
  int tunnels() const { return tunnels_.load(); }
  std::string last_connect_line();

 private:
  void AcceptLoop();
  void Serve(int client);
  std::string required_auth_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> tunnels_{0};
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  std::string last_connect_line_;
};

// A throwaway CA and certificates made with the openssl command in a temporary directory.
struct TestPki {
  std::string dir;
  std::string ca_cert;          // trusted by the client in tests
  std::string localhost_cert;   // CN/SAN localhost + IP 127.0.0.1, signed by the CA
  std::string localhost_key;
  std::string wrong_host_cert;  // SAN wrong.example, signed by the CA
  std::string wrong_host_key;
  std::string rogue_cert;       // localhost, signed by an unknown CA
  std::string rogue_key;
  bool ok = false;
};
const TestPki& GetTestPki();

}  // namespace ringgate::testing
