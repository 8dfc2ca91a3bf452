// GET /metrics: every core's metric blocks summed (per core where it matters) plus key health
// from the serving core's key pool, in Prometheus text format. Names and meanings:
// docs/metrics.md.
//
// Guarded: `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set, or the web password
// (Bearer, or HTTP Basic with any user name); 401 with WWW-Authenticate otherwise. With neither a
// token nor a web password nothing is let in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/observe/metrics.h"

namespace ringgate {

class KeyPoolShard;
class Router;
class Shard;
struct Config;
struct HttpRequest;

// The dashboard's password: WEB_PASSWORD, or PASSWORD when it is unset (HAJIMI).
const std::string& WebPassword(const Config& config);

// True when `request` carries METRICS_TOKEN or the web password.
bool MetricsRequestAuthorized(const HttpRequest& request, const Config& config);

struct MetricsSources {
  std::vector<const CoreMetrics*> cores;  // by core index
  const Router* router = nullptr;         // route labels (every core's router is alike)
  const KeyPoolShard* keys = nullptr;     // the serving core's view; null: no key metrics
  int64_t now_ms = 0;                     // Unix milliseconds
  int64_t started_ms = 0;                 // Unix milliseconds
};

// Appends the whole exposition.
void RenderMetrics(const MetricsSources& sources, std::string& out);

// Adds GET /metrics to a shard's router.
void InstallMetricsRoute(Router& router, Shard& shard);

}  // namespace ringgate
