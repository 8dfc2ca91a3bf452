// Shard: everything one core owns: its reactor (ring, buffers, timers), its listening sockets,
// its client connections, its router and its Date header cache. A request never leaves the
// shard that accepted it; shards talk only through cross-core messages (MSG_RING).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ringgate/config/config.h"
#include "ringgate/http/response.h"
#include "ringgate/http/router.h"
#include "ringgate/io/reactor.h"
#include "ringgate/observe/metrics.h"
#include "ringgate/server/core_message.h"
#include "ringgate/server/op.h"
#include "ringgate/server/storage_snapshotter.h"

namespace ringgate {

class AdminService;
class ChatService;
class ClientConnection;
class Resolver;
class Shard;
class Storage;
class StorageSnapshotter;
class TlsContext;
class UpstreamPool;
struct UpstreamSettings;

// What every shard shares, read-only, for talking to the upstream.
struct UpstreamShared {
  const UpstreamSettings* settings = nullptr;
  Resolver* resolver = nullptr;
  TlsContext* tls = nullptr;         // null when the upstream is plain HTTP
  TlsContext* server_tls = nullptr;  // set when clients are served over HTTPS
  // Every core's key pool starts from the same lists (GEMINI_API_KEYS[_N], INVALID_API_KEYS).
  const std::vector<std::string>* api_keys = nullptr;
  const std::vector<std::string>* invalid_keys = nullptr;
  // ENABLE_STORAGE: every core restores the loaded key state; core 0 saves snapshots.
  Storage* storage = nullptr;
};

// Adds the routes a shard serves; runs once per shard, on the shard's thread, after its reactor
// exists (so handlers may capture the shard for its timers).
using RouteInstaller = std::function<void(Router& router, Shard& shard)>;

class Shard final : public Reactor::Handler {
 public:
  Shard(int index, const Config& config, std::vector<int> listen_fds, RouteInstaller install_routes,
        UpstreamShared upstream = {});
  ~Shard() override;

  // Creates the ring; must run on the shard's own thread.
  Status Init();
  // Serves until drained or aborted.
  void Run();

  int index() const { return index_; }
  int ring_fd() const { return reactor_->ring_fd(); }
  const std::string& setup_description() const { return reactor_->setup_description(); }

  // ---- For connections ----
  io_uring_sqe* Sqe() { return reactor_->GetSqe(); }
  uint64_t now_ms() const { return reactor_->now_ms(); }
  uint64_t now_us() const { return reactor_->now_us(); }
  TimerWheel& timers() { return reactor_->timers(); }
  BufferRing& buffers() { return reactor_->buffers(); }
  const Config& config() const { return config_; }
  const Router& router() const { return router_; }
  std::string_view date() { return date_.Now(); }
  bool draining() const { return draining_; }
  size_t live_connections() const { return live_; }
  uint64_t accepted_connections() const { return accepted_; }
  // This core's upstream client; null when the shard was built without upstream settings.
  UpstreamPool* upstream() { return upstream_pool_.get(); }
  TlsContext* server_tls() const { return upstream_shared_.server_tls; }
  const UpstreamShared& upstream_shared() const { return upstream_shared_; }
  ChatService* chat() { return chat_.get(); }
  // The dashboard and admin API; null when there is no ChatService.
  AdminService* admin() { return admin_.get(); }
  // ---- Persistence (ENABLE_STORAGE) ----
  // Core 0's snapshotter (null on other cores and without storage): the admin part sets its
  // sources there.
  StorageSnapshotter* storage_snapshotter() { return snapshotter_.get(); }
  // Something a persistence file holds changed: core 0 saves it within a second or so. Any
  // core; a no-op without storage.
  void MarkStorageDirty(StorageFiles which = StorageFiles::kBoth);
  // ---- Cross-core messages ----
  int core_count() const {
    return peer_ring_fds_ == nullptr ? 1 : static_cast<int>(peer_ring_fds_->size());
  }
  // Hands `message` to core `core` (this core too: then it runs at the end of this iteration).
  void Post(int core, std::unique_ptr<CoreMessage> message);
  // Set by the Server before Run(): every core's ring descriptor, by core index.
  void set_peer_ring_fds(const std::vector<int>* fds) { peer_ring_fds_ = fds; }

  // ---- Metrics ----
  // Set by the Server before Init(): every core's block. Without it the shard keeps its own.
  void set_metrics_registry(MetricsRegistry* registry) { metrics_registry_ = registry; }
  const MetricsRegistry* metrics_registry() const { return metrics_registry_; }
  // This core's block; written only from this core's thread.
  CoreMetrics& metrics() { return *metrics_; }
  void StreamStarted() { ++active_streams_; }
  void StreamEnded() { --active_streams_; }

  // Sends the connection's queued output at the end of this loop iteration.
  void QueueFlush(ClientConnection* connection) { pending_flushes_.push_back(connection); }

  // The connection has submitted its close; its object is freed after this loop iteration.
  void Release(ClientConnection* connection);

 private:
  // Core 0 with storage and a dashboard: dashboard changes mark the persistence files dirty.
  void ConnectAdminToStorage();
  void OnCompletion(const io_uring_cqe& cqe) override;
  void OnLoopEnd() override;

  void ArmAccept(size_t listener);
  void OnAccept(size_t listener, const io_uring_cqe& cqe);
  void Reject(int fd);
  void OnMessage(uint32_t code);
  void BeginDrain();
  void AbortAll();
  ClientConnection* Lookup(uint64_t user_data);

  int index_;
  Config config_;
  std::vector<int> listen_fds_;
  std::vector<bool> accept_armed_;
  std::unique_ptr<Reactor> reactor_;
  UpstreamShared upstream_shared_;
  std::unique_ptr<UpstreamPool> upstream_pool_;      // after reactor_: destroyed before it
  std::unique_ptr<ChatService> chat_;                // ringgate's own routes; uses the pool
  std::unique_ptr<AdminService> admin_;              // the dashboard; uses chat_
  std::unique_ptr<StorageSnapshotter> snapshotter_;  // core 0 with storage; uses chat_
  Router router_;
  HttpDate date_;

  std::vector<std::unique_ptr<ClientConnection>> slots_;
  std::vector<uint32_t> generations_;
  std::vector<uint32_t> free_slots_;
  size_t live_ = 0;
  uint64_t accepted_ = 0;
  RouteInstaller install_routes_;
  std::vector<std::unique_ptr<ClientConnection>> released_;
  std::vector<ClientConnection*> pending_flushes_;

  // 503 answers to connections over the limit, kept until their send completes.
  std::unordered_map<uint32_t, std::string> reject_buffers_;
  uint32_t next_reject_id_ = 0;

  const std::vector<int>* peer_ring_fds_ = nullptr;
  std::vector<std::unique_ptr<CoreMessage>> local_messages_;

  MetricsRegistry* metrics_registry_ = nullptr;
  std::unique_ptr<CoreMetrics> own_metrics_;  // when no registry was set
  CoreMetrics* metrics_ = nullptr;
  int64_t active_streams_ = 0;

  Timer accept_retry_timer_;
  Timer drain_timer_;
  bool draining_ = false;
};

}  // namespace ringgate
