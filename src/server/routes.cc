#include "ringgate/server/routes.h"

namespace ringgate {

void AddBuiltinRoutes(Router& router) {
  router.Add("GET", "/healthz", [](HttpRequest&, Responder& responder) {
    responder.Send(200, "application/json", R"({"status":"ok"})");
  });
}

}  // namespace ringgate
