// Router: maps (method, path) to a handler. Built once at start-up by each core for itself, so
// lookups touch no shared state.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/http/request.h"

namespace ringgate {

// What a handler answers with. Implemented by the client connection: the bytes go straight into
// its output queue. A handler answers exactly once.
class Responder {
 public:
  virtual ~Responder() = default;
  // `extra_headers`: preformatted lines, each ending in "\r\n". HEAD requests get the same head
  // without the body.
  virtual void Send(int status, std::string_view content_type, std::string_view body,
                    std::string_view extra_headers = {}) = 0;
  // The JSON error body with the type matching `status`.
  void SendError(int status, std::string_view message, std::string_view code,
                 std::string_view extra_headers = {});
};

using RouteHandler = std::function<void(HttpRequest& request, Responder& responder)>;

class Router {
 public:
  // `method` is "GET", "POST", ...; GET routes answer HEAD too.
  void Add(std::string_view method, std::string_view path, RouteHandler handler);

  // Finds the handler, or answers 404 / 405 itself. Returns true when a handler ran.
  bool Dispatch(HttpRequest& request, Responder& responder) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    RouteHandler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace ringgate
