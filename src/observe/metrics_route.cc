#include "ringgate/observe/metrics_route.h"

#include <openssl/mem.h>

#include <array>
#include <string>

#include "ringgate/common/clock.h"
#include "ringgate/config/config.h"
#include "ringgate/http/request.h"
#include "ringgate/http/router.h"
#include "ringgate/keys/key_list.h"
#include "ringgate/keys/key_pool.h"
#include "ringgate/observe/prometheus.h"
#include "ringgate/server/chat_service.h"
#include "ringgate/server/shard.h"
#include "ringgate/upstream/upstream.h"

namespace ringgate {
namespace {

static_assert(Router::kNoRouteMatched == kRouteUnmatched &&
                  Router::kFirstRouteId == kFirstRouterRoute,
              "the router numbers routes the way the metrics count them");

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty())
    return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Standard base64 (RFC 4648), padding optional; false on anything else.
bool DecodeBase64(std::string_view text, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=')
    text.remove_suffix(1);
  uint32_t bits = 0;
  int held = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0)
      return false;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out->push_back(static_cast<char>((bits >> held) & 0xFF));
    }
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// ---- Rendering ----

template <typename Read>
uint64_t Sum(const MetricsSources& sources, Read read) {
  uint64_t total = 0;
  for (const CoreMetrics* core : sources.cores)
    total += read(*core);
  return total;
}

void RenderRequests(const MetricsSources& sources, PrometheusWriter& w) {
  w.Family("ringgate_requests_total", "counter",
           "Client requests answered, by route (the route pattern), method and status (499: the "
           "client left before the answer).");
  for (size_t route = 0; route < kMaxRoutes; ++route) {
    for (size_t slot = 0; slot < kStatusSlots; ++slot) {
      uint64_t count =
          Sum(sources, [&](const CoreMetrics& m) { return m.requests[route].by_slot[slot].Get(); });
      if (count == 0)
        continue;
      uint16_t code = StatusOfSlot(slot);
      std::string status = code == 0 ? "other" : std::to_string(code);
      if (route == kRouteNone || route == kRouteUnmatched) {
        w.Sample("ringgate_requests_total",
                 {{"route", route == kRouteNone ? "none" : "unmatched"}, {"status", status}},
                 count);
        continue;
      }
      size_t index = route - kFirstRouterRoute;
      if (sources.router == nullptr || index >= sources.router->route_count())
        continue;
      Router::RouteInfo info = sources.router->route(index);
      std::string pattern(info.path);
      if (info.prefix)
        pattern += '*';
      w.Sample("ringgate_requests_total",
               {{"route", pattern}, {"method", info.method}, {"status", status}}, count);
    }
  }
}

void PerCoreGauge(const MetricsSources& sources, PrometheusWriter& w, std::string_view name,
                  std::string_view help, int64_t (*read)(const CoreMetrics&)) {
  w.Family(name, "gauge", help);
  for (size_t i = 0; i < sources.cores.size(); ++i) {
    std::string core = std::to_string(i);
    w.Sample(name, {{"core", core}}, read(*sources.cores[i]));
  }
}

void PerCoreCounter(const MetricsSources& sources, PrometheusWriter& w, std::string_view name,
                    std::string_view help, uint64_t (*read)(const CoreMetrics&)) {
  w.Family(name, "counter", help);
  for (size_t i = 0; i < sources.cores.size(); ++i) {
    std::string core = std::to_string(i);
    w.Sample(name, {{"core", core}}, read(*sources.cores[i]));
  }
}

void SummedHistogram(const MetricsSources& sources, PrometheusWriter& w, std::string_view name,
                     std::string_view help, BucketBounds bounds,
                     const Histogram& (*pick)(const CoreMetrics&)) {
  w.Family(name, "histogram", help);
  std::array<uint64_t, Histogram::kMaxBuckets + 1> counts{};
  uint64_t sum_us = 0;
  for (const CoreMetrics* core : sources.cores) {
    const Histogram& h = pick(*core);
    for (size_t i = 0; i <= bounds.size(); ++i)
      counts[i] += h.bucket(i);
    sum_us += h.sum_us();
  }
  w.Histogram(name, {}, bounds, counts.data(), sum_us);
}

void RenderConnections(const MetricsSources& sources, PrometheusWriter& w) {
  PerCoreCounter(sources, w, "ringgate_connections_accepted_total",
                 "Client connections accepted, per core.",
                 [](const CoreMetrics& m) { return m.connections_accepted.Get(); });
  PerCoreCounter(sources, w, "ringgate_connections_rejected_total",
                 "Client connections refused with 503 over MAX_CONNECTIONS_PER_CORE, per core.",
                 [](const CoreMetrics& m) { return m.connections_rejected.Get(); });
  PerCoreGauge(sources, w, "ringgate_open_connections", "Open client connections, per core.",
               [](const CoreMetrics& m) { return m.open_connections.Get(); });
  PerCoreGauge(sources, w, "ringgate_active_streams",
               "Responses being streamed to clients (SSE, keep-alive), per core.",
               [](const CoreMetrics& m) { return m.active_streams.Get(); });
}

void RenderUpstream(const MetricsSources& sources, PrometheusWriter& w) {
  w.Family("ringgate_upstream_responses_total", "counter",
           "Upstream (Gemini API) responses, by HTTP status.");
  for (size_t slot = 0; slot < kStatusSlots; ++slot) {
    uint64_t count = Sum(
        sources, [&](const CoreMetrics& m) { return m.upstream_responses.by_slot[slot].Get(); });
    if (count == 0)
      continue;
    uint16_t code = StatusOfSlot(slot);
    std::string status = code == 0 ? "other" : std::to_string(code);
    w.Sample("ringgate_upstream_responses_total", {{"status", status}}, count);
  }
  w.Family("ringgate_upstream_errors_total", "counter",
           "Upstream requests that failed below HTTP (no usable answer), by kind.");
  for (size_t kind = 0; kind < kUpstreamErrorKinds; ++kind) {
    uint64_t count =
        Sum(sources, [&](const CoreMetrics& m) { return m.upstream_errors[kind].Get(); });
    w.Sample("ringgate_upstream_errors_total",
             {{"kind", UpstreamErrorName(static_cast<UpstreamErrorKind>(kind))}}, count);
  }
  SummedHistogram(sources, w, "ringgate_upstream_request_duration_seconds",
                  "Upstream requests from the start (connection included) to the end of the "
                  "response.",
                  kUpstreamBucketsUs,
                  [](const CoreMetrics& m) -> const Histogram& { return m.upstream_duration; });
  SummedHistogram(sources, w, "ringgate_upstream_time_to_first_byte_seconds",
                  "Upstream requests from the start (connection included) to the response head.",
                  kUpstreamBucketsUs,
                  [](const CoreMetrics& m) -> const Histogram& { return m.upstream_ttfb; });
  PerCoreGauge(sources, w, "ringgate_upstream_open_connections",
               "Open upstream connections (busy and idle), per core.",
               [](const CoreMetrics& m) { return m.upstream_open_connections.Get(); });
  PerCoreGauge(sources, w, "ringgate_upstream_idle_connections",
               "Idle keep-alive upstream connections, per core.",
               [](const CoreMetrics& m) { return m.upstream_idle_connections.Get(); });
}

void RenderChat(const MetricsSources& sources, PrometheusWriter& w) {
  SummedHistogram(sources, w, "ringgate_gateway_overhead_seconds",
                  "Time ringgate adds to a chat request answered from upstream: from the request "
                  "complete to the first upstream request started, plus from the upstream answer "
                  "complete to the client answer written.",
                  kOverheadBucketsUs,
                  [](const CoreMetrics& m) -> const Histogram& { return m.gateway_overhead; });
  w.Family("ringgate_tokens_total", "counter",
           "Tokens of successful upstream answers (usageMetadata): prompt (with tool-use prompt) "
           "and completion (with thoughts).");
  w.Sample("ringgate_tokens_total", {{"kind", "prompt"}},
           Sum(sources, [](const CoreMetrics& m) { return m.prompt_tokens.Get(); }));
  w.Sample("ringgate_tokens_total", {{"kind", "completion"}},
           Sum(sources, [](const CoreMetrics& m) { return m.completion_tokens.Get(); }));
  w.Family("ringgate_response_cache_lookups_total", "counter",
           "Response-cache lookups (only with fan-out), by result.");
  w.Sample("ringgate_response_cache_lookups_total", {{"result", "hit"}},
           Sum(sources, [](const CoreMetrics& m) { return m.cache_hits.Get(); }));
  w.Sample("ringgate_response_cache_lookups_total", {{"result", "miss"}},
           Sum(sources, [](const CoreMetrics& m) { return m.cache_misses.Get(); }));
  w.Family("ringgate_coalesced_requests_total", "counter",
           "Chat requests answered from an identical request's upstream answer.");
  w.Sample("ringgate_coalesced_requests_total", {},
           Sum(sources, [](const CoreMetrics& m) { return m.coalesced.Get(); }));
}

// One state per key, the first that applies: quarantined, resting (for any model), over the
// daily limit, healthy.
enum class KeyHealth { kHealthy, kResting, kOverDailyLimit, kQuarantined };
constexpr const char* kKeyHealthNames[] = {"healthy", "resting", "over_daily_limit", "quarantined"};

KeyHealth HealthOf(const KeyPoolShard& keys, uint32_t key, int64_t now_ms) {
  if (keys.IsQuarantined(key))
    return KeyHealth::kQuarantined;
  for (size_t model = 0; model < keys.models().size(); ++model) {
    if (keys.RestUntil(key, static_cast<ModelId>(model)) > now_ms)
      return KeyHealth::kResting;
  }
  if (keys.IsOverDailyLimit(key))
    return KeyHealth::kOverDailyLimit;
  return KeyHealth::kHealthy;
}

void RenderKeys(const MetricsSources& sources, PrometheusWriter& w) {
  if (sources.keys == nullptr)
    return;
  const KeyPoolShard& keys = *sources.keys;
  std::vector<KeyHealth> health(keys.size());
  std::array<int64_t, 4> counts{};
  for (uint32_t key = 0; key < keys.size(); ++key) {
    health[key] = HealthOf(keys, key, sources.now_ms);
    ++counts[static_cast<size_t>(health[key])];
  }
  w.Family("ringgate_keys", "gauge", "API keys by health (as the serving core sees them).");
  for (size_t state = 0; state < counts.size(); ++state)
    w.Sample("ringgate_keys", {{"state", kKeyHealthNames[state]}}, counts[state]);
  // Keys are labelled by their first 8 characters (HAJIMI's label) and their index, since two
  // keys may share a label.
  w.Family("ringgate_key_health", "gauge",
           "1 for each key, labelled with its current state; key is its first 8 characters.");
  for (uint32_t key = 0; key < keys.size(); ++key) {
    std::string index = std::to_string(key);
    w.Sample("ringgate_key_health",
             {{"key", KeyLabel(keys.key(key))},
              {"index", index},
              {"state", kKeyHealthNames[static_cast<size_t>(health[key])]}},
             int64_t{1});
  }
  w.Family(
      "ringgate_key_calls_today", "gauge",
      "Successful calls per key since the usage day began (API_KEY_DAILY_LIMIT counts these).");
  for (uint32_t key = 0; key < keys.size(); ++key) {
    std::string index = std::to_string(key);
    w.Sample("ringgate_key_calls_today", {{"key", KeyLabel(keys.key(key))}, {"index", index}},
             keys.usage().Key(key).calls);
  }
  w.Family("ringgate_key_tokens_today", "gauge",
           "Tokens (totalTokenCount) per key since the usage day began.");
  for (uint32_t key = 0; key < keys.size(); ++key) {
    std::string index = std::to_string(key);
    w.Sample("ringgate_key_tokens_today", {{"key", KeyLabel(keys.key(key))}, {"index", index}},
             keys.usage().Key(key).tokens);
  }
  w.Family("ringgate_upstream_throttled", "gauge",
           "1 while upstream calls pause because Google limits this server (many keys got 429 at "
           "once).");
  w.Sample("ringgate_upstream_throttled", {},
           int64_t{keys.throttled_until() > sources.now_ms ? 1 : 0});
}

}  // namespace

const std::string& WebPassword(const Config& config) {
  // WEB_PASSWORD, or PASSWORD when unset (HAJIMI), as the dashboard signs in.
  return config.web_password.empty() ? config.password : config.web_password;
}

bool MetricsRequestAuthorized(const HttpRequest& request, const Config& config) {
  std::string_view authorization = Trim(request.Header("authorization"));
  if (StartsWithIgnoreCase(authorization, "bearer ")) {
    std::string_view token = Trim(authorization.substr(7));
    if (!config.metrics_token.empty() && ConstantTimeEquals(token, config.metrics_token))
      return true;
    return ConstantTimeEquals(token, WebPassword(config));
  }
  if (StartsWithIgnoreCase(authorization, "basic ")) {
    std::string decoded;
    if (!DecodeBase64(Trim(authorization.substr(6)), &decoded))
      return false;
    size_t colon = decoded.find(':');
    if (colon == std::string::npos)
      return false;
    return ConstantTimeEquals(std::string_view(decoded).substr(colon + 1), WebPassword(config));
  }
  return false;
}

void RenderMetrics(const MetricsSources& sources, std::string& out) {
  PrometheusWriter w(out);
  w.Family("ringgate_start_time_seconds", "gauge", "When the process started (Unix seconds).");
  w.Sample("ringgate_start_time_seconds", {}, static_cast<int64_t>(sources.started_ms / 1000));
  w.Family("ringgate_cores", "gauge", "Reactor threads (cores) serving.");
  w.Sample("ringgate_cores", {}, static_cast<int64_t>(sources.cores.size()));
  RenderRequests(sources, w);
  RenderConnections(sources, w);
  RenderUpstream(sources, w);
  RenderChat(sources, w);
  RenderKeys(sources, w);
}

void InstallMetricsRoute(Router& router, Shard& shard) {
  router.Add("GET", "/metrics", [&shard](HttpRequest& request, Responder& responder) {
    if (!MetricsRequestAuthorized(request, shard.config())) {
      responder.SendError(401,
                          "/metrics needs Authorization: Bearer with METRICS_TOKEN or the web "
                          "password, or HTTP Basic with the web password",
                          "unauthorized",
                          "WWW-Authenticate: Bearer realm=\"ringgate\"\r\n"
                          "WWW-Authenticate: Basic realm=\"ringgate\", charset=\"UTF-8\"\r\n");
      return;
    }
    MetricsSources sources;
    if (const MetricsRegistry* registry = shard.metrics_registry()) {
      for (int i = 0; i < registry->cores(); ++i)
        sources.cores.push_back(&registry->core(i));
      sources.started_ms = registry->started_ms();
    } else {
      sources.cores.push_back(&shard.metrics());
    }
    sources.router = &shard.router();
    if (ChatService* chat = shard.chat())
      sources.keys = &chat->keys();
    sources.now_ms = WallMillis();
    std::string body;
    RenderMetrics(sources, body);
    responder.Send(200, kPrometheusContentType, body);
  });
}

}  // namespace ringgate
