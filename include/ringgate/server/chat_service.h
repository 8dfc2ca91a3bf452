// ChatService: one core's OpenAI-compatible chat completions and model list over Gemini.
//
//   POST /v1/chat/completions, /chat/completions, /aistudio/chat/completions
//   GET  /v1/models, /models, /aistudio/models
//
// A chat request is authenticated (PASSWORD, User-Agent list, CORS), counted against its client
// IP's rate limits (MAX_REQUESTS_PER_MINUTE, MAX_REQUESTS_PER_DAY_PER_IP, TRUSTED_PROXIES; 429
// past them; the cores exchange their counts every 250 ms), translated to a Gemini request,
// checked against the model lists, then served in one of four ways:
//
//   stream, FAKE_STREAMING=false   streamGenerateContent; every upstream SSE event is transcoded
//                                  into OpenAI chunks straight into the client's output buffer
//   stream, FAKE_STREAMING=true    generateContent; keep-alive chunks every interval, then the
//                                  whole answer as one chunk and [DONE]
//   non-stream, keep-alive on      generateContent; a newline every interval, then the JSON
//   non-stream, keep-alive off     generateContent; the JSON
//
// The 200 head is committed only when the first keep-alive is due or the first streamed byte is
// ready, so an upstream error that comes quickly (bad key, quota, bad request) still reaches the
// client with its real status. After that, errors travel in-band.
//
// HAJIMI's request features (hajimi-behaviour.md 7.1, 8.1, 10):
//   * RANDOM_STRING: two user turns of RANDOM_STRING_LENGTH random [A-Za-z0-9] characters (index
//     1 and before the last turn), fresh per request from a per-core PRNG.
//   * MAX_EMPTY_RESPONSES: an answer without text or tool call (blocked prompt, thoughts only) is
//     retried on another key; when the budget is spent the client gets 502 "empty_response" (an
//     OpenAI error instead of HAJIMI's 200 with a role "error" message, like every other final
//     failure here). Real streaming never retries empties, as HAJIMI.
//   * Fan-out (non-stream and fake-stream): CONCURRENT_REQUESTS keys at once, raised by
//     INCREASE_CONCURRENT_ON_FAILURE after a failed batch up to MAX_CONCURRENT_REQUESTS; the
//     first answer wins, the others go to the response cache. Real streaming: one key at a time.
//   * Response cache: a request whose fingerprint has a cached answer is served from it without
//     an upstream call (single use). Fingerprint F's answers live on core OwnerCore(F): other
//     cores put and take them with core messages (a take waits for the owner's reply before
//     going upstream). The cache's fingerprints are used only when fan-out is configured.
//   * Request coalescing (10.4), unless PUBLIC_MODE: a plain non-stream request (keep-alive off,
//     the only handler whose coalescing has an effect in HAJIMI) whose fingerprint matches a
//     running plain request's waits for that leader's Gemini answer and gets its own translation
//     of it, with no upstream call. The in-flight table for F lives on OwnerCore(F) too, so
//     identical requests meet whichever core takes them (a remote core costs one message each
//     way). A leader that fails lets its followers go upstream on their own; a leader whose
//     client leaves hands the lead to the oldest follower; a follower waits at most 240 s
//     (HAJIMI), then goes upstream alone.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "ringgate/admin/call_stats.h"
#include "ringgate/admin/settings_registry.h"
#include "ringgate/cache/fingerprint.h"
#include "ringgate/cache/inflight.h"
#include "ringgate/cache/response_cache.h"
#include "ringgate/common/mask.h"
#include "ringgate/config/config.h"
#include "ringgate/http/router.h"
#include "ringgate/io/timer_wheel.h"
#include "ringgate/keys/health_event.h"
#include "ringgate/keys/key_pool.h"
#include "ringgate/keys/throttle.h"
#include "ringgate/keys/upstream_verdict.h"
#include "ringgate/policy/access.h"
#include "ringgate/policy/rate_limit.h"
#include "ringgate/translate/chat_request.h"
#include "ringgate/translate/models.h"

namespace ringgate {

class ChatExchange;
class KeyValidator;
class ModelFetcher;
class Shard;
class UpstreamPool;

struct ChatSettings {
  uint32_t max_retry_num = 15;
  uint32_t api_key_daily_limit = 100;
  bool fake_streaming = true;
  uint32_t fake_streaming_interval_ms = 1000;
  bool nonstream_keepalive = true;
  uint32_t nonstream_keepalive_interval_ms = 5000;
  bool enable_thinking = true;
  bool search_mode = false;
  std::string search_prompt;
  uint32_t max_empty_responses = 5;
  bool random_string = true;
  uint32_t random_string_length = 5;
  uint32_t concurrent_requests = 1;
  uint32_t increase_concurrent_on_failure = 0;
  uint32_t max_concurrent_requests = 3;
  CacheSettings cache;  // all cores together; each core holds its ForShard part
  int calculate_cache_entries = 6;
  bool precise_cache = false;
  bool coalesce = true;  // !PUBLIC_MODE
  uint32_t model_refresh_ms = 3'600'000;
  uint32_t model_retry_ms = 30'000;
  bool skip_check_api_key = false;
  uint32_t key_check_concurrency = 8;
};

ChatSettings ChatSettingsFromConfig(const Config& config);

class ChatService {
 public:
  ChatService(Shard& shard, UpstreamPool& upstream, const Config& config);
  ~ChatService();
  ChatService(const ChatService&) = delete;
  ChatService& operator=(const ChatService&) = delete;

  void InstallRoutes(Router& router);
  // Fetches the model list now and on every refresh interval (only with a key); core 0 also
  // checks every key in the background unless SKIP_CHECK_API_KEY.
  void Start();
  // Counts the successful answers of this loop iteration, then frees the exchanges that finished
  // during it.
  void OnLoopEnd();

  // ---- Keys ----
  KeyPoolShard& keys() { return keys_; }
  // The key check (start-up and "test all keys"); it runs on core 0.
  KeyValidator& key_validator() { return *validator_; }
  bool has_keys() const { return keys_.ActiveCount() > 0; }
  // Learns from one upstream answer: health events for this core and every other, and the
  // server-wide throttle detector.
  void OnVerdict(const UpstreamVerdict& verdict, uint32_t key, std::string_view model);
  // Applies a health event here and sends it to every other core.
  void PublishHealth(const HealthEvent& event);
  // A health event from another core.
  void ApplyRemoteHealth(const HealthEvent& event) { keys_.Apply(event); }

  // A successful upstream answer: usage per key and model, and the minute statistics. The per-key
  // counters (and the throttle detector's record of the answer, see OnVerdict) are updated at the
  // end of the loop iteration, all of the iteration's answers together: with thousands of keys
  // each answer's counters are cold, and fetched together their cache misses overlap instead of
  // stalling each answer in turn. The soft daily limit sees a call at most one iteration late.
  void RecordSuccessfulCall(uint32_t key, std::string_view model, uint64_t tokens);

  // ---- For the dashboard (AdminService) ----
  // The dashboard's settings, from core 0's broadcast: taken by the next request on this core.
  void ApplyRuntimeSettings(const RuntimeSettings& values);
  // Keys added on the dashboard: every core adds the same list in the same order (core 0
  // broadcasts it), so key indices stay the same everywhere. Fetches the model list if this core
  // has none yet.
  void AddKeys(std::span<const std::string> keys);
  CallStats& call_stats() { return call_stats_; }
  const ModelCatalog& catalog() const { return catalog_; }
  const ModelListSettings& list_settings() const { return list_settings_; }

  // ---- Rate limits ----
  // Another core's per-IP counts since its previous exchange.
  void MergeRateDeltas(const RateDeltaBatch& batch) { limiter_.Merge(batch); }
  const RateLimiter& limiter() const { return limiter_; }

  // ---- For exchanges and the model fetcher ----
  Shard& shard() { return shard_; }
  UpstreamPool& upstream() { return upstream_; }
  const ChatSettings& settings() const { return settings_; }
  // ---- The response cache (fan-out answers kept for a regenerate request) ----
  // Fingerprint F's answers live on core OwnerCore(F); other cores ask it with core messages.
  enum class CacheLookup { kHit, kMiss, kAsked };
  // kHit: *answer is the cached Gemini answer (removed from the cache). kAsked: the owner core was
  // asked; exchange->OnCacheReply follows unless ForgetCacheLookUp(*token) is called first.
  CacheLookup LookUpCache(ChatExchange* exchange, Fingerprint fingerprint, std::string* answer,
                          uint64_t* token);
  void ForgetCacheLookUp(uint64_t token);
  // Stores an answer on the owner core.
  void PutCached(Fingerprint fingerprint, std::string answer);
  // Core messages: another core's question to this owner, and the owner's reply.
  void OnRemoteCacheTake(const CacheTake& take);
  void OnCacheTakeReply(CacheTakeReply reply, Fingerprint fingerprint);
  ResponseCacheShard& cache() { return cache_; }

  // ---- Request coalescing: fingerprint F's in-flight entry lives on core OwnerCore(F) ----
  enum class InFlightStart { kLeader, kFollower, kBypass, kAsked };
  // Registers `exchange` under *token (fresh). kLeader/kFollower: the exchange must later call
  // LeaderDone / FollowerGone (or ForgetInFlight when it never learnt its role); kAsked: the
  // owner core answers with exchange->OnInFlightRole.
  InFlightStart RegisterInFlight(ChatExchange* exchange, Fingerprint fingerprint, uint64_t* token);
  // The leader finished: with its Gemini answer for the followers (copied only when someone
  // waits or the owner is another core), or failed (null), or its client went away (`cancelled`).
  void LeaderDone(Fingerprint fingerprint, uint64_t token, const std::string* answer,
                  bool cancelled);
  void FollowerGone(Fingerprint fingerprint, uint64_t token);
  // Drops the token: whatever arrives for it later is handed back (a lead is given up).
  void ForgetInFlight(uint64_t token) { inflight_waiters_.erase(token); }
  // Core messages.
  void OnRemoteInFlightRegister(const InFlightRegister& msg);
  void OnInFlightRegisterReply(const InFlightRegisterReply& reply);
  void OnRemoteInFlightDone(const InFlightDone& done);
  void OnRemoteFollowerGone(Fingerprint fingerprint, WaiterId who);
  void OnInFlightWake(InFlightWake wake);
  const InFlightTable& inflight() const { return inflight_; }
  void Retire(ChatExchange* exchange);
  void OnModelsFetched(ModelCatalog catalog);
  void OnModelsFailed(const std::string& why);

 private:
  void HandleChat(HttpRequest& request, Responder& responder);
  void HandleModels(HttpRequest& request, Responder& responder);
  void HandlePreflight(HttpRequest& request, Responder& responder);
  // Auth and CORS; false when the request was answered (refused).
  bool Admit(const HttpRequest& request, Responder& responder, std::string* cors);
  // Counts the request against its client IP; false when it was answered 429.
  bool AdmitRate(const HttpRequest& request, Responder& responder, const std::string& cors);
  // Sends this core's new per-IP counts to every other core (from the usage timer).
  void PublishRateDeltas();
  ChatExchange* Acquire();
  void OnUsageTimer();
  // Fresh RANDOM_STRING disguise strings into translate_options_.
  void NewDisguise();
  uint64_t NextRandom();
  std::optional<Fingerprint> CacheKey(std::string_view body, bool coalesce);
  bool FanOut() const;
  // Each wake to its waiter's core.
  void DeliverWakes(std::vector<InFlightWake>& wakes);

  Shard& shard_;
  UpstreamPool& upstream_;
  ChatSettings settings_;
  AccessPolicy access_;
  ModelListSettings list_settings_;
  ModelCatalog catalog_;
  ChatRequestTranslator translator_;
  ChatTranslateOptions translate_options_;
  std::unique_ptr<ModelFetcher> fetcher_;
  std::unique_ptr<KeyValidator> validator_;
  Timer refresh_timer_;
  KeyPoolShard keys_;
  IpThrottleDetector throttle_;
  Timer usage_timer_;
  std::vector<HealthEvent> usage_events_;
  // This iteration's successful answers, counted at its end (RecordSuccessfulCall).
  struct AnsweredCall {
    uint32_t key;
    ModelId model;
    uint64_t tokens;
  };
  std::vector<AnsweredCall> answered_calls_;
  std::vector<uint32_t> answered_keys_;  // successes for the throttle detector (OnVerdict)
  void CountAnswers();
  TrustedProxies trusted_proxies_;
  RateLimiter limiter_;
  std::vector<std::unique_ptr<ChatExchange>> exchanges_;  // every exchange object, reused
  std::vector<ChatExchange*> free_;
  std::vector<ChatExchange*> retired_;  // finished this iteration; free at its end
  ResponseCacheShard cache_;
  std::unordered_map<uint64_t, ChatExchange*> cache_waiters_;  // LookUpCache questions out
  uint64_t last_cache_token_ = 0;
  InFlightTable inflight_;                                        // the fingerprints this core owns
  std::unordered_map<uint64_t, ChatExchange*> inflight_waiters_;  // this core's registered
  uint64_t last_inflight_token_ = 0;
  uint64_t random_state_;
  std::string disguise_first_;
  std::string disguise_last_;
  CallStats call_stats_;
};

}  // namespace ringgate
