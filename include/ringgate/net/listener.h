// Listening sockets: for every address, one SO_REUSEPORT socket per reactor so each core accepts
// on its own socket and the kernel spreads connections with no accept lock.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "ringgate/common/result.h"
#include "ringgate/config/config.h"

namespace ringgate {

struct ListenerGroup {
  ListenAddress address;  // with the real port once bound
  std::vector<int> fds;   // one per reactor
};

// Binds `copies` sockets per address. Port 0 gets a kernel-chosen port that every copy shares.
Result<std::vector<ListenerGroup>> OpenListeners(const std::vector<ListenAddress>& addresses,
                                                 int copies, int backlog = 4096);

// "http://HOST:PORT" (https with TLS) with IPv6 hosts in brackets.
std::string ListenUrl(const ListenAddress& address, bool tls = false);

void CloseListeners(std::vector<ListenerGroup>& groups);

}  // namespace ringgate
