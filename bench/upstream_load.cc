// upstream-load: drives one core's UpstreamPool against an upstream (the fake Gemini server) with
// N requests always in flight for a fixed time, and reports requests/s, connections opened and
// TLS handshakes, so pooling (one handshake per connection, not per request) is visible.
//
//   build/bench/upstream-load --url http://127.0.0.1:8090 --concurrency 32 --seconds 5
//   build/bench/upstream-load --url https://127.0.0.1:8443 --ca ca.pem --concurrency 32
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ringgate/common/clock.h"
#include "ringgate/config/config.h"
#include "ringgate/io/reactor.h"
#include "ringgate/net/resolver.h"
#include "ringgate/tls/tls_context.h"
#include "ringgate/upstream/upstream_pool.h"

namespace {

using namespace ringgate;

struct Options {
  std::string url = "http://127.0.0.1:8090";
  std::string ca;
  std::string path = "/v1beta/models/gemini-2.5-flash:generateContent";
  int concurrency = 32;
  double seconds = 5;
};

class Load;

class Worker : public UpstreamHandler {
 public:
  explicit Worker(Load* load) : load_(load) {}
  void Fire();
  void OnUpstreamHead(const HttpResponseHead& head) override { status_ = head.status; }
  bool OnUpstreamBody(std::string_view piece) override {
    bytes_ += piece.size();
    return true;
  }
  void OnUpstreamComplete() override;
  void OnUpstreamError(const UpstreamError& error) override;
  uint64_t bytes_ = 0;

 private:
  Load* load_;
  int status_ = 0;
};

class Load : public Reactor::Handler {
 public:
  Load(Reactor& reactor, UpstreamPool& pool, const Options& options)
      : reactor_(reactor), pool_(pool), options_(options) {}

  void Run() {
    for (int i = 0; i < options_.concurrency; ++i) workers_.push_back(std::make_unique<Worker>(this));
    start_ms_ = MonotonicMillis();
    end_ms_ = start_ms_ + static_cast<uint64_t>(options_.seconds * 1000);
    for (auto& w : workers_) w->Fire();
    reactor_.Run(*this);
  }
  void OnCompletion(const io_uring_cqe& cqe) override { pool_.OnCompletion(cqe); }
  void OnLoopEnd() override {
    pool_.OnLoopEnd();
    if (in_flight_ == 0 && stopping()) reactor_.Stop();
  }
  bool stopping() const { return MonotonicMillis() >= end_ms_; }
  UpstreamPool& pool() { return pool_; }
  const Options& options() const { return options_; }

  int in_flight_ = 0;
  uint64_t ok_ = 0;
  uint64_t errors_ = 0;
  uint64_t non_200_ = 0;
  std::string last_error_;
  uint64_t start_ms_ = 0;
  uint64_t end_ms_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;

 private:
  Reactor& reactor_;
  UpstreamPool& pool_;
  Options options_;
};

constexpr char kBody[] =
    R"({"contents":[{"role":"user","parts":[{"text":"Say something short."}]}]})";

void Worker::Fire() {
  if (load_->stopping()) return;
  UpstreamRequest request;
  request.path = load_->options().path;
  request.api_key = "bench-key";
  request.body = kBody;
  ++load_->in_flight_;
  load_->pool().Start(request, this);
}

void Worker::OnUpstreamComplete() {
  --load_->in_flight_;
  if (status_ == 200) {
    ++load_->ok_;
  } else {
    ++load_->non_200_;
  }
  Fire();
}

void Worker::OnUpstreamError(const UpstreamError& error) {
  --load_->in_flight_;
  ++load_->errors_;
  load_->last_error_ = error.message;
  Fire();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--url") options.url = value;
    else if (flag == "--ca") options.ca = value;
    else if (flag == "--path") options.path = value;
    else if (flag == "--concurrency") options.concurrency = std::atoi(value.c_str());
    else if (flag == "--seconds") options.seconds = std::atof(value.c_str());
    else {
      fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  Config config;
  config.gemini_base_url = options.url;
  Result<UpstreamSettings> settings = UpstreamSettingsFromConfig(config);
  if (!settings) {
    fprintf(stderr, "%s\n", settings.status().message().c_str());
    return 2;
  }
  std::unique_ptr<TlsContext> tls;
  if (settings->base.tls()) {
    TlsClientOptions tls_options;
    tls_options.ca_bundle_file = "";
    tls_options.extra_ca_file = options.ca;
    Result<std::unique_ptr<TlsContext>> ctx = TlsContext::NewClient(tls_options);
    if (!ctx) {
      fprintf(stderr, "%s\n", ctx.status().message().c_str());
      return 2;
    }
    tls = std::move(*ctx);
  }
  if (!Resolver::IsNumeric(settings->base.host)) {
    fprintf(stderr, "use a numeric loopback address in --url\n");
    return 2;
  }
  Resolver resolver;
  resolver.Watch(settings->base.host, settings->base.port);
  Result<std::unique_ptr<Reactor>> reactor = Reactor::Create(ReactorOptions{});
  if (!reactor) {
    fprintf(stderr, "%s\n", reactor.status().message().c_str());
    return 1;
  }
  UpstreamPool pool(**reactor, *settings, resolver, tls.get(), 16);
  Load load(**reactor, pool, options);
  load.Run();
  double elapsed = (MonotonicMillis() - load.start_ms_) / 1000.0;
  const UpstreamStats& stats = pool.stats();
  printf("url=%s concurrency=%d seconds=%.2f\n", options.url.c_str(), options.concurrency, elapsed);
  printf("requests_ok=%llu non_200=%llu errors=%llu requests_per_s=%.0f\n",
         static_cast<unsigned long long>(load.ok_), static_cast<unsigned long long>(load.non_200_),
         static_cast<unsigned long long>(load.errors_), load.ok_ / elapsed);
  printf("connections_opened=%llu tls_handshakes=%llu tls_resumed=%llu reused=%llu\n",
         static_cast<unsigned long long>(stats.connections_opened),
         static_cast<unsigned long long>(stats.tls_handshakes),
         static_cast<unsigned long long>(stats.tls_resumed),
         static_cast<unsigned long long>(stats.reused));
  if (!load.last_error_.empty()) printf("last_error=%s\n", load.last_error_.c_str());
  return load.errors_ == 0 && load.non_200_ == 0 ? 0 : 1;
}
