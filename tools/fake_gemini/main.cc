// fake-gemini: a fake of Google's Gemini API for ringgate's tests and benchmarks, served by
// ringgate's own reactor and HTTP server. See docs/fake-gemini.md.
#include <cstdio>
#include <memory>

#include "fake_state.h"
#include "handlers.h"
#include "models.h"
#include "ringgate/common/log.h"
#include "ringgate/config/config.h"
#include "ringgate/server/server.h"

int main(int argc, char** argv) {
  bool help = false;
  ringgate::Result<fake_gemini::Options> options = fake_gemini::ParseOptions(argc, argv, &help);
  if (!options) {
    fprintf(stderr, "fake-gemini: %s\n", options.status().message().c_str());
    return 2;
  }
  if (help) {
    fputs(fake_gemini::HelpText().c_str(), stdout);
    return 0;
  }
  if (options->tls_cert.empty() != options->tls_key.empty()) {
    fprintf(stderr, "fake-gemini: --tls-cert and --tls-key go together\n");
    return 2;
  }
  ringgate::LogLevel level;
  if (!ringgate::ParseLogLevel(options->log_level.c_str(), &level)) {
    fprintf(stderr, "fake-gemini: --log-level: want debug, info, warning or error\n");
    return 2;
  }
  ringgate::SetLogLevel(level);

  ringgate::Config config;
  ringgate::Result<std::vector<ringgate::ListenAddress>> listen =
      ringgate::ParseListenList(options->listen);
  if (!listen) {
    fprintf(stderr, "fake-gemini: --listen: %s\n", listen.status().message().c_str());
    return 2;
  }
  config.listen = std::move(*listen);
  config.threads = options->threads;
  config.drain_timeout_ms = options->drain_timeout_ms;
  config.log_level = options->log_level;
  config.tls_cert_file = options->tls_cert;
  config.tls_key_file = options->tls_key;

  sigset_t signals = ringgate::BlockLifecycleSignals();
  ringgate::RaiseDescriptorLimit();

  auto catalog = std::make_shared<fake_gemini::ModelCatalog>();
  auto state = std::make_shared<fake_gemini::FakeState>(*options, options->threads);
  ringgate::Server server(std::move(config),
                          [state, catalog](ringgate::Router& router, ringgate::Shard& shard) {
                            fake_gemini::InstallRoutes(router, shard, *state, *catalog);
                          });
  ringgate::Status started = server.Start();
  if (!started.ok()) {
    fprintf(stderr, "fake-gemini: %s\n", started.message().c_str());
    return 1;
  }
  server.PrintListening();
  return ringgate::ServeUntilSignal(server, signals);
}
