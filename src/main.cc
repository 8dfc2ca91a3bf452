// ringgate: parse the configuration, start one shard per core, serve until a signal.
#include <mimalloc-new-delete.h>

#include <cstdio>
#include <ctime>

#include <unistd.h>

#include "ringgate/common/log.h"
#include "ringgate/config/config.h"
#include "ringgate/server/server.h"

extern char** environ;


int main(int argc, char** argv) {
  bool help = false;
  ringgate::Result<ringgate::Config> config =
      ringgate::ParseConfig(argc, argv, environ, &help);
  if (!config) {
    fprintf(stderr, "ringgate: %s\n", config.status().message().c_str());
    return 2;
  }
  if (help) {
    fputs(ringgate::ConfigHelpText().c_str(), stdout);
    return 0;
  }
  ringgate::LogLevel level;
  if (ringgate::ParseLogLevel(config->log_level.c_str(), &level)) ringgate::SetLogLevel(level);
  ringgate::SetLogOutputFd(STDERR_FILENO);
  ringgate::LogFormat format;
  if (ringgate::ParseLogFormat(config->log_format.c_str(), &format))
    ringgate::SetLogFormat(format);

  sigset_t signals = ringgate::BlockLifecycleSignals();
  ringgate::RaiseDescriptorLimit();

  ringgate::Server server(std::move(*config));
  ringgate::Status started = server.Start();
  if (!started.ok()) {
    fprintf(stderr, "ringgate: %s\n", started.message().c_str());
    return 1;
  }
  server.PrintListening();
  return ringgate::ServeUntilSignal(server, signals);
}
