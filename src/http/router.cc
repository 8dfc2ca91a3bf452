#include "ringgate/http/router.h"

#include "ringgate/http/response.h"

namespace ringgate {

void Responder::SendError(int status, std::string_view message, std::string_view code,
                          std::string_view extra_headers) {
  Send(status, "application/json", JsonErrorBody(message, ErrorTypeForStatus(status), code),
       extra_headers);
}

void Router::Add(std::string_view method, std::string_view path, RouteHandler handler) {
  routes_.push_back({std::string(method), std::string(path), std::move(handler), false});
}

void Router::AddPrefix(std::string_view method, std::string_view prefix, RouteHandler handler) {
  routes_.push_back({std::string(method), std::string(prefix), std::move(handler), true});
}

bool Router::Dispatch(HttpRequest& request, Responder& responder, uint16_t* route_id) const {
  std::string allow;
  const Route* exact_found = nullptr;
  for (const Route& route : routes_) {
    if (!route.prefix && route.path == request.path)
      exact_found = &route;
  }
  for (size_t index = 0; index < routes_.size(); ++index) {
    const Route& route = routes_[index];
    bool matches = route.prefix
                       ? (exact_found == nullptr && request.path.size() > route.path.size() &&
                          request.path.substr(0, route.path.size()) == route.path)
                       : route.path == request.path;
    if (!matches)
      continue;
    if (route.method == request.method_name || (request.is_head() && route.method == "GET")) {
      if (route_id != nullptr)
        *route_id = static_cast<uint16_t>(kFirstRouteId + index);
      route.handler(request, responder);
      return true;
    }
    if (!allow.empty())
      allow += ", ";
    allow += route.method;
    if (route.method == "GET")
      allow += ", HEAD";
  }
  if (route_id != nullptr)
    *route_id = kNoRouteMatched;
  if (!allow.empty()) {
    std::string message = "method " + std::string(request.method_name) + " is not allowed on " +
                          std::string(request.path) + "; allowed: " + allow;
    responder.SendError(405, message, "method_not_allowed", "Allow: " + allow + "\r\n");
    return false;
  }
  std::string message =
      "no route for " + std::string(request.method_name) + " " + std::string(request.path);
  responder.SendError(404, message, "not_found");
  return false;
}

}  // namespace ringgate
