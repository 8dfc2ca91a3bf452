#include "ringgate/net/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringgate {
namespace {

Result<sockaddr_storage> ResolveNumeric(const std::string& host, uint16_t port, socklen_t* len) {
  std::string numeric = host == "localhost" ? "127.0.0.1" : host;
  addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* info = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(numeric.c_str(), service.c_str(), &hints, &info);
  if (rc != 0 || info == nullptr) {
    return Status::Error("cannot listen on '" + host +
                         "': expected a numeric IPv4 or IPv6 address or localhost");
  }
  sockaddr_storage storage;
  memset(&storage, 0, sizeof(storage));
  memcpy(&storage, info->ai_addr, info->ai_addrlen);
  *len = info->ai_addrlen;
  freeaddrinfo(info);
  return storage;
}

Result<int> OpenOne(const sockaddr_storage& addr, socklen_t len, int backlog,
                    const std::string& label) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("socket(): " + std::string(strerror(errno)), errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    int err = errno;
    close(fd);
    return Status::Error("SO_REUSEPORT: " + std::string(strerror(err)), err);
  }
  // Accepted sockets inherit this: responses go out without Nagle's delay.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    int err = errno;
    close(fd);
    return Status::Error("cannot listen on " + label + ": " + strerror(err) +
                             (err == EADDRINUSE ? " (another process holds the port; pick "
                                                  "another with --listen)"
                                                : ""),
                         err);
  }
  if (listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return Status::Error("listen(): " + std::string(strerror(err)), err);
  }
  return fd;
}

}  // namespace

std::string ListenUrl(const ListenAddress& address, bool tls) {
  bool v6 = address.host.find(':') != std::string::npos;
  return (tls ? "https://" : "http://") + (v6 ? "[" + address.host + "]" : address.host) + ":" +
         std::to_string(address.port);
}

void CloseListeners(std::vector<ListenerGroup>& groups) {
  for (ListenerGroup& g : groups) {
    for (int fd : g.fds) {
      if (fd >= 0) close(fd);
    }
    g.fds.clear();
  }
}

Result<std::vector<ListenerGroup>> OpenListeners(const std::vector<ListenAddress>& addresses,
                                                 int copies, int backlog) {
  std::vector<ListenerGroup> groups;
  for (const ListenAddress& requested : addresses) {
    socklen_t len = 0;
    Result<sockaddr_storage> addr = ResolveNumeric(requested.host, requested.port, &len);
    if (!addr) {
      CloseListeners(groups);
      return addr.status();
    }
    ListenerGroup group;
    group.address = requested;
    std::string label = ListenUrl(requested);
    for (int i = 0; i < copies; ++i) {
      Result<int> fd = OpenOne(*addr, len, backlog, label);
      if (!fd) {
        groups.push_back(std::move(group));
        CloseListeners(groups);
        return fd.status();
      }
      group.fds.push_back(*fd);
      if (i == 0 && requested.port == 0) {
        // Every later copy must join the same port's reuseport group.
        sockaddr_storage bound;
        socklen_t bound_len = sizeof(bound);
        getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
        uint16_t port = bound.ss_family == AF_INET6
                            ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                            : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
        group.address.port = port;
        if (addr->ss_family == AF_INET6) {
          reinterpret_cast<sockaddr_in6*>(&*addr)->sin6_port = htons(port);
        } else {
          reinterpret_cast<sockaddr_in*>(&*addr)->sin_port = htons(port);
        }
      }
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace ringgate
