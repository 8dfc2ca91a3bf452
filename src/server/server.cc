#include "ringgate/server/server.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <future>

#include "ringgate/common/log.h"
#include "ringgate/keys/key_list.h"
#include "ringgate/server/op.h"
#include "ringgate/server/shard.h"

namespace ringgate {

std::vector<int> UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

Server::Server(Config config, RouteInstaller install_routes)
    : config_(std::move(config)), install_routes_(std::move(install_routes)) {}

Server::~Server() {
  if (!threads_.empty()) {
    RequestAbort();
    Join();
  }
  shards_.clear();  // before the upstream settings, resolver and TLS context they use
  if (resolver_) resolver_->Stop();
  CloseListeners(listeners_);
}

Status Server::Start() {
  std::vector<int> cpus = UsableCpus();
  int threads = config_.threads > 0 ? config_.threads : static_cast<int>(cpus.size());

  Result<std::vector<ListenerGroup>> groups = OpenListeners(config_.listen, threads);
  if (!groups) return groups.status();
  listeners_ = std::move(*groups);

  Status s = messenger_.Init();
  if (!s.ok()) return s;

  Result<UpstreamSettings> upstream = UpstreamSettingsFromConfig(config_);
  if (!upstream) return upstream.status();
  upstream_settings_ = std::make_unique<UpstreamSettings>(std::move(*upstream));
  if (upstream_settings_->base.tls()) {
    TlsClientOptions tls_options;
    tls_options.ca_bundle_file = upstream_settings_->ca_bundle;
    tls_options.extra_ca_file = upstream_settings_->ca_file;
    Result<std::unique_ptr<TlsContext>> tls = TlsContext::NewClient(tls_options);
    if (!tls) return Status::Error("upstream TLS: " + tls.status().message());
    upstream_tls_ = std::move(*tls);
  }
  if (!config_.tls_cert_file.empty()) {
    TlsServerOptions server_options;
    server_options.cert_chain_file = config_.tls_cert_file;
    server_options.key_file = config_.tls_key_file;
    Result<std::unique_ptr<TlsContext>> tls = TlsContext::NewServer(server_options);
    if (!tls) return Status::Error("TLS: " + tls.status().message());
    server_tls_ = std::move(*tls);
  }
  // Names resolve on the resolver's thread, never on a reactor; numeric hosts at once. With no
  // key there is nothing to call, and no reason to send a DNS query.
  resolver_ = std::make_unique<Resolver>();
  const Url& target = upstream_settings_->proxy ? *upstream_settings_->proxy
                                                : upstream_settings_->base;
  // HAJIMI's rule: keys are what matches AIzaSy[A-Za-z0-9_-]{33} in GEMINI_API_KEYS, then in
  // GEMINI_API_KEYS_1.._98 until the first missing one.
  api_keys_ = ExtractApiKeys([this](std::string_view name) -> std::optional<std::string> {
    if (name == "GEMINI_API_KEYS") return config_.gemini_api_keys;
    const char* value = getenv(std::string(name).c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  });
  invalid_keys_ = ParseKeyList(config_.invalid_api_keys);
  if (!config_.gemini_api_keys.empty() && api_keys_.empty()) {
    RG_LOG(kWarning, "GEMINI_API_KEYS holds no key of the form AIzaSy + 33 characters");
  }
  bool has_keys = !api_keys_.empty();
  if (has_keys || Resolver::IsNumeric(target.host)) resolver_->Watch(target.host, target.port);
  resolver_->Start();
  UpstreamShared shared;
  shared.settings = upstream_settings_.get();
  shared.resolver = resolver_.get();
  shared.tls = upstream_tls_.get();
  shared.server_tls = server_tls_.get();
  shared.api_keys = &api_keys_;
  shared.invalid_keys = &invalid_keys_;
  shared.storage = storage_;

  metrics_ = std::make_unique<MetricsRegistry>(threads);
  std::vector<std::promise<Status>> ready(threads);
  for (int i = 0; i < threads; ++i) {
    std::vector<int> fds;
    for (ListenerGroup& group : listeners_) {
      fds.push_back(group.fds[i]);
      group.fds[i] = -1;  // the shard owns it now
    }
    shards_.push_back(std::make_unique<Shard>(i, config_, std::move(fds), install_routes_, shared));
    shards_.back()->set_metrics_registry(metrics_.get());
  }
  running_ = threads;
  // Shards wait for every peer's ring before serving, so cross-core messages always have a target.
  std::promise<bool> go_promise;
  std::shared_future<bool> go = go_promise.get_future().share();
  for (int i = 0; i < threads; ++i) {
    int cpu = cpus[i % cpus.size()];
    threads_.emplace_back([this, i, cpu, &ready, go] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      std::string name = "ringgate-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      Shard& shard = *shards_[i];
      Status init = shard.Init();  // the ring must be created by the thread that submits to it
      bool ok = init.ok();
      ready[i].set_value(std::move(init));
      if (ok && go.get()) shard.Run();
      running_.fetch_sub(1);
    });
  }
  Status first_error;
  for (int i = 0; i < threads; ++i) {
    Status status = ready[i].get_future().get();
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  if (!first_error.ok()) {
    go_promise.set_value(false);
    Join();
    return first_error;
  }
  for (auto& shard : shards_) ring_fds_.push_back(shard->ring_fd());
  for (auto& shard : shards_) shard->set_peer_ring_fds(&ring_fds_);
  go_promise.set_value(true);
  RG_LOG(kInfo, "%d reactor threads, io_uring %s", threads,
         shards_[0]->setup_description().c_str());
  return Status::Ok();
}

void Server::PrintListening() const {
  for (const ListenerGroup& group : listeners_) {
    printf("listening on %s\n", ListenUrl(group.address, serves_tls()).c_str());
  }
  fflush(stdout);
}

void Server::Post(uint32_t code) {
  for (size_t i = 0; i < ring_fds_.size(); ++i) {
    if (ring_fds_[i] < 0) continue;
    Status s = messenger_.Post(ring_fds_[i], PackOp(OpKind::kMessage, 0, 0), code);
    if (!s.ok()) RG_LOG(kError, "cannot message core %zu: %s", i, s.message().c_str());
  }
}

void Server::RequestDrain() { Post(static_cast<uint32_t>(ShardMessage::kDrain)); }
void Server::RequestAbort() { Post(static_cast<uint32_t>(ShardMessage::kAbortAll)); }

void Server::Join() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace ringgate

namespace ringgate {

void RaiseDescriptorLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

sigset_t BlockLifecycleSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

int ServeUntilSignal(Server& server, const sigset_t& signals) {
  timespec tick = {0, 50 * 1000 * 1000};
  bool draining = false;
  while (!server.AllShardsStopped()) {
    siginfo_t info;
    int sig = sigtimedwait(&signals, &info, &tick);
    if (sig < 0) continue;
    if (!draining) {
      RG_LOG(kInfo, "received %s: draining connections", sig == SIGINT ? "SIGINT" : "SIGTERM");
      server.RequestDrain();
      draining = true;
    } else {
      RG_LOG(kWarning, "second signal: closing every connection now");
      server.RequestAbort();
    }
  }
  server.Join();
  RG_LOG(kInfo, "stopped");
  return 0;
}

}  // namespace ringgate
