// ringgate: parse the configuration, start one shard per core, serve until a signal.
#include <mimalloc-new-delete.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "ringgate/common/log.h"
#include "ringgate/config/config.h"
#include "ringgate/server/server.h"

extern char** environ;

namespace {

// Every connection is a descriptor: take all the kernel allows this process.
void RaiseDescriptorLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int WaitForSignals(ringgate::Server& server, const sigset_t& signals) {
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

}  // namespace

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

  // Block the lifecycle signals before any thread starts, so only sigtimedwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RaiseDescriptorLimit();

  ringgate::Server server(std::move(*config));
  ringgate::Status started = server.Start();
  if (!started.ok()) {
    fprintf(stderr, "ringgate: %s\n", started.message().c_str());
    return 1;
  }
  for (const ringgate::ListenerGroup& group : server.listeners()) {
    printf("listening on %s\n", ringgate::ListenUrl(group.address).c_str());
  }
  fflush(stdout);
  return WaitForSignals(server, signals);
}
