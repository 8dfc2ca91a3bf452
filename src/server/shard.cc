#include "ringgate/server/shard.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ringgate/admin/admin_service.h"
#include "ringgate/common/clock.h"
#include "ringgate/common/log.h"
#include "ringgate/observe/metrics_route.h"
#include "ringgate/server/chat_service.h"
#include "ringgate/server/connection.h"
#include "ringgate/server/routes.h"
#include "ringgate/storage/storage.h"
#include "ringgate/upstream/upstream_pool.h"

namespace ringgate {
namespace {

constexpr uint64_t kAcceptRetryMs = 100;

}  // namespace

Shard::Shard(int index, const Config& config, std::vector<int> listen_fds,
             RouteInstaller install_routes, UpstreamShared upstream)
    : index_(index),
      config_(config),
      listen_fds_(std::move(listen_fds)),
      accept_armed_(listen_fds_.size(), false),
      upstream_shared_(upstream),
      install_routes_(std::move(install_routes)) {}

// Members declared after reactor_ (connections, timers) are destroyed before it, so nothing
// outlives the timer wheel or the ring it refers to.
Shard::~Shard() {
  for (int fd : listen_fds_) {
    if (fd >= 0)
      close(fd);
  }
}

Status Shard::Init() {
  SetLogThreadCore(index_);
  if (metrics_registry_ != nullptr && index_ < metrics_registry_->cores()) {
    metrics_ = &metrics_registry_->core(index_);
  } else {
    own_metrics_ = std::make_unique<CoreMetrics>();
    metrics_ = own_metrics_.get();
  }
  Result<std::unique_ptr<Reactor>> reactor = Reactor::Create(ReactorOptions{});
  if (!reactor)
    return reactor.status();
  reactor_ = std::move(*reactor);
  if (upstream_shared_.settings != nullptr) {
    upstream_pool_ = std::make_unique<UpstreamPool>(
        *reactor_, *upstream_shared_.settings, *upstream_shared_.resolver, upstream_shared_.tls,
        static_cast<uint8_t>(OpKind::kUpstream));
    upstream_pool_->set_metrics(metrics_);
  }
  accept_retry_timer_.set_callback(
      [](Timer*, void* self) {
        Shard* shard = static_cast<Shard*>(self);
        for (size_t i = 0; i < shard->listen_fds_.size(); ++i) {
          if (!shard->accept_armed_[i] && !shard->draining_)
            shard->ArmAccept(i);
        }
      },
      this);
  drain_timer_.set_callback([](Timer*, void* self) { static_cast<Shard*>(self)->AbortAll(); },
                            this);
  if (install_routes_) {
    install_routes_(router_, *this);
  } else {
    AddBuiltinRoutes(router_);
    InstallMetricsRoute(router_, *this);
    if (upstream_pool_) {
      chat_ = std::make_unique<ChatService>(*this, *upstream_pool_, config_);
      chat_->InstallRoutes(router_);
      admin_ = std::make_unique<AdminService>(*this, *chat_, config_);
      admin_->InstallRoutes(router_);
    }
  }
  if (chat_ && upstream_shared_.storage != nullptr) {
    // Same state, same order on every core (after the same AddKeys): key indices agree.
    const PersistedState& loaded = upstream_shared_.storage->loaded_state();
    int64_t now = WallMillis();
    RestoreKeyState(loaded, &chat_->keys(), now);
    if (!loaded.stats.empty() && !chat_->call_stats().Restore(loaded.stats, now) && index_ == 0)
      RG_LOG(kWarning, "storage: the saved call statistics could not be read; starting from zero");
    if (index_ == 0) {
      snapshotter_ = std::make_unique<StorageSnapshotter>(*this, *upstream_shared_.storage);
      if (admin_)
        ConnectAdminToStorage();
    }
  }
  return Status::Ok();
}

void Shard::ConnectAdminToStorage() {
  // What the dashboard changes and the pool's counters do not show gets saved within a second.
  admin_->set_change_hook([this](AdminChange change) {
    switch (change) {
      case AdminChange::kSettings:
        MarkStorageDirty(StorageFiles::kSettings);
        break;
      case AdminChange::kStatsReset:
        MarkStorageDirty(StorageFiles::kState);
        break;
      case AdminChange::kKeysAdded:
      case AdminChange::kKeysCleared:
      case AdminChange::kKeysValidated:
        MarkStorageDirty(StorageFiles::kBoth);
        break;
    }
  });
}

namespace {

class StorageDirtyMessage final : public CoreMessage {
 public:
  explicit StorageDirtyMessage(StorageFiles which) : which_(which) {}
  void Deliver(Shard& shard) override { shard.MarkStorageDirty(which_); }

 private:
  StorageFiles which_;
};

}  // namespace

void Shard::MarkStorageDirty(StorageFiles which) {
  if (upstream_shared_.storage == nullptr)
    return;
  if (index_ == 0) {
    if (snapshotter_)
      snapshotter_->MarkDirty(which);
    return;
  }
  Post(0, std::make_unique<StorageDirtyMessage>(which));
}

void Shard::Run() {
  for (size_t i = 0; i < listen_fds_.size(); ++i)
    ArmAccept(i);
  if (chat_)
    chat_->Start();
  if (admin_)
    admin_->Start();
  if (snapshotter_)
    snapshotter_->Start();
  reactor_->Run(*this);
  // The last snapshot, taken on this core's thread; Storage::Flush writes it after every shard
  // has stopped.
  if (snapshotter_)
    snapshotter_->SaveNow();
}

void Shard::ArmAccept(size_t listener) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_multishot_accept(sqe, listen_fds_[listener], nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, PackOp(OpKind::kAccept, static_cast<uint32_t>(listener), 0));
  accept_armed_[listener] = true;
}

void Shard::OnCompletion(const io_uring_cqe& cqe) {
  uint64_t user_data = cqe.user_data;
  switch (OpKindOf(user_data)) {
    case OpKind::kIgnore:
      break;
    case OpKind::kAccept:
      OnAccept(OpSlotOf(user_data), cqe);
      break;
    case OpKind::kRecv:
      if (ClientConnection* c = Lookup(user_data)) {
        c->OnRecv(cqe.res, cqe.flags);
      } else if (cqe.flags & IORING_CQE_F_BUFFER) {
        // A late completion for a connection already gone still carries a buffer.
        buffers().NoteTaken();
        buffers().Recycle(BufferRing::BufferId(cqe.flags));
      }
      break;
    case OpKind::kSend:
      if (ClientConnection* c = Lookup(user_data))
        c->OnSend(cqe.res);
      break;
    case OpKind::kMessage:
      OnMessage(static_cast<uint32_t>(cqe.res));
      break;
    case OpKind::kCoreMessage: {
      std::unique_ptr<CoreMessage> message(static_cast<CoreMessage*>(UnpackPointer(user_data)));
      message->Deliver(*this);
      break;
    }
    case OpKind::kCoreMessageSent:
      if (cqe.res < 0) {
        // Not delivered (the target's ring is gone or full): the message is still ours.
        RG_LOG(kWarning, "core %d: cross-core message lost: %s", index_, strerror(-cqe.res));
        delete static_cast<CoreMessage*>(UnpackPointer(user_data));
      }
      break;
    case OpKind::kReject:
      reject_buffers_.erase(OpSlotOf(user_data));
      break;
    default:
      if (upstream_pool_)
        upstream_pool_->OnCompletion(cqe);
      break;
  }
}

ClientConnection* Shard::Lookup(uint64_t user_data) {
  uint32_t slot = OpSlotOf(user_data);
  if (slot >= slots_.size() || !slots_[slot])
    return nullptr;
  ClientConnection* c = slots_[slot].get();
  return c->generation() == OpGenerationOf(user_data) ? c : nullptr;
}

void Shard::OnAccept(size_t listener, const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_MORE) == 0)
    accept_armed_[listener] = false;
  int fd = cqe.res;
  if (fd < 0) {
    if (fd != -ECANCELED) {
      RG_LOG(kWarning, "core %d: accept failed: %s", index_, strerror(-fd));
    }
    // Out of descriptors and the like: back off instead of spinning on the error.
    if (!accept_armed_[listener] && !draining_ && !accept_retry_timer_.scheduled()) {
      timers().Schedule(&accept_retry_timer_, now_ms() + kAcceptRetryMs);
    }
    return;
  }
  if (!accept_armed_[listener] && !draining_)
    ArmAccept(listener);
  if (draining_) {
    close(fd);
    return;
  }
  if (live_ >= config_.max_connections_per_core) {
    metrics_->connections_rejected.Add();
    metrics_->CountRequest(kRouteNone, 503);
    Reject(fd);
    return;
  }
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
    generations_.push_back(0);
  }
  uint32_t generation = ++generations_[slot];
  slots_[slot] = std::make_unique<ClientConnection>(this, slot, generation, fd);
  ++live_;
  ++accepted_;
  metrics_->connections_accepted.Add();
  slots_[slot]->Start();
}

void Shard::Reject(int fd) {
  std::string body = JsonErrorBody("the server is at its connection limit (" +
                                       std::to_string(config_.max_connections_per_core) +
                                       " per core); retry shortly",
                                   ErrorTypeForStatus(503), "too_many_connections");
  ResponseHead head;
  head.status = 503;
  head.content_type = "application/json";
  head.content_length = body.size();
  head.keep_alive = false;
  head.extra_headers = "Retry-After: 1\r\n";
  uint32_t id = next_reject_id_++ & 0xffffff;
  std::string& bytes = reject_buffers_[id];
  AppendResponseHead(bytes, head, date());
  bytes += body;
  // send -> shutdown -> close, hard-linked so the descriptor is closed even if the send fails.
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_send(sqe, fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, PackOp(OpKind::kReject, id, 0));
  sqe->flags |= IOSQE_IO_HARDLINK;
  sqe = Sqe();
  io_uring_prep_shutdown(sqe, fd, SHUT_WR);
  io_uring_sqe_set_data64(sqe, PackOp(OpKind::kIgnore, 0, 0));
  sqe->flags |= IOSQE_IO_HARDLINK;
  sqe = Sqe();
  io_uring_prep_close(sqe, fd);
  io_uring_sqe_set_data64(sqe, PackOp(OpKind::kIgnore, 0, 0));
}

void Shard::Release(ClientConnection* connection) {
  uint32_t slot = connection->slot();
  released_.push_back(std::move(slots_[slot]));
  free_slots_.push_back(slot);
  --live_;
}

void Shard::OnMessage(uint32_t code) {
  switch (static_cast<ShardMessage>(code)) {
    case ShardMessage::kDrain:
      BeginDrain();
      break;
    case ShardMessage::kAbortAll:
      BeginDrain();
      AbortAll();
      break;
    default:
      RG_LOG(kWarning, "core %d: unknown message %u", index_, code);
  }
}

void Shard::BeginDrain() {
  if (draining_)
    return;
  draining_ = true;
  timers().Cancel(&accept_retry_timer_);
  for (size_t i = 0; i < listen_fds_.size(); ++i) {
    if (accept_armed_[i]) {
      io_uring_sqe* sqe = Sqe();
      io_uring_prep_cancel64(sqe, PackOp(OpKind::kAccept, static_cast<uint32_t>(i), 0), 0);
      io_uring_sqe_set_data64(sqe, PackOp(OpKind::kIgnore, 0, 0));
    }
    // The pending accept holds its own reference to the socket, so closing the descriptor alone
    // would leave it listening until the ring is torn down: shut it down to stop listening now.
    shutdown(listen_fds_[i], SHUT_RDWR);
    close(listen_fds_[i]);
    listen_fds_[i] = -1;
  }
  for (auto& c : slots_) {
    if (c)
      c->Drain();
  }
  timers().Schedule(&drain_timer_, now_ms() + config_.drain_timeout_ms);
}

void Shard::AbortAll() {
  if (upstream_pool_)
    upstream_pool_->CloseAll();
  for (auto& c : slots_) {
    if (c)
      c->Abort();
  }
}

void Shard::Post(int core, std::unique_ptr<CoreMessage> message) {
  if (core == index_ || peer_ring_fds_ == nullptr) {
    local_messages_.push_back(std::move(message));
    return;
  }
  CoreMessage* raw = message.release();
  reactor_->PostToRing((*peer_ring_fds_)[core], PackPointer(OpKind::kCoreMessage, raw), 0,
                       PackPointer(OpKind::kCoreMessageSent, raw));
}

void Shard::OnLoopEnd() {
  while (!local_messages_.empty()) {
    std::vector<std::unique_ptr<CoreMessage>> batch;
    batch.swap(local_messages_);
    for (auto& message : batch)
      message->Deliver(*this);
  }
  // Before released_ is cleared: a connection that closed this iteration may still be queued.
  for (size_t i = 0; i < pending_flushes_.size(); ++i)
    pending_flushes_[i]->RunScheduledFlush();
  pending_flushes_.clear();
  released_.clear();
  if (upstream_pool_)
    upstream_pool_->OnLoopEnd();
  if (chat_)
    chat_->OnLoopEnd();
  // Gauges are published once per iteration: two stores, whatever happened in it.
  metrics_->open_connections.Set(static_cast<int64_t>(live_));
  metrics_->active_streams.Set(active_streams_);
  if (draining_ && live_ == 0)
    reactor_->Stop();
}

}  // namespace ringgate
