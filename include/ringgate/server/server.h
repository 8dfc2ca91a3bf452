// Server: binds the listeners, starts one pinned Shard thread per core, and relays the process's
// lifecycle (drain, abort) to the shards as cross-core messages.
#pragma once

#include <signal.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "ringgate/common/result.h"
#include "ringgate/config/config.h"
#include "ringgate/io/reactor.h"
#include "ringgate/net/listener.h"
#include "ringgate/net/resolver.h"
#include "ringgate/observe/metrics.h"
#include "ringgate/server/shard.h"
#include "ringgate/tls/tls_context.h"
#include "ringgate/upstream/upstream.h"

namespace ringgate {

class Server {
 public:
  // `install_routes` defaults to ringgate's own routes; tools (the fake upstream) pass theirs.
  explicit Server(Config config, RouteInstaller install_routes = nullptr);
  ~Server();

  // ENABLE_STORAGE: the loaded key state every core restores, where core 0 saves snapshots. Set
  // before Start; `storage` outlives the server's shards (Storage::Flush after Join).
  void set_storage(Storage* storage) { storage_ = storage; }

  // Binds every listener and starts the shards; returns once all of them are serving.
  Status Start();
  const std::vector<ListenerGroup>& listeners() const { return listeners_; }
  int thread_count() const { return static_cast<int>(shards_.size()); }
  bool serves_tls() const { return server_tls_ != nullptr; }
  // Prints one "listening on http(s)://HOST:PORT" line per listen address and flushes stdout.
  void PrintListening() const;

  // Stop accepting and finish in-flight requests (bounded by drain_timeout).
  void RequestDrain();
  // Close every connection now.
  void RequestAbort();
  bool AllShardsStopped() const { return running_.load() == 0; }
  void Join();

 private:
  void Post(uint32_t code);

  Config config_;
  RouteInstaller install_routes_;
  std::vector<ListenerGroup> listeners_;
  std::unique_ptr<MetricsRegistry> metrics_;  // before shards_: they write into it
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  std::vector<int> ring_fds_;  // by core index; shards read it once started
  std::atomic<int> running_{0};
  RingMessenger messenger_;
  // Shared by every shard, read-only once started.
  std::unique_ptr<UpstreamSettings> upstream_settings_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<TlsContext> upstream_tls_;
  std::unique_ptr<TlsContext> server_tls_;
  std::vector<std::string> api_keys_;
  std::vector<std::string> invalid_keys_;
  Storage* storage_ = nullptr;
};

// Blocks SIGTERM and SIGINT in the calling thread (call before any thread starts, so every
// thread inherits the mask) and ignores SIGPIPE. Returns the blocked set.
sigset_t BlockLifecycleSignals();

// Waits for SIGTERM/SIGINT: the first drains the server, a second aborts every connection.
// Returns the process exit status once every shard has stopped.
int ServeUntilSignal(Server& server, const sigset_t& signals);

// Every connection is a descriptor: raises the soft RLIMIT_NOFILE to the hard limit.
void RaiseDescriptorLimit();

// The CPUs this process may run on, in order.
std::vector<int> UsableCpus();

}  // namespace ringgate
