// ringgate: parse the configuration, start one shard per core, serve until a signal.
#include <mimalloc-new-delete.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>

#include <unistd.h>

#include "ringgate/common/clock.h"
#include "ringgate/common/log.h"
#include "ringgate/config/config.h"
#include "ringgate/server/server.h"
#include "ringgate/storage/storage.h"

extern char** environ;

namespace {

// ENABLE_STORAGE: settings.json onto the configuration (HAJIMI's precedence, a flag of this run
// winning), then the key state every core restores; the writer thread starts.
std::unique_ptr<ringgate::Storage> OpenStorage(ringgate::Config* config, int argc, char** argv) {
  if (!config->enable_storage)
    return nullptr;
  auto storage = std::make_unique<ringgate::Storage>(config->storage_dir);
  ringgate::EnvLookup getenv_lookup = [](std::string_view name) -> std::optional<std::string> {
    const char* value = getenv(std::string(name).c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
  int64_t now = ringgate::WallMillis();
  storage->LoadSettings(
      config, getenv_lookup,
      [argc, argv](std::string_view name) { return ringgate::ConfigFlagGiven(argc, argv, name); },
      now);
  storage->LoadState(now);
  storage->Start();
  return storage;
}

}  // namespace

int main(int argc, char** argv) {
  bool help = false;
  ringgate::Result<ringgate::Config> config = ringgate::ParseConfig(argc, argv, environ, &help);
  if (!config) {
    fprintf(stderr, "ringgate: %s\n", config.status().message().c_str());
    return 2;
  }
  if (help) {
    fputs(ringgate::ConfigHelpText().c_str(), stdout);
    return 0;
  }
  ringgate::LogLevel level;
  if (ringgate::ParseLogLevel(config->log_level.c_str(), &level))
    ringgate::SetLogLevel(level);
  ringgate::SetLogOutputFd(STDERR_FILENO);
  ringgate::LogFormat format;
  if (ringgate::ParseLogFormat(config->log_format.c_str(), &format))
    ringgate::SetLogFormat(format);

  sigset_t signals = ringgate::BlockLifecycleSignals();
  ringgate::RaiseDescriptorLimit();

  // Before the server: the writer thread inherits the blocked signals, and the shards start from
  // the loaded settings and key state.
  std::unique_ptr<ringgate::Storage> storage = OpenStorage(&*config, argc, argv);

  ringgate::Server server(std::move(*config));
  server.set_storage(storage.get());
  ringgate::Status started = server.Start();
  if (!started.ok()) {
    fprintf(stderr, "ringgate: %s\n", started.message().c_str());
    return 1;
  }
  server.PrintListening();
  int status = ringgate::ServeUntilSignal(server, signals);
  if (storage) {
    ringgate::Status flushed = storage->Flush();
    if (!flushed.ok()) {
      RG_LOG(kError, "storage: the last changes could not be saved: %s", flushed.message().c_str());
    }
  }
  return status;
}
