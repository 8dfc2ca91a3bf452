// Router: maps (method, path) to a handler. Built once at start-up by each core for itself, so
// lookups touch no shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/http/request.h"

namespace ringgate {

// Told what happens to a deferred response's client.
class ResponseObserver {
 public:
  virtual ~ResponseObserver() = default;
  // The connection is gone (client closed, reset, timeout, shutdown). The AsyncResponder must
  // not be touched after this call.
  virtual void OnClientGone() = 0;
  // The client's output fell back under its low-water mark after congested() was true.
  virtual void OnWritable() {}
};

// A response answered after the handler returned, whole or as a stream. Valid until the
// response is finished (Send, EndStream, Abort) or the observer hears OnClientGone().
class AsyncResponder {
 public:
  virtual ~AsyncResponder() = default;
  virtual void Send(int status, std::string_view content_type, std::string_view body,
                    std::string_view extra_headers = {}) = 0;
  // A response of unknown length: chunked for HTTP/1.1, close-delimited for HTTP/1.0.
  virtual void StartStream(int status, std::string_view content_type,
                           std::string_view extra_headers = {}) = 0;
  virtual void WriteChunk(std::string_view data) = 0;
  // Appends one chunk that `write(out, context)` produces straight into the output buffer: no
  // intermediate copy (a stream transcoder writes its events in place). Nothing is sent if it
  // appends nothing.
  using ChunkWriter = void (*)(std::string& out, void* context);
  virtual void WriteChunkWith(ChunkWriter write, void* context) = 0;
  virtual void EndStream() = 0;
  // Cuts the connection without finishing the response; the observer is not called.
  virtual void AbortResponse() = 0;
  // Unsent output is above the high-water mark: stop producing until OnWritable().
  virtual bool congested() const = 0;
};

// What a handler answers with. Implemented by the client connection: the bytes go straight into
// its output queue. A handler answers exactly once.
class Responder {
 public:
  virtual ~Responder() = default;
  // `extra_headers`: preformatted lines, each ending in "\r\n". HEAD requests get the same head
  // without the body.
  virtual void Send(int status, std::string_view content_type, std::string_view body,
                    std::string_view extra_headers = {}) = 0;
  // Answer later: the connection reads no further request until this one is answered.
  // Returns nullptr where answering later is impossible (a responder made for a test).
  virtual AsyncResponder* Defer(ResponseObserver* observer) {
    (void)observer;
    return nullptr;
  }
  // The JSON error body with the type matching `status`.
  void SendError(int status, std::string_view message, std::string_view code,
                 std::string_view extra_headers = {});
};

using RouteHandler = std::function<void(HttpRequest& request, Responder& responder)>;

class Router {
 public:
  // `method` is "GET", "POST", ...; GET routes answer HEAD too.
  void Add(std::string_view method, std::string_view path, RouteHandler handler);
  // Matches every path starting with `prefix` (after the exact routes); the handler parses the
  // rest, e.g. "/v1beta/models/" + "gemini-2.5-flash:generateContent".
  void AddPrefix(std::string_view method, std::string_view prefix, RouteHandler handler);

  // Finds the handler, or answers 404 / 405 itself. Returns true when a handler ran.
  // `route_id`, when given, is set before the handler runs: kFirstRouteId + the route's index, or
  // kNoRouteMatched (metrics count requests by route, a bounded label set).
  bool Dispatch(HttpRequest& request, Responder& responder, uint16_t* route_id = nullptr) const;

  static constexpr uint16_t kNoRouteMatched = 1;
  static constexpr uint16_t kFirstRouteId = 2;
  // Routes in the order they were added: route id kFirstRouteId + i is route i.
  struct RouteInfo {
    std::string_view method;
    std::string_view path;  // the prefix for prefix routes
    bool prefix = false;
  };
  size_t route_count() const { return routes_.size(); }
  RouteInfo route(size_t index) const {
    const Route& r = routes_[index];
    return RouteInfo{r.method, r.path, r.prefix};
  }

 private:
  struct Route {
    std::string method;
    std::string path;
    RouteHandler handler;
    bool prefix = false;
  };
  std::vector<Route> routes_;
};

}  // namespace ringgate
