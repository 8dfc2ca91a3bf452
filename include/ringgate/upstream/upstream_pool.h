// UpstreamPool: one core's client for the upstream API. It opens connections on the core's
// reactor (connect, optional HTTP CONNECT proxy tunnel, TLS over our own buffers), keeps them
// alive between requests, and streams each response to its caller piece by piece.
//
// Reuse: a connection goes back to the idle list only when its response ended cleanly with
// keep-alive, nothing followed it, and no error or cancel happened. Idle connections keep a
// receive armed, so one the server closes is noticed and dropped, and are closed past
// max_idle_age or beyond max_idle_per_core. A request that fails on a reused connection before
// any response byte (the server closed it at the same moment) is retried once on a new one.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ringgate/io/reactor.h"
#include "ringgate/upstream/upstream.h"

namespace ringgate {

struct CoreMetrics;
class Resolver;
class TlsContext;
class TlsSessionCache;
class UpstreamConnection;

struct UpstreamStats {
  uint64_t connections_opened = 0;
  uint64_t tls_handshakes = 0;
  uint64_t tls_resumed = 0;
  uint64_t exchanges = 0;
  uint64_t reused = 0;
  uint64_t stale_retries = 0;
};

class UpstreamPool {
 public:
  // `op_kind_base` .. +2 are the user_data kinds this pool owns on `reactor`. `tls` may be null
  // when the upstream is plain HTTP. Everything passed in must outlive the pool.
  UpstreamPool(Reactor& reactor, const UpstreamSettings& settings, Resolver& resolver,
               TlsContext* tls, uint8_t op_kind_base);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Starts an exchange. Never calls `handler` before returning: even an immediate failure (no
  // address yet) is reported from the event loop.
  UpstreamExchange* Start(const UpstreamRequest& request, UpstreamHandler* handler);

  // For the shard's completion dispatch: true when the completion was this pool's.
  bool OnCompletion(const io_uring_cqe& cqe);
  // Frees connections closed during this loop iteration.
  void OnLoopEnd();
  // Closes every connection (shutdown); active exchanges get an error.
  void CloseAll();

  // Where latency, time to first byte, statuses and errors are counted (this core's block); none
  // when unset.
  void set_metrics(CoreMetrics* metrics) { metrics_ = metrics; }
  CoreMetrics* metrics() { return metrics_; }

  const UpstreamStats& stats() const { return stats_; }
  size_t idle_connections() const { return idle_.size(); }
  size_t open_connections() const { return live_; }

  // ---- For UpstreamConnection ----
  Reactor& reactor() { return reactor_; }
  const UpstreamSettings& settings() const { return settings_; }
  Resolver& resolver() { return resolver_; }
  TlsContext* tls() { return tls_; }
  TlsSessionCache* session_cache() { return session_cache_.get(); }
  UpstreamStats& mutable_stats() { return stats_; }
  uint64_t OpData(int op, uint32_t slot, uint32_t generation) const;
  // The connection finished an exchange and may be reused.
  void ReturnToIdle(UpstreamConnection* connection);
  void RemoveFromIdle(UpstreamConnection* connection);
  // The connection closed its descriptor; it is freed after this loop iteration.
  void Release(UpstreamConnection* connection);
  // A reused connection that died before answering reconnects in place: completions still due
  // for its old socket must be ignored, so its slot gets a new generation.
  uint32_t NewGeneration(uint32_t slot) { return ++generations_[slot]; }

 private:
  UpstreamConnection* NewConnection();

  Reactor& reactor_;
  UpstreamSettings settings_;
  Resolver& resolver_;
  TlsContext* tls_;
  std::unique_ptr<TlsSessionCache> session_cache_;
  uint8_t op_kind_base_;
  std::string host_header_;  // computed once
  std::vector<std::unique_ptr<UpstreamConnection>> slots_;
  std::vector<uint32_t> generations_;
  std::vector<uint32_t> free_slots_;
  std::vector<UpstreamConnection*> idle_;  // most recently used last
  std::vector<std::unique_ptr<UpstreamConnection>> released_;
  size_t live_ = 0;
  UpstreamStats stats_;
  CoreMetrics* metrics_ = nullptr;
};

}  // namespace ringgate
