// Config: every setting of the process in one struct, with its default and what it costs.
// Filled from environment variables, then from command-line flags (flags win).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/common/result.h"

namespace ringgate {

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6 (without brackets), or "localhost"
  uint16_t port = 0;  // 0 asks the kernel for a free port
};

struct Config {
  // ---- Where and how much ----

  // Addresses to listen on (`--listen`, env LISTEN), comma-separated HOST:PORT; IPv6 as
  // [::1]:7860. 7860 is the port HAJIMI users already point their clients at.
  std::vector<ListenAddress> listen = {{"0.0.0.0", 7860}};

  // Reactor threads, one per CPU, each pinned (`--threads`, env THREADS). 0 means one per CPU
  // this process may run on. More threads than CPUs only adds context switches.
  int threads = 0;

  // Serve HTTPS instead of HTTP: PEM certificate chain and key (`--tls-cert`/`--tls-key`, env
  // TLS_CERT_FILE / TLS_KEY_FILE). Both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;

  // ---- Limits on what a client may send (each violation gets its own status) ----

  // Bytes of request line plus headers (431 past it). Bounds the memory one slow client can pin.
  uint32_t max_header_bytes = 64 * 1024;

  // Bytes of request body (413 past it). Images arrive base64-encoded inside chat bodies, so this
  // is generous; each request in flight may hold up to this much.
  uint64_t max_body_bytes = 32ull * 1024 * 1024;

  // Time allowed from a request's first byte to the end of its headers (408 past it), and the
  // longest silence allowed while a body is arriving. Cuts off slowloris-style clients.
  uint32_t header_timeout_ms = 15'000;

  // Time an idle keep-alive connection is kept open between requests. Idle connections cost only
  // a few hundred bytes (no receive buffer), so this can be long.
  uint32_t idle_timeout_ms = 60'000;

  // Open client connections per reactor thread; a connection past it gets 503 and is closed.
  uint32_t max_connections_per_core = 16'384;

  // ---- Upstream (Google's API, or a local gateway / the fake) ----

  // Gemini API keys, comma-separated (env GEMINI_API_KEYS), as HAJIMI reads them. Without
  // keys ringgate makes no upstream call, so it does not even resolve the upstream's name.
  std::string gemini_api_keys;

  // Base URL of the Gemini API (`--gemini-base-url`, env GEMINI_BASE_URL); http:// is allowed
  // for local gateways and tests.
  std::string gemini_base_url = "https://generativelanguage.googleapis.com";

  // Extra PEM CA file trusted for the upstream on top of the system bundle (env
  // UPSTREAM_CA_FILE): for a local gateway with its own CA, and for tests.
  std::string upstream_ca_file;

  // HTTP CONNECT proxy for upstream connections (env HTTPS_PROXY or https_proxy), optionally
  // with user:password@. Many users reach Google only through one. NO_PROXY / no_proxy lists
  // hosts that bypass it.
  std::string https_proxy;
  std::string no_proxy;

  // Upstream timeouts. The first-byte wait is long because models think (HAJIMI uses 600 s).
  uint32_t upstream_connect_timeout_ms = 10'000;
  uint32_t upstream_tls_timeout_ms = 10'000;
  uint32_t upstream_first_byte_timeout_ms = 600'000;
  // Longest silence inside a response that has started (between stream events).
  uint32_t upstream_idle_timeout_ms = 300'000;

  // Idle keep-alive upstream connections kept per core, and how long one may stay idle.
  uint32_t upstream_max_idle = 64;
  uint32_t upstream_idle_age_ms = 50'000;

  // ---- HAJIMI's client-facing settings (same names, same defaults) ----

  // Password clients send as x-goog-api-key, ?key= or Authorization: Bearer (env PASSWORD).
  std::string password = "123";
  // Password of the dashboard and its admin API (env WEB_PASSWORD, HAJIMI's name); empty means
  // the value of PASSWORD, as in HAJIMI.
  std::string web_password;
  // Serve the dashboard at /{DASHBOARD_URL} instead of / (HAJIMI); surrounding slashes ignored.
  std::string dashboard_url;
  // Client User-Agent allow-list, comma-separated; empty allows every client.
  std::string whitelist_user_agent;
  // CORS allow-list of origins, comma-separated ("*" for any); empty turns CORS off.
  std::string allowed_origins;
  // stream=true answered from a non-stream upstream call with keep-alive chunks meanwhile.
  bool fake_streaming = true;
  uint32_t fake_streaming_interval_ms = 1'000;
  // stream=false answered 200 at once with a newline every interval until the JSON is ready.
  bool nonstream_keepalive_enabled = true;
  uint32_t nonstream_keepalive_interval_ms = 5'000;
  // Send thinkingConfig to the models that accept it.
  bool enable_thinking = true;
  // "-search" model variants that add the google_search tool.
  bool search_mode = false;
  std::string search_prompt = "（使用搜索工具联网搜索，需要在content中结合搜索内容）";
  // Keys tried at most per request (HAJIMI's MAX_RETRY_NUM), counted exactly.
  uint32_t max_retry_num = 15;
  // 200 answers without text or tool call (a blocked prompt, thoughts only) retried on other keys
  // at most this many times per request; 0: an empty answer is passed on as it is.
  uint32_t max_empty_responses = 5;
  // Disguise user turns of random [A-Za-z0-9] characters at index 1 and before the last turn.
  bool random_string = true;
  uint32_t random_string_length = 5;
  // Upstream fan-out per request (non-stream and fake-stream): keys tried at once, the step added
  // after a whole batch failed, and the ceiling.
  uint32_t concurrent_requests = 1;
  uint32_t increase_concurrent_on_failure = 0;
  uint32_t max_concurrent_requests = 3;
  // Response cache of the answers fan-out did not need (served once to a regenerate request).
  uint32_t cache_expiry_time_ms = 21'600'000;
  uint32_t max_cache_entries = 500;
  uint32_t calculate_cache_entries = 6;
  bool precise_cache = false;
  // HAJIMI: disables request coalescing (identical plain non-stream requests in flight share one
  // upstream answer; ChatService).
  bool public_mode = false;
  // Successful calls per key per day before the key is used only when every other is over it
  // (soft, as HAJIMI); 0 turns the limit off.
  uint32_t api_key_daily_limit = 100;
  // Requests per client IP on the chat routes (model lists, health and admin are not limited):
  // at most this many per clock minute and per UTC day; 0 turns that limit off.
  uint32_t max_requests_per_minute = 30;
  uint32_t max_requests_per_day_per_ip = 600;
  // Peers whose X-Forwarded-For is believed when finding the client IP (comma list of addresses
  // and CIDRs); empty: the socket peer is the client.
  std::string trusted_proxies;
  // Keys known to be invalid (comma-separated): never in rotation.
  std::string invalid_api_keys;
  // Skip the start-up key check (HAJIMI's SKIP_CHECK_API_KEY): otherwise every key is checked
  // with a models.list call in the background and the ones Google rejects leave the rotation.
  bool skip_check_api_key = false;
  // Key-check requests in flight at once.
  uint32_t key_check_concurrency = 8;
  // Model list edits, comma-separated.
  std::string extra_models;
  std::string blocked_models;
  std::string whitelist_models;

  // ---- Lifecycle ----

  // On SIGTERM/SIGINT, how long in-flight requests may take to finish before connections are cut.
  uint32_t drain_timeout_ms = 10'000;

  // Minimum level of log lines written to stderr: debug, info, warning, error (env LOG_LEVEL).
  std::string log_level = "info";
  // Log lines as one JSON object each ("json") or as human text ("text") (env LOG_FORMAT).
  std::string log_format = "json";
  // One log line per request: method, path (no query), status, bytes, duration, client IP, core
  // (env ACCESS_LOG). Off by default: at info level it costs a write(2) per request.
  bool access_log = false;

  // ---- Metrics ----

  // Bearer token that may read GET /metrics besides the web password (env METRICS_TOKEN), so a
  // Prometheus server needs no dashboard password. Empty: only the web password.
  std::string metrics_token;

  // ---- Persistence (HAJIMI's names and defaults; docs/storage.md) ----

  // Keep settings (settings.json, HAJIMI's layout), key health and daily usage
  // (ringgate-state.json) in storage_dir, so that a restart loses nothing. Off: nothing is read or
  // written.
  bool enable_storage = false;
  std::string storage_dir = "/hajimi/settings/";
};

// Parses `env` (NAME=VALUE strings, e.g. environ) then `argv` into a Config. On a bad value or an
// unknown flag the Status holds one line saying what to change. `--help` sets *help_requested.
Result<Config> ParseConfig(int argc, const char* const* argv, const char* const* env,
                           bool* help_requested);

// Sets the option read from environment variable `env_name` (e.g. "MAX_RETRY_NUM") from `value`,
// with the same parsing and validation as the environment gets. Error: unknown name or bad value
// (the message names the variable).
Status SetConfigOption(Config& config, std::string_view env_name, const std::string& value);

// Whether some option is read from environment variable `env_name`.
bool IsConfigOption(std::string_view env_name);

// Whether argv sets the option of environment variable `env_name` with its flag (--flag V or
// --flag=V): a flag given for this run wins over settings.json.
bool ConfigFlagGiven(int argc, const char* const* argv, std::string_view env_name);

// The text `ringgate --help` prints: every option, its environment variable and its default.
std::string ConfigHelpText();

// Parses "HOST:PORT[,HOST:PORT...]".
Result<std::vector<ListenAddress>> ParseListenList(const std::string& text);

// "500ms", "15s", "2m", "1h"; a bare number is seconds (as HAJIMI's settings are).
Result<uint64_t> ParseDurationMillis(const std::string& text);

// "65536", "64k", "64KiB", "32M", "32MiB", "1G".
Result<uint64_t> ParseByteSize(const std::string& text);

}  // namespace ringgate
