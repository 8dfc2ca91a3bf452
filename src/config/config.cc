#include "ringgate/config/config.h"

#include "ringgate/common/url.h"
#include "ringgate/policy/rate_limit.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string_view>

namespace ringgate {
namespace {

struct OptionSpec {
  const char* flag;  // without the leading "--"
  const char* env;
  const char* value_hint;
  const char* help;
  std::function<std::string(const Config&)> show_default;
  std::function<Status(Config&, const std::string&)> apply;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<uint64_t> ParseUnsigned(const std::string& text) {
  if (text.empty() || text.size() > 19)
    return Status::Error("expected a non-negative integer");
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return Status::Error("expected a non-negative integer");
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// Splits "123abc" into the number and the lower-cased suffix.
Result<std::pair<uint64_t, std::string>> SplitNumberSuffix(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0)
    return Status::Error("expected a number");
  Result<uint64_t> number = ParseUnsigned(text.substr(0, digits));
  if (!number)
    return number.status();
  std::string suffix = Lower(text.substr(digits));
  while (!suffix.empty() && suffix.front() == ' ')
    suffix.erase(0, 1);
  return std::make_pair(*number, suffix);
}

std::string FormatListen(const std::vector<ListenAddress>& list) {
  std::string out;
  for (const ListenAddress& a : list) {
    if (!out.empty())
      out += ',';
    bool v6 = a.host.find(':') != std::string::npos;
    out += v6 ? "[" + a.host + "]" : a.host;
    out += ':' + std::to_string(a.port);
  }
  return out;
}

std::string FormatMillis(uint64_t ms) {
  if (ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes % (1024 * 1024) == 0)
    return std::to_string(bytes >> 20) + "MiB";
  if (bytes % 1024 == 0)
    return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes);
}

template <typename T>
Status ApplyRange(const Result<uint64_t>& parsed, uint64_t lo, uint64_t hi, T* out,
                  const char* what) {
  if (!parsed)
    return Status::Error(parsed.status().message());
  if (*parsed < lo || *parsed > hi) {
    return Status::Error(std::string("expected ") + what + " between " + std::to_string(lo) +
                         " and " + std::to_string(hi));
  }
  *out = static_cast<T>(*parsed);
  return Status::Ok();
}

Status ParseBool(const std::string& v, bool* out) {
  std::string lower = Lower(v);
  if (lower == "true" || lower == "1" || lower == "yes") {
    *out = true;
  } else if (lower == "false" || lower == "0" || lower == "no") {
    *out = false;
  } else {
    return Status::Error("expected true or false");
  }
  return Status::Ok();
}

// HAJIMI strips surrounding double quotes from PASSWORD and SEARCH_PROMPT.
std::string StripQuotes(std::string v) {
  while (!v.empty() && v.front() == '"')
    v.erase(0, 1);
  while (!v.empty() && v.back() == '"')
    v.pop_back();
  return v;
}

OptionSpec BoolOption(const char* flag, const char* env, const char* help, bool Config::*field) {
  return {flag,
          env,
          "BOOL",
          help,
          [field](const Config& c) { return std::string(c.*field ? "true" : "false"); },
          [field](Config& c, const std::string& v) { return ParseBool(v, &(c.*field)); }};
}

OptionSpec StringOption(const char* flag, const char* env, const char* hint, const char* help,
                        std::string Config::*field) {
  return {flag,
          env,
          hint,
          help,
          [field](const Config& c) { return (c.*field).empty() ? "none" : c.*field; },
          [field](Config& c, const std::string& v) {
            c.*field = v;
            return Status::Ok();
          }};
}

OptionSpec IntervalOption(const char* flag, const char* env, const char* help,
                          uint32_t Config::*field) {
  return {flag,
          env,
          "DURATION",
          help,
          [field](const Config& c) { return FormatMillis(c.*field); },
          [field](Config& c, const std::string& v) {
            return ApplyRange(ParseDurationMillis(v), 10, 3'600'000, &(c.*field), "a duration");
          }};
}

const std::vector<OptionSpec>& Options() {
  static const std::vector<OptionSpec> options = {
      {"listen", "LISTEN", "HOST:PORT[,HOST:PORT]",
       "addresses to listen on; port 0 picks a free port",
       [](const Config& c) { return FormatListen(c.listen); },
       [](Config& c, const std::string& v) {
         Result<std::vector<ListenAddress>> list = ParseListenList(v);
         if (!list)
           return list.status();
         c.listen = std::move(*list);
         return Status::Ok();
       }},
      {"tls-cert", "TLS_CERT_FILE", "PATH", "serve HTTPS with this PEM certificate chain",
       [](const Config& c) { return c.tls_cert_file.empty() ? "none" : c.tls_cert_file; },
       [](Config& c, const std::string& v) {
         c.tls_cert_file = v;
         return Status::Ok();
       }},
      {"tls-key", "TLS_KEY_FILE", "PATH", "the PEM private key for --tls-cert",
       [](const Config& c) { return c.tls_key_file.empty() ? "none" : c.tls_key_file; },
       [](Config& c, const std::string& v) {
         c.tls_key_file = v;
         return Status::Ok();
       }},
      {"threads", "THREADS", "N", "reactor threads, one pinned per CPU; 0: one per usable CPU",
       [](const Config& c) { return std::to_string(c.threads); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 0, 1024, &c.threads, "a thread count");
       }},
      {"max-header-bytes", "MAX_HEADER_BYTES", "SIZE",
       "largest request line plus headers (431 past it)",
       [](const Config& c) { return FormatBytes(c.max_header_bytes); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseByteSize(v), 256, 16u << 20, &c.max_header_bytes, "a size");
       }},
      {"max-body-bytes", "MAX_BODY_BYTES", "SIZE", "largest request body (413 past it)",
       [](const Config& c) { return FormatBytes(c.max_body_bytes); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseByteSize(v), 0, 4ull << 30, &c.max_body_bytes, "a size");
       }},
      {"header-timeout", "HEADER_TIMEOUT", "DURATION",
       "time from a request's first byte to its last header, and the longest pause within a body "
       "(408 past it)",
       [](const Config& c) { return FormatMillis(c.header_timeout_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 10, 3'600'000, &c.header_timeout_ms,
                           "a duration");
       }},
      {"idle-timeout", "IDLE_TIMEOUT", "DURATION",
       "how long an idle keep-alive connection stays open",
       [](const Config& c) { return FormatMillis(c.idle_timeout_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 10, 86'400'000, &c.idle_timeout_ms,
                           "a duration");
       }},
      {"max-connections-per-core", "MAX_CONNECTIONS_PER_CORE", "N",
       "open client connections per thread (503 past it)",
       [](const Config& c) { return std::to_string(c.max_connections_per_core); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 1, 1u << 22, &c.max_connections_per_core,
                           "a connection count");
       }},
      {"drain-timeout", "DRAIN_TIMEOUT", "DURATION",
       "on SIGTERM/SIGINT, how long in-flight requests may take to finish",
       [](const Config& c) { return FormatMillis(c.drain_timeout_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 0, 3'600'000, &c.drain_timeout_ms, "a duration");
       }},
      {"gemini-api-keys", "GEMINI_API_KEYS", "KEY[,KEY]", "Gemini API keys, comma-separated",
       [](const Config& c) { return c.gemini_api_keys.empty() ? "none" : "(set)"; },
       [](Config& c, const std::string& v) {
         c.gemini_api_keys = v;
         return Status::Ok();
       }},
      {"gemini-base-url", "GEMINI_BASE_URL", "URL",
       "upstream Gemini API base URL (https://, or http:// for local gateways and tests)",
       [](const Config& c) { return c.gemini_base_url; },
       [](Config& c, const std::string& v) {
         Result<Url> url = ParseUrl(v);
         if (!url)
           return url.status();
         c.gemini_base_url = v;
         return Status::Ok();
       }},
      {"upstream-ca-file", "UPSTREAM_CA_FILE", "PATH",
       "extra PEM CA file trusted for the upstream, on top of the system bundle",
       [](const Config& c) { return c.upstream_ca_file.empty() ? "none" : c.upstream_ca_file; },
       [](Config& c, const std::string& v) {
         c.upstream_ca_file = v;
         return Status::Ok();
       }},
      {"https-proxy", "HTTPS_PROXY", "URL",
       "HTTP CONNECT proxy for upstream connections, http://[user:pass@]host:port (also "
       "https_proxy)",
       [](const Config& c) { return c.https_proxy.empty() ? "none" : c.https_proxy; },
       [](Config& c, const std::string& v) {
         if (!v.empty()) {
           Result<Url> url = ParseUrl(v);
           if (!url)
             return url.status();
           if (url->tls())
             return Status::Error("expected http://[user:pass@]host:port");
         }
         c.https_proxy = v;
         return Status::Ok();
       }},
      {"no-proxy", "NO_PROXY", "HOSTS",
       "hosts that bypass the proxy, comma-separated (also no_proxy)",
       [](const Config& c) { return c.no_proxy.empty() ? "none" : c.no_proxy; },
       [](Config& c, const std::string& v) {
         c.no_proxy = v;
         return Status::Ok();
       }},
      {"upstream-connect-timeout", "UPSTREAM_CONNECT_TIMEOUT", "DURATION",
       "upstream TCP connect (and proxy tunnel) timeout",
       [](const Config& c) { return FormatMillis(c.upstream_connect_timeout_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 1, 600'000, &c.upstream_connect_timeout_ms,
                           "a duration");
       }},
      {"upstream-tls-timeout", "UPSTREAM_TLS_TIMEOUT", "DURATION", "upstream TLS handshake timeout",
       [](const Config& c) { return FormatMillis(c.upstream_tls_timeout_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 1, 600'000, &c.upstream_tls_timeout_ms,
                           "a duration");
       }},
      {"upstream-first-byte-timeout", "UPSTREAM_FIRST_BYTE_TIMEOUT", "DURATION",
       "wait for the first byte of an upstream response (models think)",
       [](const Config& c) { return FormatMillis(c.upstream_first_byte_timeout_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 1, 86'400'000, &c.upstream_first_byte_timeout_ms,
                           "a duration");
       }},
      {"upstream-idle-timeout", "UPSTREAM_IDLE_TIMEOUT", "DURATION",
       "longest silence inside an upstream response that has started",
       [](const Config& c) { return FormatMillis(c.upstream_idle_timeout_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 1, 86'400'000, &c.upstream_idle_timeout_ms,
                           "a duration");
       }},
      {"upstream-max-idle", "UPSTREAM_MAX_IDLE", "N", "idle upstream connections kept per core",
       [](const Config& c) { return std::to_string(c.upstream_max_idle); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 0, 100'000, &c.upstream_max_idle, "a count");
       }},
      {"upstream-idle-age", "UPSTREAM_IDLE_AGE", "DURATION",
       "how long an idle upstream connection is kept",
       [](const Config& c) { return FormatMillis(c.upstream_idle_age_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 1, 86'400'000, &c.upstream_idle_age_ms,
                           "a duration");
       }},
      {"password", "PASSWORD", "TEXT",
       "password clients send (x-goog-api-key, ?key= or Authorization: Bearer)",
       [](const Config&) { return std::string("123 unless set (not shown)"); },
       [](Config& c, const std::string& v) {
         c.password = StripQuotes(v);
         return Status::Ok();
       }},
      {"web-password", "WEB_PASSWORD", "TEXT",
       "password of the dashboard and its admin API (/api/*); empty: PASSWORD",
       [](const Config&) { return std::string("PASSWORD unless set (not shown)"); },
       [](Config& c, const std::string& v) {
         c.web_password = StripQuotes(v);
         return Status::Ok();
       }},
      {"dashboard-url", "DASHBOARD_URL", "PATH", "serve the dashboard at /PATH instead of /",
       [](const Config& c) { return c.dashboard_url.empty() ? "none" : c.dashboard_url; },
       [](Config& c, const std::string& v) {
         std::string path = v;
         while (!path.empty() && path.front() == '/')
           path.erase(0, 1);
         while (!path.empty() && path.back() == '/')
           path.pop_back();
         if (path.find_first_of("?#% \t") != std::string::npos)
           return Status::Error("expected a plain path such as admin or ui/dashboard");
         if (path.rfind("api/", 0) == 0 || path == "api" || path.rfind("assets", 0) == 0)
           return Status::Error("the dashboard cannot live under /api or /assets");
         c.dashboard_url = path;
         return Status::Ok();
       }},
      StringOption("whitelist-user-agent", "WHITELIST_USER_AGENT", "UA[,UA]",
                   "only clients with one of these User-Agents; empty: any",
                   &Config::whitelist_user_agent),
      StringOption("allowed-origins", "ALLOWED_ORIGINS", "ORIGIN[,ORIGIN]",
                   "CORS: origins allowed to call from a browser (* for any); empty: CORS off",
                   &Config::allowed_origins),
      BoolOption("fake-streaming", "FAKE_STREAMING",
                 "serve stream=true from a non-stream upstream call, with keep-alive chunks",
                 &Config::fake_streaming),
      IntervalOption("fake-streaming-interval", "FAKE_STREAMING_INTERVAL",
                     "keep-alive chunk interval while fake streaming (seconds, 0.5 allowed)",
                     &Config::fake_streaming_interval_ms),
      BoolOption("nonstream-keepalive-enabled", "NONSTREAM_KEEPALIVE_ENABLED",
                 "answer stream=false at once and send a newline each interval until the JSON",
                 &Config::nonstream_keepalive_enabled),
      IntervalOption("nonstream-keepalive-interval", "NONSTREAM_KEEPALIVE_INTERVAL",
                     "newline interval for stream=false answers",
                     &Config::nonstream_keepalive_interval_ms),
      BoolOption("enable-thinking", "ENABLE_THINKING",
                 "send thinkingConfig to the models that accept it", &Config::enable_thinking),
      BoolOption("search-mode", "SEARCH_MODE", "offer -search model variants (google_search tool)",
                 &Config::search_mode),
      {"search-prompt", "SEARCH_PROMPT", "TEXT", "user turn added for -search models",
       [](const Config& c) { return c.search_prompt; },
       [](Config& c, const std::string& v) {
         c.search_prompt = StripQuotes(v);
         return Status::Ok();
       }},
      {"max-retry-num", "MAX_RETRY_NUM", "N", "keys tried at most per request",
       [](const Config& c) { return std::to_string(c.max_retry_num); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 1, 100'000, &c.max_retry_num, "a count");
       }},
      {"max-empty-responses", "MAX_EMPTY_RESPONSES", "N",
       "empty answers retried on other keys per request (0: passed on as they are)",
       [](const Config& c) { return std::to_string(c.max_empty_responses); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 0, 100'000, &c.max_empty_responses, "a count");
       }},
      BoolOption("random-string", "RANDOM_STRING",
                 "add two user turns of random characters (HAJIMI's disguise)",
                 &Config::random_string),
      {"random-string-length", "RANDOM_STRING_LENGTH", "N", "characters per disguise turn",
       [](const Config& c) { return std::to_string(c.random_string_length); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 1, 4096, &c.random_string_length, "a length");
       }},
      {"concurrent-requests", "CONCURRENT_REQUESTS", "N",
       "keys tried at once per request (not for real streaming)",
       [](const Config& c) { return std::to_string(c.concurrent_requests); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 1, 1000, &c.concurrent_requests, "a count");
       }},
      {"increase-concurrent-on-failure", "INCREASE_CONCURRENT_ON_FAILURE", "N",
       "added to the keys tried at once after a whole batch failed",
       [](const Config& c) { return std::to_string(c.increase_concurrent_on_failure); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 0, 1000, &c.increase_concurrent_on_failure, "a count");
       }},
      {"max-concurrent-requests", "MAX_CONCURRENT_REQUESTS", "N", "ceiling of keys tried at once",
       [](const Config& c) { return std::to_string(c.max_concurrent_requests); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 1, 1000, &c.max_concurrent_requests, "a count");
       }},
      {"cache-expiry-time", "CACHE_EXPIRY_TIME", "DURATION",
       "how long an unused fan-out answer stays cached (seconds)",
       [](const Config& c) { return FormatMillis(c.cache_expiry_time_ms); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseDurationMillis(v), 1, 4'000'000'000ull, &c.cache_expiry_time_ms,
                           "a duration");
       }},
      {"max-cache-entries", "MAX_CACHE_ENTRIES", "N", "cached answers kept at most",
       [](const Config& c) { return std::to_string(c.max_cache_entries); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 1, 10'000'000, &c.max_cache_entries, "a count");
       }},
      {"calculate-cache-entries", "CALCULATE_CACHE_ENTRIES", "N",
       "trailing messages that make a request's cache key",
       [](const Config& c) { return std::to_string(c.calculate_cache_entries); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 0, 65'536, &c.calculate_cache_entries, "a count");
       }},
      BoolOption("precise-cache", "PRECISE_CACHE", "the cache key covers every message",
                 &Config::precise_cache),
      BoolOption(
          "public-mode", "PUBLIC_MODE",
          "true: no request coalescing (identical plain non-stream requests in flight share one "
          "upstream call)",
          &Config::public_mode),
      {"api-key-daily-limit", "API_KEY_DAILY_LIMIT", "N",
       "successful calls per key per day before it is used only as a last resort (0: no limit)",
       [](const Config& c) { return std::to_string(c.api_key_daily_limit); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 0, 1'000'000'000, &c.api_key_daily_limit, "a count");
       }},
      {"max-requests-per-minute", "MAX_REQUESTS_PER_MINUTE", "N",
       "chat requests per client IP and clock minute; then 429 (0: no limit)",
       [](const Config& c) { return std::to_string(c.max_requests_per_minute); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 0, 1'000'000'000, &c.max_requests_per_minute,
                           "a count");
       }},
      {"max-requests-per-day-per-ip", "MAX_REQUESTS_PER_DAY_PER_IP", "N",
       "chat requests per client IP and UTC day; then 429 (0: no limit)",
       [](const Config& c) { return std::to_string(c.max_requests_per_day_per_ip); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 0, 1'000'000'000, &c.max_requests_per_day_per_ip,
                           "a count");
       }},
      {"trusted-proxies", "TRUSTED_PROXIES", "ADDR[/BITS][,...]",
       "proxies whose X-Forwarded-For names the client IP; empty: the peer is the client",
       [](const Config& c) {
         return c.trusted_proxies.empty() ? std::string("none") : c.trusted_proxies;
       },
       [](Config& c, const std::string& v) {
         Result<TrustedProxies> parsed = TrustedProxies::Parse(v);
         if (!parsed)
           return parsed.status();
         c.trusted_proxies = v;
         return Status::Ok();
       }},
      StringOption("invalid-api-keys", "INVALID_API_KEYS", "KEY[,KEY]",
                   "keys known to be invalid: never used", &Config::invalid_api_keys),
      BoolOption("skip-check-api-key", "SKIP_CHECK_API_KEY",
                 "do not check the keys at start-up (else rejected keys leave the rotation)",
                 &Config::skip_check_api_key),
      {"key-check-concurrency", "KEY_CHECK_CONCURRENCY", "N",
       "key-check requests in flight at once",
       [](const Config& c) { return std::to_string(c.key_check_concurrency); },
       [](Config& c, const std::string& v) {
         return ApplyRange(ParseUnsigned(v), 1, 1'000, &c.key_check_concurrency, "a count");
       }},
      StringOption("extra-models", "EXTRA_MODELS", "MODEL[,MODEL]", "models added to the list",
                   &Config::extra_models),
      StringOption("blocked-models", "BLOCKED_MODELS", "MODEL[,MODEL]", "models hidden and refused",
                   &Config::blocked_models),
      StringOption("whitelist-models", "WHITELIST_MODELS", "MODEL[,MODEL]",
                   "if set, only these models are listed and served", &Config::whitelist_models),
      BoolOption("enable-storage", "ENABLE_STORAGE",
                 "keep settings, key health and daily usage in STORAGE_DIR across restarts",
                 &Config::enable_storage),
      {"storage-dir", "STORAGE_DIR", "PATH", "directory of settings.json and ringgate-state.json",
       [](const Config& c) { return c.storage_dir; },
       [](Config& c, const std::string& v) {
         if (v.empty())
           return Status::Error("expected a directory");
         c.storage_dir = v;
         return Status::Ok();
       }},
      {"log-level", "LOG_LEVEL", "LEVEL", "debug, info, warning or error",
       [](const Config& c) { return c.log_level; },
       [](Config& c, const std::string& v) {
         std::string level = Lower(v);
         if (level != "debug" && level != "info" && level != "warning" && level != "warn" &&
             level != "error") {
           return Status::Error("expected debug, info, warning or error");
         }
         c.log_level = level;
         return Status::Ok();
       }},
      {"log-format", "LOG_FORMAT", "FORMAT", "json (one object per line) or text",
       [](const Config& c) { return c.log_format; },
       [](Config& c, const std::string& v) {
         std::string format = Lower(v);
         if (format != "json" && format != "text")
           return Status::Error("expected json or text");
         c.log_format = format;
         return Status::Ok();
       }},
      BoolOption("access-log", "ACCESS_LOG", "one log line per request", &Config::access_log),
      {"metrics-token", "METRICS_TOKEN", "TEXT",
       "bearer token that may read /metrics besides the web password",
       [](const Config& c) { return std::string(c.metrics_token.empty() ? "none" : "set"); },
       [](Config& c, const std::string& v) {
         c.metrics_token = v;
         return Status::Ok();
       }},
  };
  return options;
}

size_t FindOption(std::string_view flag) {
  const std::vector<OptionSpec>& options = Options();
  for (size_t i = 0; i < options.size(); ++i) {
    if (flag == options[i].flag)
      return i;
  }
  return 0;
}

Status ApplyOption(const OptionSpec& spec, Config& config, const std::string& value,
                   bool from_env) {
  Status s = spec.apply(config, value);
  if (s.ok())
    return s;
  std::string source =
      from_env ? std::string("environment variable ") + spec.env : std::string("--") + spec.flag;
  return Status::Error("invalid value '" + value + "' for " + source + ": " + s.message());
}

}  // namespace

Result<uint64_t> ParseDurationMillis(const std::string& text) {
  // HAJIMI's intervals are float seconds ("0.5"): a bare decimal is seconds too.
  size_t dot = text.find('.');
  if (dot != std::string::npos && dot > 0 && dot + 1 < text.size() && dot + 4 >= text.size() &&
      text.find_first_not_of("0123456789.") == std::string::npos &&
      text.find('.', dot + 1) == std::string::npos) {
    Result<uint64_t> whole = ParseUnsigned(text.substr(0, dot));
    std::string fraction = text.substr(dot + 1);
    while (fraction.size() < 3)
      fraction += '0';
    Result<uint64_t> millis = ParseUnsigned(fraction);
    if (!whole || !millis || *whole > UINT64_MAX / 1000 - 1000) {
      return Status::Error("expected a duration such as 500ms, 1.5, 15s or 2m");
    }
    return *whole * 1000 + *millis;
  }
  Result<std::pair<uint64_t, std::string>> split = SplitNumberSuffix(text);
  if (!split)
    return Status::Error("expected a duration such as 500ms, 15s or 2m");
  auto [n, suffix] = *split;
  uint64_t scale;
  if (suffix.empty() || suffix == "s") {
    scale = 1000;
  } else if (suffix == "ms") {
    scale = 1;
  } else if (suffix == "m" || suffix == "min") {
    scale = 60'000;
  } else if (suffix == "h") {
    scale = 3'600'000;
  } else {
    return Status::Error("expected a duration such as 500ms, 15s or 2m");
  }
  if (n > UINT64_MAX / scale)
    return Status::Error("duration too large");
  return n * scale;
}

Result<uint64_t> ParseByteSize(const std::string& text) {
  Result<std::pair<uint64_t, std::string>> split = SplitNumberSuffix(text);
  if (!split)
    return Status::Error("expected a size such as 65536, 64KiB or 32MiB");
  auto [n, suffix] = *split;
  uint64_t scale;
  if (suffix.empty() || suffix == "b") {
    scale = 1;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    scale = 1024;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    scale = 1024 * 1024;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    scale = 1024 * 1024 * 1024;
  } else {
    return Status::Error("expected a size such as 65536, 64KiB or 32MiB");
  }
  if (n > UINT64_MAX / scale)
    return Status::Error("size too large");
  return n * scale;
}

Result<std::vector<ListenAddress>> ParseListenList(const std::string& text) {
  std::vector<ListenAddress> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    ListenAddress address;
    size_t colon;
    if (!item.empty() && item.front() == '[') {
      size_t close = item.find(']');
      if (close == std::string::npos || close + 1 >= item.size() || item[close + 1] != ':') {
        return Status::Error("expected [IPV6]:PORT");
      }
      address.host = item.substr(1, close - 1);
      colon = close + 1;
    } else {
      colon = item.rfind(':');
      if (colon == std::string::npos)
        return Status::Error("expected HOST:PORT, e.g. 0.0.0.0:7860");
      address.host = item.substr(0, colon);
      if (address.host.find(':') != std::string::npos) {
        return Status::Error("write IPv6 addresses in brackets, e.g. [::1]:7860");
      }
    }
    if (address.host.empty())
      return Status::Error("expected HOST:PORT, e.g. 0.0.0.0:7860");
    Result<uint64_t> port = ParseUnsigned(item.substr(colon + 1));
    if (!port || *port > 65535)
      return Status::Error("expected a port between 0 and 65535");
    address.port = static_cast<uint16_t>(*port);
    out.push_back(std::move(address));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

Result<Config> ParseConfig(int argc, const char* const* argv, const char* const* env,
                           bool* help_requested) {
  Config config;
  *help_requested = false;
  const std::vector<OptionSpec>& options = Options();
  for (const char* const* e = env; e != nullptr && *e != nullptr; ++e) {
    // curl's lower-case spellings; the upper-case variables, read below, win.
    std::string_view entry(*e);
    if (entry.rfind("https_proxy=", 0) == 0) {
      Status s = ApplyOption(options[FindOption("https-proxy")], config,
                             std::string(entry.substr(12)), true);
      if (!s.ok())
        return s;
    } else if (entry.rfind("no_proxy=", 0) == 0) {
      config.no_proxy = std::string(entry.substr(9));
    }
  }
  for (const char* const* e = env; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos)
      continue;
    std::string_view name = entry.substr(0, eq);
    for (const OptionSpec& spec : options) {
      if (name == spec.env) {
        Status s = ApplyOption(spec, config, std::string(entry.substr(eq + 1)), true);
        if (!s.ok())
          return s;
      }
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "--help" || arg == "-h") {
      *help_requested = true;
      return config;
    }
    if (arg.substr(0, 2) != "--") {
      return Status::Error("unexpected argument '" + std::string(arg) + "'; see --help");
    }
    std::string_view name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
      has_value = true;
    }
    const OptionSpec* match = nullptr;
    for (const OptionSpec& spec : options) {
      if (name == spec.flag)
        match = &spec;
    }
    if (match == nullptr) {
      return Status::Error("unknown option '--" + std::string(name) + "'; see --help");
    }
    if (!has_value) {
      if (i + 1 >= argc)
        return Status::Error("option --" + std::string(name) + " needs a value");
      value = argv[++i];
    }
    Status s = ApplyOption(*match, config, value, false);
    if (!s.ok())
      return s;
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return Status::Error("--tls-cert and --tls-key (TLS_CERT_FILE, TLS_KEY_FILE) go together");
  }
  return config;
}

namespace {

const OptionSpec* FindOptionByEnv(std::string_view env_name) {
  for (const OptionSpec& spec : Options()) {
    if (env_name == spec.env)
      return &spec;
  }
  return nullptr;
}

}  // namespace

Status SetConfigOption(Config& config, std::string_view env_name, const std::string& value) {
  const OptionSpec* spec = FindOptionByEnv(env_name);
  if (spec == nullptr)
    return Status::Error("unknown setting " + std::string(env_name));
  Status s = spec->apply(config, value);
  if (s.ok())
    return s;
  return Status::Error("invalid value '" + value + "' for " + spec->env + ": " + s.message());
}

bool IsConfigOption(std::string_view env_name) {
  return FindOptionByEnv(env_name) != nullptr;
}

bool ConfigFlagGiven(int argc, const char* const* argv, std::string_view env_name) {
  const OptionSpec* spec = FindOptionByEnv(env_name);
  if (spec == nullptr)
    return false;
  std::string flag = std::string("--") + spec->flag;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "--help" || arg == "-h")
      return false;
    if (arg == flag || (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag &&
                        arg[flag.size()] == '=')) {
      return true;
    }
  }
  return false;
}

std::string ConfigHelpText() {
  std::string out =
      "ringgate: a Gemini API gateway\n\n"
      "Usage: ringgate [--option VALUE]...\n\n"
      "Each option may also be set by its environment variable; a flag wins over the "
      "environment.\n\n";
  Config defaults;
  for (const OptionSpec& spec : Options()) {
    std::string left = std::string("  --") + spec.flag + " " + spec.value_hint;
    out += left;
    out += std::string(left.size() < 44 ? 44 - left.size() : 1, ' ');
    out += std::string("env ") + spec.env + "\n      " + spec.help +
           " (default: " + spec.show_default(defaults) + ")\n";
  }
  out += "  --help                                    print this text\n";
  return out;
}

}  // namespace ringgate
