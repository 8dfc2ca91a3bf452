#include "ringgate/server/chat_service.h"

#include <simdjson.h>
#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>

#include "ringgate/cache/fingerprint.h"
#include "ringgate/common/clock.h"
#include "ringgate/common/log.h"
#include "ringgate/http/response.h"
#include "ringgate/json/json_writer.h"
#include "ringgate/keys/key_list.h"
#include "ringgate/keys/retry_budget.h"
#include "ringgate/net/resolver.h"
#include "ringgate/observe/metrics.h"
#include "ringgate/server/key_validator.h"
#include "ringgate/server/shard.h"
#include "ringgate/sse/sse_framer.h"
#include "ringgate/translate/chat_response.h"
#include "ringgate/translate/stream_transcoder.h"
#include "ringgate/upstream/upstream_pool.h"

namespace ringgate {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kEventStream = "text/event-stream";
constexpr size_t kMaxUpstreamBodyBytes = 64ull << 20;
constexpr size_t kMaxErrorBodyBytes = 1 << 20;
constexpr uint64_t kUsageTickMs = 250;

uint64_t RandomSeed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
    seed = MonotonicMicros();
  return seed;
}

// {"error":{"message":...,"type":...,"param":null,"code":...}}
std::string OpenAiError(std::string_view message, std::string_view type, std::string_view code,
                        std::string_view param = {}) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.Field("message", message);
  w.Field("type", type);
  w.Key("param");
  if (param.empty()) {
    w.Null();
  } else {
    w.String(param);
  }
  w.Field("code", code);
  w.EndObject();
  w.EndObject();
  return out;
}

// Gemini's {"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED",...}} as the
// client's OpenAI error, message masked.
std::string OpenAiErrorFromGemini(int status, std::string_view body) {
  std::string message;
  std::string code;
  simdjson::padded_string padded(body);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (!parser.iterate(padded).get(doc)) {
    simdjson::ondemand::object error;
    if (!doc["error"].get_object().get(error)) {
      for (auto field : error) {
        std::string_view key;
        if (field.unescaped_key().get(key))
          break;
        std::string_view value;
        if (key == "message" && !field.value().get_string().get(value))
          message = value;
        if (key == "status" && !field.value().get_string().get(value))
          code = value;
      }
    }
  }
  if (message.empty()) {
    message = "upstream answered HTTP " + std::to_string(status);
    if (!body.empty())
      message += ": " + std::string(body.substr(0, 200));
  }
  for (char& c : code)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (code.empty())
    code = "upstream_error";
  return OpenAiError(MaskApiKeys(message), ErrorTypeForStatus(status), code);
}

int StatusForUpstreamError(UpstreamErrorKind kind) {
  switch (kind) {
    case UpstreamErrorKind::kConnectTimeout:
    case UpstreamErrorKind::kTlsTimeout:
    case UpstreamErrorKind::kFirstByteTimeout:
    case UpstreamErrorKind::kIdleTimeout:
      return 504;
    default:
      return 502;
  }
}

}  // namespace

ChatSettings ChatSettingsFromConfig(const Config& config) {
  ChatSettings s;
  s.max_retry_num = config.max_retry_num;
  s.api_key_daily_limit = config.api_key_daily_limit;
  s.fake_streaming = config.fake_streaming;
  s.fake_streaming_interval_ms = config.fake_streaming_interval_ms;
  s.nonstream_keepalive = config.nonstream_keepalive_enabled;
  s.nonstream_keepalive_interval_ms = config.nonstream_keepalive_interval_ms;
  s.enable_thinking = config.enable_thinking;
  s.search_mode = config.search_mode;
  s.search_prompt = config.search_prompt;
  s.skip_check_api_key = config.skip_check_api_key;
  s.key_check_concurrency = config.key_check_concurrency;
  s.max_empty_responses = config.max_empty_responses;
  s.random_string = config.random_string;
  s.random_string_length = config.random_string_length;
  s.concurrent_requests = config.concurrent_requests;
  s.increase_concurrent_on_failure = config.increase_concurrent_on_failure;
  s.max_concurrent_requests = config.max_concurrent_requests;
  s.cache.ttl_ms = config.cache_expiry_time_ms;
  s.cache.max_entries = config.max_cache_entries;
  s.calculate_cache_entries = static_cast<int>(config.calculate_cache_entries);
  s.precise_cache = config.precise_cache;
  s.coalesce = !config.public_mode;
  return s;
}

// ---------------------------------------------------------------------------------------------
// One chat request in flight: its upstream tries, the client's deferred response, and the
// translation state between them.
//
// Tries run in batches (HAJIMI 8.1): in non-stream and fake-stream modes a batch is
// min(tries left, concurrency) distinct keys at once, each try a ChatAttempt of its own; the
// first non-empty answer goes to the client; tries still running keep going and their answers
// go to the response cache (for a regenerate request with the same fingerprint). A batch with no
// answer raises the concurrency by INCREASE_CONCURRENT_ON_FAILURE (up to
// MAX_CONCURRENT_REQUESTS). Real streaming tries one key at a time. The exchange is retired once
// the client has its answer and no try is running.

class ChatExchange;

// One upstream try with one key.
class ChatAttempt final : public UpstreamHandler {
 public:
  explicit ChatAttempt(ChatExchange* owner) : owner_(owner) {}

  void OnUpstreamHead(const HttpResponseHead& head) override;
  bool OnUpstreamBody(std::string_view piece) override;
  void OnUpstreamComplete() override;
  void OnUpstreamError(const UpstreamError& error) override;

  UpstreamExchange* upstream = nullptr;
  uint32_t key = 0;
  // The key's first characters, all a log line ever shows, kept when the try starts (its text is
  // in cache then): the answer arrives hundreds of microseconds later, when with thousands of
  // keys in rotation reading the text again would be a cache miss per request.
  char key_label[8] = {};
  uint8_t key_label_size = 0;
  int status = 0;
  std::string body;
  bool running = false;

 private:
  ChatExchange* owner_;
};

// An answer with neither text nor a tool call (no candidates: a blocked prompt; thoughts only;
// empty parts), HAJIMI's "empty" (7.4). An unreadable body is not empty: it fails later as such.
// `view` gets the parsed answer (valid while GeminiParseGeneration() stays as it was), `usage`
// its usageMetadata (zeros when it has none); false in *parsed when it could not be parsed.
static bool IsEmptyAnswer(const std::string& body, GeminiResponseView* view, GeminiUsage* usage,
                          bool* parsed) {
  // Parsed in place when the buffer has simdjson's padding to spare.
  *parsed = ParseGeminiResponse(body, body.capacity(), view).ok();
  if (!*parsed || view->is_error)
    return false;
  if (view->has_usage)
    *usage = view->usage;
  for (const GeminiPart& part : view->parts) {
    // Empty text parts are skipped by the parser.
    if (part.kind != GeminiPart::Kind::kThought)
      return false;
  }
  return true;
}

class ChatExchange final : public ResponseObserver {
 public:
  enum class Mode { kRealStream, kFakeStream, kKeepAlive, kPlain };

  explicit ChatExchange(ChatService* service) : service_(service) {
    keepalive_timer_.set_callback(
        [](Timer*, void* self) { static_cast<ChatExchange*>(self)->OnKeepAliveDue(); }, this);
  }

  // Filled by the translator before Begin; its buffers are reused from request to request.
  TranslatedChat& chat() { return chat_; }

  // `fingerprint`: the request's cache key (never for real streaming), used for the response
  // cache when `cache` and for coalescing when `coalesce` (plain mode only).
  void Begin(AsyncResponder* client, Mode mode, std::string cors,
             std::optional<Fingerprint> fingerprint, bool cache, bool coalesce) {
    client_ = client;
    mode_ = mode;
    retry_after_.clear();
    cors_ = std::move(cors);
    fingerprint_ = fingerprint;
    use_cache_ = cache && fingerprint_.has_value();
    coalesce_ = coalesce && fingerprint_.has_value();
    role_ = Role::kNone;
    inflight_token_ = 0;
    client_gone_ = false;
    answered_ = false;
    head_sent_ = false;
    finished_ = false;
    retired_ = false;
    failed_in_band_ = false;
    running_ = 0;
    empties_ = 0;
    stream_attempt_ = nullptr;
    cache_token_ = 0;
    upstream_started_us_ = 0;
    upstream_done_us_ = 0;
    if (mode_ == Mode::kRealStream || mode_ == Mode::kFakeStream) {
      StreamOptions options;
      options.model = chat_.requested_model;
      options.include_usage = chat_.include_usage;
      transcoder_.emplace(options);
      framer_.Reset();
    }
    const ChatSettings& settings = service_->settings();
    path_ = "/v1beta/models/";
    path_ += chat_.upstream_model;
    path_ += mode_ == Mode::kRealStream ? ":streamGenerateContent?alt=sse" : ":generateContent";
    budget_.emplace(settings.max_retry_num);
    tried_ = ExcludeSet();
    concurrency_ = mode_ == Mode::kRealStream ? 1 : std::max(settings.concurrent_requests, 1u);
    // A regenerate request: an answer an earlier fan-out did not need, without an upstream call.
    if (use_cache_) {
      switch (service_->LookUpCache(this, *fingerprint_, &cached_, &cache_token_)) {
        case ChatService::CacheLookup::kHit:
          metrics().cache_hits.Add();
          Answer(cached_);
          return;
        case ChatService::CacheLookup::kAsked:
          return;  // the owner core answers: OnCacheReply
        case ChatService::CacheLookup::kMiss:
          metrics().cache_misses.Add();
          break;
      }
    }
    AfterCacheMiss();
  }

  // The owner core's answer to LookUpCache's question.
  void OnCacheReply(bool hit, std::string answer) {
    cache_token_ = 0;
    (hit ? metrics().cache_hits : metrics().cache_misses).Add();
    if (hit) {
      cached_ = std::move(answer);
      Answer(cached_);
      return;
    }
    AfterCacheMiss();
  }

  // HAJIMI 10.4: after the cache, an identical request already running is waited for.
  void AfterCacheMiss() {
    if (coalesce_) {
      switch (service_->RegisterInFlight(this, *fingerprint_, &inflight_token_)) {
        case ChatService::InFlightStart::kLeader:
          role_ = Role::kLeader;
          break;
        case ChatService::InFlightStart::kFollower:
          role_ = Role::kFollower;
          return;  // OnInFlightWake follows
        case ChatService::InFlightStart::kAsked:
          role_ = Role::kAsking;
          return;  // OnInFlightRole follows
        case ChatService::InFlightStart::kBypass:
          break;
      }
    }
    GoUpstream();
  }

  // The owner core's answer to RegisterInFlight's question.
  void OnInFlightRole(InFlightRole role) {
    switch (role) {
      case InFlightRole::kLeader:
        role_ = Role::kLeader;
        GoUpstream();
        return;
      case InFlightRole::kFollower:
        role_ = Role::kFollower;
        return;
      case InFlightRole::kBypass:
        role_ = Role::kNone;
        GoUpstream();
        return;
    }
  }

  // A follower's news. With the leader's answer: served from it. Promoted (the leader's client
  // left): this request leads now. Otherwise (the leader failed, a wait ran out): it goes
  // upstream on its own, as HAJIMI drops a failed or timed-out task and continues.
  void OnInFlightWake(WakeReason reason, std::string answer) {
    if (finished_ || role_ != Role::kFollower)
      return;
    if (reason == WakeReason::kPromoted) {
      role_ = Role::kLeader;
      GoUpstream();
      return;
    }
    role_ = Role::kNone;
    if (reason == WakeReason::kAnswer) {
      metrics().coalesced.Add();
      cached_ = std::move(answer);
      Answer(cached_);
      return;
    }
    GoUpstream();
  }

  void GoUpstream() {
    const ChatSettings& settings = service_->settings();
    uint32_t interval = 0;
    if (mode_ == Mode::kFakeStream)
      interval = settings.fake_streaming_interval_ms;
    if (mode_ == Mode::kKeepAlive)
      interval = settings.nonstream_keepalive_interval_ms;
    keepalive_interval_ms_ = interval;
    // Armed before the first try: a request answered at once (no key to pick, every try failed
    // synchronously) cancels it in Finish instead of leaving it to fire on a reused exchange.
    if (interval > 0)
      ScheduleKeepAlive();
    StartBatch();
  }

  // The next batch of tries; false when not one could start (the answer is sent).
  bool StartBatch() {
    uint32_t size = budget_->BatchSize(concurrency_);
    uint32_t started = 0;
    while (started < size && StartAttempt(/*first=*/started == 0))
      ++started;
    if (started == 0) {
      RespondFinal();
      return false;
    }
    return true;
  }

  // One try with the next key the pool gives; false when there is none. Only the first try of a
  // batch records a failed pick: a batch smaller than asked for still runs.
  bool StartAttempt(bool first) {
    KeyPoolShard& keys = service_->keys();
    int64_t now = WallMillis();
    PickResult pick = keys.Pick(chat_.upstream_model, now, tried_);
    if (!pick.ok()) {
      if (first)
        budget_->RecordPickFailure(pick, now);
      return false;
    }
    if (!budget_->BeginAttempt(pick.key))
      return false;
    tried_.Insert(pick.key);
    ChatAttempt* attempt = IdleAttempt();
    attempt->key = pick.key;
    attempt->status = 0;
    if (parsed_body_ == &attempt->body)
      parsed_body_ = nullptr;
    attempt->body.clear();
    attempt->running = true;
    ++running_;
    if (mode_ == Mode::kRealStream)
      stream_attempt_ = attempt;
    UpstreamRequest request;
    request.path = path_;
    request.api_key = keys.key(pick.key);
    attempt->key_label_size =
        static_cast<uint8_t>(std::min(request.api_key.size(), sizeof(attempt->key_label)));
    memcpy(attempt->key_label, request.api_key.data(), attempt->key_label_size);
    request.body = chat_.gemini_body;
    request.max_body_bytes =
        mode_ == Mode::kRealStream ? ResponseParser::kNoBodyLimit : kMaxUpstreamBodyBytes;
    attempt->upstream = service_->upstream().Start(request, attempt);
    if (upstream_started_us_ == 0)
      upstream_started_us_ = MonotonicMicros();
    return true;
  }

  // A failed try: learn from it, then, once the whole batch is over, try the next keys while the
  // answer is still ours to give.
  void OnFailedAttempt(ChatAttempt* attempt, const UpstreamVerdict& verdict, int status,
                       std::string client_body) {
    service_->OnVerdict(verdict, attempt->key, chat_.upstream_model);
    budget_->RecordOutcome(verdict);
    if (verdict.kind == VerdictKind::kClientError) {
      RespondError(status, std::move(client_body));
      return;
    }
    AfterUnansweredTry();
  }

  // An empty answer (HAJIMI 7.4, 8.6): another key, up to MAX_EMPTY_RESPONSES of them.
  void OnEmptyAttempt() {
    budget_->RecordEmpty();
    if (++empties_ >= service_->settings().max_empty_responses) {
      RespondEmpty();
      return;
    }
    AfterUnansweredTry();
  }

  // HAJIMI answers 200 with a role "error" message ("空响应次数达到上限\n请修改输入提示词"); here,
  // like every final failure, an OpenAI error: 502 "empty_response".
  void RespondEmpty() {
    RespondError(502,
                 OpenAiError("Gemini answered without any content " + std::to_string(empties_) +
                                 (empties_ == 1 ? " time" : " times") +
                                 " (MAX_EMPTY_RESPONSES); the prompt may be blocked by a "
                                 "safety filter: change the prompt",
                             "server_error", "empty_response"));
  }

  void AfterUnansweredTry() {
    if (running_ > 0)
      return;  // the rest of the batch may still answer
    const ChatSettings& settings = service_->settings();
    if (mode_ != Mode::kRealStream) {
      concurrency_ = std::min(concurrency_ + settings.increase_concurrent_on_failure,
                              std::max(settings.max_concurrent_requests, 1u));
    }
    if (!budget_->done() && client_ != nullptr) {
      StartBatch();
      return;
    }
    RespondFinal();
  }

  void RespondFinal() {
    // Out of keys with nothing but empty answers: the same error as a spent empty budget.
    if (empties_ > 0 && budget_->failures() == empties_ && !budget_->client_error()) {
      RespondEmpty();
      return;
    }
    FinalError final = budget_->Final(WallMillis());
    if (final.retry_after_ms > 0) {
      retry_after_ = "Retry-After: " + std::to_string((final.retry_after_ms + 999) / 1000) + "\r\n";
    }
    std::string_view code =
        final.http_status == 429 ? "rate_limit_exceeded" : "upstream_unavailable";
    RespondError(final.http_status,
                 OpenAiError(final.message, ErrorTypeForStatus(final.http_status), code));
  }

  static TransportFailure TransportFailureFor(UpstreamErrorKind kind) {
    switch (kind) {
      case UpstreamErrorKind::kConnectTimeout:
        return TransportFailure::kConnectTimeout;
      case UpstreamErrorKind::kTlsVerify:
      case UpstreamErrorKind::kTlsHandshake:
      case UpstreamErrorKind::kTlsTimeout:
        return TransportFailure::kTlsFailed;
      case UpstreamErrorKind::kFirstByteTimeout:
      case UpstreamErrorKind::kIdleTimeout:
        return TransportFailure::kTimeout;
      case UpstreamErrorKind::kReset:
        return TransportFailure::kConnectionReset;
      case UpstreamErrorKind::kProtocol:
        return TransportFailure::kMalformed;
      default:
        return TransportFailure::kConnectFailed;
    }
  }

  // ---- From the attempts ----
  void OnAttemptHead(ChatAttempt* attempt, const HttpResponseHead& head) {
    attempt->status = head.status;
  }

  bool OnAttemptBody(ChatAttempt* attempt, std::string_view piece) {
    if (attempt->status != 200) {
      if (attempt->body.size() < kMaxErrorBodyBytes) {
        attempt->body.append(piece.substr(0, kMaxErrorBodyBytes));
      }
      return true;
    }
    if (mode_ != Mode::kRealStream) {
      attempt->body.append(piece);
      return true;
    }
    if (!head_sent_)
      StartClientStream();
    framer_.Feed(piece);
    client_->WriteChunkWith(&ChatExchange::WriteStreamEvents, this);
    if (failed_in_band_) {
      // A malformed event: the transcoder already wrote the error and [DONE].
      UpstreamExchange* upstream = attempt->upstream;
      Stopped(attempt);
      upstream->Cancel();
      client_->EndStream();
      Finish();
      return false;
    }
    // Backpressure: a client that reads slowly pauses the upstream read (TCP pushes back).
    return !client_->congested();
  }

  void OnAttemptComplete(ChatAttempt* attempt) {
    Stopped(attempt);
    const std::string_view model = chat_.upstream_model;
    if (attempt->status != 200) {
      UpstreamVerdict verdict = ClassifyGeminiError(attempt->status, attempt->body, WallMillis());
      LogAttempt(LogLevel::kWarning, attempt, attempt->status, verdict.message);
      if (finished_) {
        service_->OnVerdict(verdict, attempt->key, model);
        MaybeRetire();
        return;
      }
      OnFailedAttempt(attempt, verdict, attempt->status,
                      OpenAiErrorFromGemini(attempt->status, attempt->body));
      return;
    }
    // The throttle detector weighs 429s against every key that answered, successes included.
    service_->OnVerdict(UpstreamVerdict{}, attempt->key, model);
    GeminiUsage usage;
    bool empty = false;
    if (mode_ == Mode::kRealStream) {
      usage = transcoder_->usage();
    } else {
      bool parsed = false;
      empty = IsEmptyAnswer(attempt->body, &parsed_view_, &usage, &parsed);
      // The answer's translation reuses this parse if nothing is parsed in between.
      parsed_body_ = parsed ? &attempt->body : nullptr;
      parsed_generation_ = GeminiParseGeneration();
    }
    if (!empty) {
      uint64_t tokens = CountTokens(usage);
      service_->RecordSuccessfulCall(attempt->key, model, tokens);
      LogAttempt(LogLevel::kInfo, attempt, 200, {});
    } else {
      LogAttempt(LogLevel::kWarning, attempt, 200, "empty answer");
    }
    if (!finished_)
      upstream_done_us_ = service_->shard().now_us();  // when the answer's last bytes were reaped
    if (finished_) {
      // A fan-out answer the client did not need: kept for a regenerate request.
      if (!empty && use_cache_) {
        service_->PutCached(*fingerprint_, std::move(attempt->body));
      }
      MaybeRetire();
      return;
    }
    // MAX_EMPTY_RESPONSES=0: an empty answer is passed on as it is.
    if (empty && service_->settings().max_empty_responses > 0) {
      OnEmptyAttempt();
      return;
    }
    if (mode_ == Mode::kRealStream) {
      if (!head_sent_)
        StartClientStream();
      client_->WriteChunkWith(
          [](std::string& out, void* self) {
            static_cast<ChatExchange*>(self)->transcoder_->Finish(out);
          },
          this);
      client_->EndStream();
      Finish();
      return;
    }
    Answer(attempt->body);
  }

  void OnAttemptError(ChatAttempt* attempt, const UpstreamError& error) {
    Stopped(attempt);
    if (LogLevel::kWarning >= GetLogLevel()) {
      LogFields fields = AttemptFields(attempt, StatusForUpstreamError(error.kind), error.message);
      LogWithFields(LogLevel::kWarning, fields, "upstream %s", UpstreamErrorName(error.kind));
    }
    UpstreamVerdict verdict = ClassifyTransportError(TransportFailureFor(error.kind));
    if (finished_) {
      service_->OnVerdict(verdict, attempt->key, chat_.upstream_model);
      MaybeRetire();
      return;
    }
    int status = StatusForUpstreamError(error.kind);
    std::string body = OpenAiError(MaskApiKeys(error.message), ErrorTypeForStatus(status),
                                   std::string("upstream_") + UpstreamErrorName(error.kind));
    if (error.response_started && mode_ == Mode::kRealStream && head_sent_) {
      // Part of the answer is already with the client: no other key can take over.
      RespondError(status, std::move(body));
      return;
    }
    last_transport_status_ = status;
    OnFailedAttempt(attempt, verdict, status, std::move(body));
  }

  // When the request was complete (HandleChat began): the start of the time ringgate adds.
  void set_received_us(uint64_t micros) { received_us_ = micros; }

  // ---- ResponseObserver ----
  void OnClientGone() override {
    if (finished_)
      return;
    client_ = nullptr;
    client_gone_ = true;
    // Nobody is left to read the answer. (HAJIMI lets the tries run on and caches their answers;
    // here they are cancelled and their keys saved.)
    CancelRunning();
    Finish();
  }

  void OnWritable() override {
    if (stream_attempt_ != nullptr && stream_attempt_->upstream != nullptr) {
      stream_attempt_->upstream->Resume();
    }
  }

 private:
  static void WriteStreamEvents(std::string& out, void* context) {
    auto* self = static_cast<ChatExchange*>(context);
    SseFramer::Event event;
    while (!self->failed_in_band_ && self->framer_.Next(&event)) {
      if (!self->transcoder_->Transcode(event.data, event.readable, out)) {
        self->failed_in_band_ = true;
      }
    }
  }

  static void WriteWholeAnswerAsStream(std::string& out, void* context) {
    auto* self = static_cast<ChatExchange*>(context);
    if (self->transcoder_->Transcode(*self->answer_body_, out))
      self->transcoder_->Finish(out);
  }

  // A whole Gemini answer (a try's or a cached one) to the client, in the request's mode.
  void Answer(const std::string& gemini_body) {
    answer_body_ = &gemini_body;
    if (mode_ == Mode::kFakeStream) {
      if (!head_sent_)
        StartClientStream();
      client_->WriteChunkWith(&ChatExchange::WriteWholeAnswerAsStream, this);
      client_->EndStream();
    } else {
      SendCompletion();
    }
    Finish();
  }

  CoreMetrics& metrics() { return service_->shard().metrics(); }

  std::string_view RequestType() const {
    switch (mode_) {
      case Mode::kRealStream:
        return "stream";
      case Mode::kFakeStream:
        return "fake-stream";
      case Mode::kKeepAlive:
      case Mode::kPlain:
        break;
    }
    return "non-stream";
  }

  // Counted as prompt / completion tokens; the total is what the key's usage records (HAJIMI's
  // totalTokenCount).
  uint64_t CountTokens(const GeminiUsage& usage) {
    int64_t prompt = usage.prompt + usage.tool_use_prompt;
    int64_t completion = usage.candidates + usage.thoughts;
    metrics().prompt_tokens.Add(static_cast<uint64_t>(std::max<int64_t>(prompt, 0)));
    metrics().completion_tokens.Add(static_cast<uint64_t>(std::max<int64_t>(completion, 0)));
    int64_t total = usage.total >= 0 ? usage.total : prompt + completion;
    return static_cast<uint64_t>(std::max<int64_t>(total, 0));
  }

  LogFields AttemptFields(const ChatAttempt* attempt, int status, std::string_view error) {
    LogFields fields;
    fields.key = std::string_view(attempt->key_label, attempt->key_label_size);
    fields.request_type = RequestType();
    fields.model = chat_.requested_model;
    fields.status_code = status;
    fields.error_message = error;
    return fields;
  }

  // HAJIMI's line per upstream try (hajimi-behaviour.md 14.3): what the dashboard's log shows.
  void LogAttempt(LogLevel level, const ChatAttempt* attempt, int status, std::string_view error) {
    if (level < GetLogLevel())
      return;
    LogFields fields = AttemptFields(attempt, status, error);
    if (status == 200 && error.empty()) {
      // Kept for the dashboard; written out only at debug (see LogFields::write_output).
      fields.write_output = GetLogLevel() <= LogLevel::kDebug;
      LogWithFields(level, fields, "request answered");
    } else {
      LogWithFields(level, fields, "upstream answered HTTP %d", status);
    }
  }

  ChatAttempt* IdleAttempt() {
    for (const std::unique_ptr<ChatAttempt>& attempt : attempts_) {
      if (!attempt->running)
        return attempt.get();
    }
    attempts_.push_back(std::make_unique<ChatAttempt>(this));
    return attempts_.back().get();
  }

  void Stopped(ChatAttempt* attempt) {
    attempt->upstream = nullptr;
    attempt->running = false;
    --running_;
  }

  void CancelRunning() {
    for (const std::unique_ptr<ChatAttempt>& attempt : attempts_) {
      if (!attempt->running)
        continue;
      UpstreamExchange* upstream = attempt->upstream;
      Stopped(attempt.get());
      if (upstream != nullptr)
        upstream->Cancel();
    }
  }

  void StartClientStream() {
    head_sent_ = true;
    std::string headers = "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
    headers += cors_;
    client_->StartStream(200, mode_ == Mode::kKeepAlive ? kJson : kEventStream, headers);
  }

  void ScheduleKeepAlive() {
    Shard& shard = service_->shard();
    shard.timers().Schedule(&keepalive_timer_, shard.now_ms() + keepalive_interval_ms_);
  }

  void OnKeepAliveDue() {
    if (finished_ || client_ == nullptr)
      return;
    if (!head_sent_)
      StartClientStream();
    if (mode_ == Mode::kKeepAlive) {
      client_->WriteChunk("\n");  // leading whitespace keeps the final body valid JSON
    } else {
      // HAJIMI's keep-alive: a chunk with an empty delta, here with the stream's stable id.
      std::string chunk = "data: {\"id\":\"";
      chunk += transcoder_->id();
      chunk += "\",\"object\":\"chat.completion.chunk\",\"created\":";
      chunk += std::to_string(transcoder_->created());
      chunk += ",\"model\":\"";
      AppendJsonString(chunk, chat_.requested_model);
      chunk +=
          "\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":null}]";
      // With include_usage every chunk but the last carries "usage":null (OpenAI's format).
      if (chat_.include_usage)
        chunk += ",\"usage\":null";
      chunk += "}\n\n";
      client_->WriteChunk(chunk);
    }
    ScheduleKeepAlive();
  }

  void SendCompletion() {
    std::string& json = answer_;  // a member: its capacity is reused by the next request
    json.clear();
    ChatResponseOptions options;
    options.model = chat_.requested_model;
    bool reuse = answer_body_ == parsed_body_ && parsed_generation_ == GeminiParseGeneration();
    Status converted = reuse ? TranslateChatResponse(parsed_view_, options, json)
                             : TranslateChatResponse(*answer_body_, options, json);
    parsed_body_ = nullptr;
    if (!converted.ok()) {
      RespondError(502, OpenAiError("upstream answer could not be read: " + converted.message(),
                                    "server_error", "upstream_invalid"));
      return;
    }
    if (head_sent_) {
      client_->WriteChunk(json);
      client_->EndStream();
    } else {
      client_->Send(200, kJson, json, cors_);
    }
    answered_ = true;
  }

  // Before the head: the real status and an OpenAI error body. After: the error in-band.
  void RespondError(int status, std::string body) {
    if (client_ == nullptr || finished_) {
      Finish();
      return;
    }
    if (!head_sent_) {
      std::string headers = cors_ + retry_after_;
      client_->Send(status, kJson, body, headers);
    } else if (mode_ == Mode::kKeepAlive) {
      client_->WriteChunk(body);
      client_->EndStream();
    } else {
      error_body_ = std::move(body);
      client_->WriteChunkWith(
          [](std::string& out, void* context) {
            auto* self = static_cast<ChatExchange*>(context);
            out.append("data: ");
            out.append(self->error_body_);
            out.append("\n\ndata: [DONE]\n\n");
          },
          this);
      client_->EndStream();
    }
    Finish();
  }

  // The client has its answer (or is gone). Tries still running finish into the cache when there
  // is one to fill, else they are cancelled.
  void Finish() {
    if (finished_)
      return;
    finished_ = true;
    client_ = nullptr;
    if (upstream_done_us_ != 0 && !client_gone_) {
      // The time ringgate adds: before the first upstream request, and after the answer came.
      uint64_t now = MonotonicMicros();
      uint64_t before = upstream_started_us_ - std::min(received_us_, upstream_started_us_);
      metrics().gateway_overhead.Observe(before + (now - upstream_done_us_));
    }
    if (cache_token_ != 0) {
      service_->ForgetCacheLookUp(cache_token_);
      cache_token_ = 0;
    }
    service_->shard().timers().Cancel(&keepalive_timer_);
    FinishInFlight();
    if (!use_cache_)
      CancelRunning();
    MaybeRetire();
  }

  // Coalescing: a leader hands its answer (or its failure, or its lead) on; a follower leaves.
  void FinishInFlight() {
    Role role = role_;
    role_ = Role::kNone;
    if (inflight_token_ == 0)
      return;
    uint64_t token = inflight_token_;
    inflight_token_ = 0;
    service_->ForgetInFlight(token);
    if (role == Role::kLeader) {
      bool ok = answered_ && answer_body_ != nullptr;
      service_->LeaderDone(*fingerprint_, token, ok ? answer_body_ : nullptr, !ok && client_gone_);
    } else if (role == Role::kFollower) {
      service_->FollowerGone(*fingerprint_, token);
    }
    // kAsking: the owner's reply finds no waiter and gives back what it brings.
  }

  void MaybeRetire() {
    if (!finished_ || running_ > 0 || retired_)
      return;
    retired_ = true;
    service_->Retire(this);
  }

  ChatService* service_;
  AsyncResponder* client_ = nullptr;
  TranslatedChat chat_;
  Mode mode_ = Mode::kPlain;
  std::string cors_;
  std::string path_;
  std::string error_body_;
  std::string answer_;
  std::string retry_after_;
  std::string cached_;
  const std::string* answer_body_ = nullptr;  // the Gemini answer being sent
  // The last answer parsed to check it for emptiness, kept so its translation parses it no more.
  GeminiResponseView parsed_view_;
  const std::string* parsed_body_ = nullptr;
  uint64_t parsed_generation_ = 0;
  std::optional<Fingerprint> fingerprint_;
  bool use_cache_ = false;
  bool coalesce_ = false;
  // Coalescing: kAsking while the owner core's RegisterInFlight answer is out.
  enum class Role : uint8_t { kNone, kAsking, kLeader, kFollower };
  Role role_ = Role::kNone;
  uint64_t inflight_token_ = 0;  // registered in the in-flight table (0: not)
  bool client_gone_ = false;
  bool answered_ = false;     // the client has a 200 completion built from answer_body_
  uint64_t cache_token_ = 0;  // a LookUpCache question is out (0: none)
  std::optional<RetryBudget> budget_;
  ExcludeSet tried_;
  std::vector<std::unique_ptr<ChatAttempt>> attempts_;  // reused from request to request
  ChatAttempt* stream_attempt_ = nullptr;               // real streaming: the current try
  uint32_t running_ = 0;                                // attempts in flight
  uint32_t concurrency_ = 1;
  uint32_t empties_ = 0;
  int last_transport_status_ = 0;
  uint64_t received_us_ = 0;
  uint64_t upstream_started_us_ = 0;  // the first try started
  uint64_t upstream_done_us_ = 0;     // the answer the client gets came (0: not from upstream)
  std::optional<StreamTranscoder> transcoder_;
  SseFramer framer_;
  Timer keepalive_timer_;
  uint32_t keepalive_interval_ms_ = 0;
  bool head_sent_ = false;
  bool finished_ = false;
  bool retired_ = false;
  bool failed_in_band_ = false;
};

void ChatAttempt::OnUpstreamHead(const HttpResponseHead& head) {
  owner_->OnAttemptHead(this, head);
}
bool ChatAttempt::OnUpstreamBody(std::string_view piece) {
  return owner_->OnAttemptBody(this, piece);
}
void ChatAttempt::OnUpstreamComplete() {
  owner_->OnAttemptComplete(this);
}
void ChatAttempt::OnUpstreamError(const UpstreamError& error) {
  owner_->OnAttemptError(this, error);
}

// ---------------------------------------------------------------------------------------------
// The upstream model list, every page, refreshed.

class ModelFetcher final : public UpstreamHandler {
 public:
  explicit ModelFetcher(ChatService* service) : service_(service) {}

  void Fetch() {
    if (busy_)
      return;
    busy_ = true;
    catalog_.Clear();
    FetchPage("");
  }

  void OnUpstreamHead(const HttpResponseHead& head) override { status_ = head.status; }
  bool OnUpstreamBody(std::string_view piece) override {
    body_.append(piece);
    return true;
  }
  void OnUpstreamComplete() override {
    if (status_ != 200) {
      // A bad key (e.g. one that turned invalid) leaves the rotation everywhere and the next key
      // lists the models; a transient error tries the next key too.
      UpstreamVerdict verdict = ClassifyGeminiError(status_, body_, WallMillis());
      if (verdict.kind == VerdictKind::kQuarantineKey) {
        service_->OnVerdict(verdict, key_, "models.list");
      }
      std::string why =
          "HTTP " + std::to_string(status_) + ": " + MaskApiKeys(body_.substr(0, 300));
      if (verdict.retryable()) {
        RetryOrFail(why);
      } else {
        Fail(why);
      }
      return;
    }
    Status added = catalog_.AddPage(body_);
    if (!added.ok()) {
      Fail(added.message());
      return;
    }
    if (!catalog_.next_page_token().empty()) {
      FetchPage(catalog_.next_page_token());
      return;
    }
    busy_ = false;
    service_->OnModelsFetched(catalog_);
  }
  void OnUpstreamError(const UpstreamError& error) override { RetryOrFail(error.message); }

 private:
  void FetchPage(const std::string& token) {
    tried_.Clear();
    token_ = token;
    FetchWithNextKey();
  }
  void FetchWithNextKey() {
    status_ = 0;
    body_.clear();
    path_ = "/v1beta/models?pageSize=1000";
    if (!token_.empty())
      path_ += "&pageToken=" + token_;
    UpstreamRequest request;
    request.method = "GET";
    request.path = path_;
    KeyPoolShard& keys = service_->keys();
    PickResult pick = keys.Pick("models.list", WallMillis(), tried_);
    if (!pick.ok()) {
      Fail("no usable key to list models with");
      return;
    }
    tried_.Insert(pick.key);
    key_ = pick.key;
    request.api_key = keys.key(pick.key);
    request.max_body_bytes = 16 << 20;
    service_->upstream().Start(request, this);
  }
  void RetryOrFail(const std::string& why) {
    // Like a chat request: at most MAX_RETRY_NUM keys per page.
    if (tried_.size() < service_->settings().max_retry_num) {
      RG_LOG(kInfo, "model list: %s; trying another key", MaskApiKeys(why).c_str());
      FetchWithNextKey();
      return;
    }
    Fail(why);
  }
  void Fail(const std::string& why) {
    busy_ = false;
    service_->OnModelsFailed(MaskApiKeys(why));
  }

  ChatService* service_;
  ModelCatalog catalog_;
  std::string path_;
  std::string token_;
  std::string body_;
  ExcludeSet tried_;
  uint32_t key_ = 0;
  int status_ = 0;
  bool busy_ = false;
};

// ---------------------------------------------------------------------------------------------

namespace {

// TRUSTED_PROXIES was checked when the configuration was parsed.
TrustedProxies TrustedProxiesFromConfig(const Config& config) {
  Result<TrustedProxies> parsed = TrustedProxies::Parse(config.trusted_proxies);
  return parsed ? std::move(*parsed) : TrustedProxies();
}

RateLimitSettings RateLimitSettingsFromConfig(const Config& config) {
  RateLimitSettings settings;
  settings.per_minute = config.max_requests_per_minute;
  settings.per_day = config.max_requests_per_day_per_ip;
  settings.hash_seed = RandomSeed();  // table sets cannot be aimed at from outside
  return settings;
}

// One core's per-IP counts for another core; shared by the messages to every other core.
class RateDeltaMessage final : public CoreMessage {
 public:
  explicit RateDeltaMessage(std::shared_ptr<const RateDeltaBatch> batch)
      : batch_(std::move(batch)) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->MergeRateDeltas(*batch_);
  }

 private:
  std::shared_ptr<const RateDeltaBatch> batch_;
};

}  // namespace

ChatService::ChatService(Shard& shard, UpstreamPool& upstream, const Config& config)
    : shard_(shard),
      upstream_(upstream),
      settings_(ChatSettingsFromConfig(config)),
      access_(AccessSettings{StripDoubleQuotes(config.password),
                             ParseHajimiList(config.whitelist_user_agent),
                             ParseHajimiList(config.allowed_origins)}),
      fetcher_(std::make_unique<ModelFetcher>(this)),
      validator_(std::make_unique<KeyValidator>(this, settings_.key_check_concurrency)),
      keys_(KeyPoolOptions{static_cast<int64_t>(config.api_key_daily_limit)},
            RandomSeed() ^ static_cast<uint64_t>(shard.index()), WallMillis()),
      trusted_proxies_(TrustedProxiesFromConfig(config)),
      limiter_(RateLimitSettingsFromConfig(config)),
      cache_(settings_.cache.ForShard(shard.core_count())),
      inflight_(InFlightSettings{.enabled = settings_.coalesce}),
      random_state_(RandomSeed()) {
  const UpstreamShared& shared = shard.upstream_shared();
  // Invalid keys first, quarantined: a key listed in both stays out of rotation.
  if (shared.invalid_keys != nullptr)
    keys_.AddKeys(*shared.invalid_keys, /*quarantined=*/true);
  if (shared.api_keys != nullptr)
    keys_.AddKeys(*shared.api_keys);
  usage_timer_.set_callback(
      [](Timer*, void* self) { static_cast<ChatService*>(self)->OnUsageTimer(); }, this);
  list_settings_.search_mode = config.search_mode;
  list_settings_.extra_models = ParseHajimiList(config.extra_models);
  list_settings_.blocked_models = ParseHajimiList(config.blocked_models);
  list_settings_.whitelist_models = ParseHajimiList(config.whitelist_models);
  translate_options_.enable_thinking_config = settings_.enable_thinking;
  translate_options_.model_supports_thinking = [this](std::string_view model) {
    return catalog_.SupportsThinking(model);
  };
  translate_options_.search_mode = settings_.search_mode;
  translate_options_.search_prompt = settings_.search_prompt;
  if (settings_.random_string) {
    translate_options_.disguise_first = disguise_first_;
    translate_options_.disguise_last = disguise_last_;
  }
  refresh_timer_.set_callback(
      [](Timer*, void* self) { static_cast<ChatService*>(self)->fetcher_->Fetch(); }, this);
}

// Members go in reverse order: the validator (cancelling its probes) and the fetcher go while
// the pool is still there.
ChatService::~ChatService() = default;

void ChatService::InstallRoutes(Router& router) {
  for (const char* path :
       {"/v1/chat/completions", "/chat/completions", "/aistudio/chat/completions"}) {
    router.Add("POST", path, [this](HttpRequest& r, Responder& w) { HandleChat(r, w); });
    router.Add("OPTIONS", path, [this](HttpRequest& r, Responder& w) { HandlePreflight(r, w); });
  }
  for (const char* path : {"/v1/models", "/models", "/aistudio/models"}) {
    router.Add("GET", path, [this](HttpRequest& r, Responder& w) { HandleModels(r, w); });
    router.Add("OPTIONS", path, [this](HttpRequest& r, Responder& w) { HandlePreflight(r, w); });
  }
}

void ChatService::Start() {
  if (has_keys())
    fetcher_->Fetch();
  // One core checks the keys, in the background: requests are served meanwhile; a key Google
  // rejects is quarantined on every core as its answer arrives.
  if (shard_.index() == 0 && !settings_.skip_check_api_key && has_keys()) {
    (void)validator_->Start();
  }
  shard_.timers().Schedule(&usage_timer_, shard_.now_ms() + kUsageTickMs);
}

void ChatService::OnModelsFetched(ModelCatalog catalog) {
  RG_LOG(kInfo, "core %d: %zu chat models from the upstream", shard_.index(),
         catalog.chat_model_count());
  catalog_ = std::move(catalog);
  shard_.timers().Schedule(&refresh_timer_, shard_.now_ms() + settings_.model_refresh_ms);
}

void ChatService::OnModelsFailed(const std::string& why) {
  RG_LOG(kWarning, "core %d: model list fetch failed (%s); retrying in %u s", shard_.index(),
         why.c_str(), settings_.model_retry_ms / 1000);
  shard_.timers().Schedule(&refresh_timer_, shard_.now_ms() + settings_.model_retry_ms);
}

void ChatService::HandlePreflight(HttpRequest& request, Responder& responder) {
  if (!access_.IsPreflight(request)) {
    responder.SendError(405, "OPTIONS is only answered as a CORS preflight", "method_not_allowed");
    return;
  }
  PreflightResponse preflight = access_.Preflight(request);
  responder.Send(preflight.status, preflight.content_type, preflight.body, preflight.headers);
}

bool ChatService::Admit(const HttpRequest& request, Responder& responder, std::string* cors) {
  access_.AppendCorsHeaders(request, *cors);
  AuthResult auth = access_.Authenticate(request);
  if (auth.ok())
    return true;
  responder.Send(auth.status(), kJson, auth.ErrorBody(), *cors);
  return false;
}

bool ChatService::AdmitRate(const HttpRequest& request, Responder& responder,
                            const std::string& cors) {
  // An unknown peer (never on a real socket) counts as "::".
  std::optional<IpAddress> peer =
      request.peer != nullptr ? IpAddress::FromSockaddr(request.peer) : std::nullopt;
  IpAddress client = ClientIp(request, peer.value_or(IpAddress()), trusted_proxies_);
  RateDecision decision = limiter_.Check(client, static_cast<uint64_t>(WallMillis() / 1000));
  if (decision.allowed())
    return true;
  responder.Send(decision.status(), kJson, decision.ErrorBody(), cors + decision.Headers());
  return false;
}

void ChatService::PublishRateDeltas() {
  if (shard_.core_count() < 2)
    return;  // the pending list is bounded by the table: let it be
  auto batch = std::make_shared<RateDeltaBatch>();
  batch->from_core = static_cast<uint32_t>(shard_.index());
  if (limiter_.TakeDeltas(&batch->deltas) == 0)
    return;
  for (int core = 0; core < shard_.core_count(); ++core) {
    if (core != shard_.index())
      shard_.Post(core, std::make_unique<RateDeltaMessage>(batch));
  }
}

void ChatService::HandleModels(HttpRequest& request, Responder& responder) {
  std::string cors;
  if (!Admit(request, responder, &cors))
    return;
  responder.Send(200, kJson, OpenAIModelList(catalog_, list_settings_, UnixSecondsNow()), cors);
}

void ChatService::HandleChat(HttpRequest& request, Responder& responder) {
  uint64_t received_us = shard_.now_us();  // when the request's last bytes were reaped
  std::string cors;
  if (!Admit(request, responder, &cors))
    return;
  if (!AdmitRate(request, responder, cors))
    return;
  ChatExchange* exchange = Acquire();
  // Bodies with a Content-Length arrive with 64 bytes of slack: parse them in place.
  const std::string& body = request.body;
  TranslatedChat& chat = exchange->chat();
  if (settings_.random_string)
    NewDisguise();
  std::optional<TranslateError> error =
      body.capacity() - body.size() >= simdjson::SIMDJSON_PADDING
          ? translator_.TranslatePaddedInto(body, translate_options_, &chat)
          : translator_.TranslateInto(body, translate_options_, &chat);
  if (error) {
    free_.push_back(exchange);  // never started: reusable at once
    responder.Send(
        error->status, kJson,
        OpenAiError(error->message, ErrorTypeForStatus(error->status), error->code, error->param),
        cors);
    return;
  }
  ModelAccess model = CheckModel(chat.requested_model, catalog_, list_settings_);
  if (!model.allowed) {
    free_.push_back(exchange);
    responder.Send(model.status(), kJson, model.ErrorBody(), cors);
    return;
  }
  if (keys_.size() == 0) {  // none configured; every key quarantined is the pool's 503
    free_.push_back(exchange);
    responder.Send(503, kJson,
                   OpenAiError("no Gemini API key is configured (set GEMINI_API_KEYS)",
                               "server_error", "no_api_key"),
                   cors);
    return;
  }
  ChatExchange::Mode mode;
  if (chat.stream) {
    mode = settings_.fake_streaming ? ChatExchange::Mode::kFakeStream
                                    : ChatExchange::Mode::kRealStream;
  } else {
    mode =
        settings_.nonstream_keepalive ? ChatExchange::Mode::kKeepAlive : ChatExchange::Mode::kPlain;
  }
  // Coalescing only for the plain handler: the only one HAJIMI's coalescing has an effect on
  // (its streaming and keep-alive tasks finish at once, 10.4).
  bool coalesce = settings_.coalesce && mode == ChatExchange::Mode::kPlain;
  bool cache = FanOut();
  std::optional<Fingerprint> fingerprint;
  if (mode != ChatExchange::Mode::kRealStream)
    fingerprint = CacheKey(body, cache || coalesce);
  AsyncResponder* client = responder.Defer(exchange);
  exchange->set_received_us(received_us);
  exchange->Begin(client, mode, std::move(cors), fingerprint, cache, coalesce);
}

void ChatService::RecordSuccessfulCall(uint32_t key, std::string_view model, uint64_t tokens) {
  answered_calls_.push_back(AnsweredCall{key, keys_.InternModel(model), tokens});
  call_stats_.Record(WallMillis(), tokens);
}

// ---- Dashboard hooks (AdminService) ----

void ChatService::ApplyRuntimeSettings(const RuntimeSettings& values) {
  settings_.max_retry_num = values.max_retry_num;
  settings_.max_empty_responses = values.max_empty_responses;
  settings_.concurrent_requests = values.concurrent_requests;
  settings_.increase_concurrent_on_failure = values.increase_concurrent_on_failure;
  settings_.max_concurrent_requests = values.max_concurrent_requests;
  settings_.fake_streaming = values.fake_streaming;
  settings_.fake_streaming_interval_ms = values.fake_streaming_interval_ms;
  settings_.random_string = values.random_string;
  settings_.random_string_length = values.random_string_length;
  settings_.search_mode = values.search_mode;
  settings_.search_prompt = values.search_prompt;
  limiter_.SetLimits(values.max_requests_per_minute, values.max_requests_per_day_per_ip);
  list_settings_.search_mode = values.search_mode;
  translate_options_.search_mode = values.search_mode;
  translate_options_.search_prompt = settings_.search_prompt;  // a view: follows the new string
  if (!settings_.random_string) {
    translate_options_.disguise_first = {};
    translate_options_.disguise_last = {};
  }
}

void ChatService::AddKeys(std::span<const std::string> keys) {
  size_t added = keys_.AddKeys(keys);
  // Started without a key, the upstream's name was never resolved (no DNS without keys): watch
  // it now (idempotent; resolved on the resolver's thread).
  const UpstreamShared& upstream = shard_.upstream_shared();
  if (added > 0 && upstream.resolver != nullptr && upstream.settings != nullptr) {
    const Url& target =
        upstream.settings->proxy ? *upstream.settings->proxy : upstream.settings->base;
    upstream.resolver->Watch(target.host, target.port);
  }
  // Started without a key: the model list could not be fetched until now.
  if (added > 0 && !catalog_.loaded())
    fetcher_->Fetch();
}

void ChatService::OnVerdict(const UpstreamVerdict& verdict, uint32_t key, std::string_view model) {
  if (verdict.kind == VerdictKind::kSuccess && !verdict.transport) {
    answered_keys_.push_back(key);  // recorded with the iteration's other answers
    return;
  }
  int64_t now = WallMillis();
  if (std::optional<HealthEvent> event = HealthEventFor(verdict, key, model)) {
    PublishHealth(*event);
  }
  if (std::optional<int64_t> until = throttle_.Record(key, verdict, now)) {
    RG_LOG(kWarning,
           "core %d: many keys answer 429 at once: Google is limiting this server; "
           "pausing upstream calls for %lld s",
           shard_.index(), static_cast<long long>((*until - now) / 1000));
    PublishHealth(HealthEvent::Throttle(*until));
  }
}

namespace {

class HealthMessage final : public CoreMessage {
 public:
  explicit HealthMessage(const HealthEvent& event) : event_(event) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->ApplyRemoteHealth(event_);
  }

 private:
  HealthEvent event_;
};

// One tick's usage deltas for another core, in one message (one MSG_RING, however many keys).
class HealthBatchMessage final : public CoreMessage {
 public:
  explicit HealthBatchMessage(std::shared_ptr<const std::vector<HealthEvent>> events)
      : events_(std::move(events)) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() == nullptr)
      return;
    for (const HealthEvent& event : *events_)
      shard.chat()->ApplyRemoteHealth(event);
  }

 private:
  std::shared_ptr<const std::vector<HealthEvent>> events_;
};

}  // namespace

void ChatService::PublishHealth(const HealthEvent& event) {
  keys_.Apply(event);
  for (int core = 0; core < shard_.core_count(); ++core) {
    if (core != shard_.index())
      shard_.Post(core, std::make_unique<HealthMessage>(event));
  }
}

// Usage deltas go to the other cores a few times a second (daily counts are global within that
// lag), and the daily reset is noticed here.
void ChatService::OnUsageTimer() {
  int64_t now = WallMillis();
  keys_.MaybeDailyReset(now);
  PublishRateDeltas();
  if (cache_.size() > 0)
    cache_.Expire(shard_.now_ms());
  if (inflight_.size() > 0) {
    std::vector<Wake> expired;
    inflight_.Expire(shard_.now_ms(), &expired);
    std::vector<InFlightWake> wakes;
    for (const Wake& wake : expired)
      wakes.push_back(InFlightWake{wake, {}});
    DeliverWakes(wakes);
  }
  if (keys_.UsagePublishDue(now) && shard_.core_count() == 1) {
    keys_.DiscardUsageEvents(now);
  } else if (keys_.UsagePublishDue(now)) {
    usage_events_.clear();
    keys_.TakeUsageEvents(now, &usage_events_);
    if (!usage_events_.empty() && shard_.core_count() > 1) {
      auto batch = std::make_shared<const std::vector<HealthEvent>>(usage_events_);
      for (int core = 0; core < shard_.core_count(); ++core) {
        if (core != shard_.index())
          shard_.Post(core, std::make_unique<HealthBatchMessage>(batch));
      }
    }
  }
  shard_.timers().Schedule(&usage_timer_, shard_.now_ms() + kUsageTickMs);
}

// The disguise strings (HAJIMI 7.1: [A-Za-z0-9]{RANDOM_STRING_LENGTH}, two per request) from a
// per-core splitmix64 seeded by getrandom: unpredictable enough for a disguise, and cheap.
void ChatService::NewDisguise() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (std::string* out : {&disguise_first_, &disguise_last_}) {
    out->resize(settings_.random_string_length);
    uint64_t bits = 0;
    int left = 0;
    for (char& c : *out) {
      if (left == 0) {
        bits = NextRandom();
        left = 10;  // 62^10 < 2^64: ten characters per draw
      }
      c = kAlphabet[bits % 62];
      bits /= 62;
      --left;
    }
  }
  // The views follow the strings' buffers, which may move when the length grows.
  translate_options_.disguise_first = disguise_first_;
  translate_options_.disguise_last = disguise_last_;
}

uint64_t ChatService::NextRandom() {
  uint64_t z = (random_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Only fan-out puts answers in the response cache.
bool ChatService::FanOut() const {
  return settings_.concurrent_requests > 1 ||
         (settings_.increase_concurrent_on_failure > 0 && settings_.max_concurrent_requests > 1);
}

// The response-cache key (also coalescing's), computed only when `needed`.
std::optional<Fingerprint> ChatService::CacheKey(std::string_view body, bool needed) {
  if (!needed)
    return std::nullopt;
  Result<Fingerprint> key =
      OpenAiBodyFingerprint(body, settings_.calculate_cache_entries, settings_.precise_cache);
  if (!key.ok())
    return std::nullopt;
  return *key;
}

// ---- The response cache, sharded: fingerprint F lives on core OwnerCore(F) ----

namespace {

class CachePutMessage final : public CoreMessage {
 public:
  explicit CachePutMessage(CachePut put) : put_(std::move(put)) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->PutCached(put_.fingerprint, std::move(put_.answer));
  }

 private:
  CachePut put_;
};

class CacheTakeMessage final : public CoreMessage {
 public:
  explicit CacheTakeMessage(CacheTake take) : take_(take) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->OnRemoteCacheTake(take_);
  }

 private:
  CacheTake take_;
};

class CacheTakeReplyMessage final : public CoreMessage {
 public:
  CacheTakeReplyMessage(CacheTakeReply reply, Fingerprint fingerprint)
      : reply_(std::move(reply)), fingerprint_(fingerprint) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->OnCacheTakeReply(std::move(reply_), fingerprint_);
  }

 private:
  CacheTakeReply reply_;
  Fingerprint fingerprint_;
};

}  // namespace

ChatService::CacheLookup ChatService::LookUpCache(ChatExchange* exchange, Fingerprint fingerprint,
                                                  std::string* answer, uint64_t* token) {
  int owner = OwnerCore(fingerprint, shard_.core_count());
  if (owner == shard_.index()) {
    std::optional<std::string> cached = cache_.Take(fingerprint, shard_.now_ms());
    if (!cached)
      return CacheLookup::kMiss;
    *answer = std::move(*cached);
    return CacheLookup::kHit;
  }
  *token = ++last_cache_token_;
  cache_waiters_.emplace(*token, exchange);
  shard_.Post(owner, std::make_unique<CacheTakeMessage>(
                         CacheTake{fingerprint, static_cast<uint32_t>(shard_.index()), *token}));
  return CacheLookup::kAsked;
}

void ChatService::ForgetCacheLookUp(uint64_t token) {
  cache_waiters_.erase(token);
}

void ChatService::PutCached(Fingerprint fingerprint, std::string answer) {
  int owner = OwnerCore(fingerprint, shard_.core_count());
  if (owner == shard_.index()) {
    cache_.Put(fingerprint, std::move(answer), shard_.now_ms());
    return;
  }
  shard_.Post(owner, std::make_unique<CachePutMessage>(CachePut{fingerprint, std::move(answer)}));
}

void ChatService::OnRemoteCacheTake(const CacheTake& take) {
  CacheTakeReply reply = ApplyCacheTake(cache_, take, shard_.now_ms());
  shard_.Post(static_cast<int>(take.reply_core),
              std::make_unique<CacheTakeReplyMessage>(std::move(reply), take.fingerprint));
}

void ChatService::OnCacheTakeReply(CacheTakeReply reply, Fingerprint fingerprint) {
  auto waiter = cache_waiters_.find(reply.request_id);
  if (waiter == cache_waiters_.end()) {
    // The client went away meanwhile: the answer goes back for the next one.
    if (reply.hit)
      PutCached(fingerprint, std::move(reply.answer));
    return;
  }
  ChatExchange* exchange = waiter->second;
  cache_waiters_.erase(waiter);
  exchange->OnCacheReply(reply.hit, std::move(reply.answer));
}

// ---- Request coalescing: fingerprint F's in-flight entry lives on core OwnerCore(F) ----

namespace {

class InFlightRegisterMessage final : public CoreMessage {
 public:
  explicit InFlightRegisterMessage(InFlightRegister msg) : msg_(msg) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->OnRemoteInFlightRegister(msg_);
  }

 private:
  InFlightRegister msg_;
};

class InFlightRegisterReplyMessage final : public CoreMessage {
 public:
  explicit InFlightRegisterReplyMessage(InFlightRegisterReply reply) : reply_(reply) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->OnInFlightRegisterReply(reply_);
  }

 private:
  InFlightRegisterReply reply_;
};

class InFlightDoneMessage final : public CoreMessage {
 public:
  explicit InFlightDoneMessage(InFlightDone done) : done_(std::move(done)) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->OnRemoteInFlightDone(done_);
  }

 private:
  InFlightDone done_;
};

class FollowerGoneMessage final : public CoreMessage {
 public:
  FollowerGoneMessage(Fingerprint fingerprint, WaiterId who)
      : fingerprint_(fingerprint), who_(who) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->OnRemoteFollowerGone(fingerprint_, who_);
  }

 private:
  Fingerprint fingerprint_;
  WaiterId who_;
};

class InFlightWakeMessage final : public CoreMessage {
 public:
  explicit InFlightWakeMessage(InFlightWake wake) : wake_(std::move(wake)) {}
  void Deliver(Shard& shard) override {
    if (shard.chat() != nullptr)
      shard.chat()->OnInFlightWake(std::move(wake_));
  }

 private:
  InFlightWake wake_;
};

}  // namespace

ChatService::InFlightStart ChatService::RegisterInFlight(ChatExchange* exchange,
                                                         Fingerprint fingerprint, uint64_t* token) {
  *token = ++last_inflight_token_;
  WaiterId me{static_cast<uint32_t>(shard_.index()), *token};
  int owner = OwnerCore(fingerprint, shard_.core_count());
  if (owner != shard_.index()) {
    inflight_waiters_.emplace(*token, exchange);
    shard_.Post(owner,
                std::make_unique<InFlightRegisterMessage>(InFlightRegister{fingerprint, me}));
    return InFlightStart::kAsked;
  }
  switch (inflight_.Register(fingerprint, me, shard_.now_ms())) {
    case InFlightRole::kLeader:
      inflight_waiters_.emplace(*token, exchange);
      return InFlightStart::kLeader;
    case InFlightRole::kFollower:
      inflight_waiters_.emplace(*token, exchange);
      return InFlightStart::kFollower;
    case InFlightRole::kBypass:
      break;
  }
  *token = 0;
  return InFlightStart::kBypass;
}

void ChatService::LeaderDone(Fingerprint fingerprint, uint64_t token, const std::string* answer,
                             bool cancelled) {
  InFlightDone done{fingerprint,
                    WaiterId{static_cast<uint32_t>(shard_.index()), token},
                    answer != nullptr,
                    cancelled,
                    {}};
  int owner = OwnerCore(fingerprint, shard_.core_count());
  if (owner != shard_.index()) {
    if (answer != nullptr)
      done.answer = *answer;
    shard_.Post(owner, std::make_unique<InFlightDoneMessage>(std::move(done)));
    return;
  }
  // Here the answer is copied only when someone waits for it.
  if (answer != nullptr && inflight_.followers(fingerprint) > 0)
    done.answer = *answer;
  OnRemoteInFlightDone(done);
}

void ChatService::FollowerGone(Fingerprint fingerprint, uint64_t token) {
  WaiterId me{static_cast<uint32_t>(shard_.index()), token};
  int owner = OwnerCore(fingerprint, shard_.core_count());
  if (owner != shard_.index()) {
    shard_.Post(owner, std::make_unique<FollowerGoneMessage>(fingerprint, me));
    return;
  }
  inflight_.CancelFollower(fingerprint, me);
}

void ChatService::OnRemoteInFlightRegister(const InFlightRegister& msg) {
  InFlightRegisterReply reply = ApplyInFlightRegister(inflight_, msg, shard_.now_ms());
  shard_.Post(static_cast<int>(msg.who.core),
              std::make_unique<InFlightRegisterReplyMessage>(reply));
}

void ChatService::OnInFlightRegisterReply(const InFlightRegisterReply& reply) {
  auto waiter = inflight_waiters_.find(reply.who.token);
  if (waiter == inflight_waiters_.end()) {
    // The client went away while the question was out: give back what the answer brings.
    if (reply.role == InFlightRole::kLeader)
      LeaderDone(reply.fingerprint, reply.who.token, nullptr, /*cancelled=*/true);
    if (reply.role == InFlightRole::kFollower)
      FollowerGone(reply.fingerprint, reply.who.token);
    return;
  }
  ChatExchange* exchange = waiter->second;
  if (reply.role == InFlightRole::kBypass)
    inflight_waiters_.erase(waiter);
  exchange->OnInFlightRole(reply.role);
}

void ChatService::OnRemoteInFlightDone(const InFlightDone& done) {
  std::vector<InFlightWake> wakes;
  ApplyInFlightDone(inflight_, done, shard_.now_ms(), &wakes);
  DeliverWakes(wakes);
}

void ChatService::OnRemoteFollowerGone(Fingerprint fingerprint, WaiterId who) {
  inflight_.CancelFollower(fingerprint, who);
}

void ChatService::DeliverWakes(std::vector<InFlightWake>& wakes) {
  for (InFlightWake& wake : wakes) {
    int core = static_cast<int>(wake.wake.waiter.core);
    if (core == shard_.index()) {
      OnInFlightWake(std::move(wake));
    } else {
      shard_.Post(core, std::make_unique<InFlightWakeMessage>(std::move(wake)));
    }
  }
}

void ChatService::OnInFlightWake(InFlightWake wake) {
  auto waiter = inflight_waiters_.find(wake.wake.waiter.token);
  if (waiter == inflight_waiters_.end()) {
    // Gone meanwhile: a lead handed to it passes on to the next follower.
    if (wake.wake.reason == WakeReason::kPromoted) {
      LeaderDone(wake.wake.fingerprint, wake.wake.waiter.token, nullptr, /*cancelled=*/true);
    }
    return;
  }
  ChatExchange* exchange = waiter->second;
  if (wake.wake.reason != WakeReason::kPromoted)
    inflight_waiters_.erase(waiter);
  exchange->OnInFlightWake(wake.wake.reason, std::move(wake.answer));
}

ChatExchange* ChatService::Acquire() {
  if (free_.empty()) {
    exchanges_.push_back(std::make_unique<ChatExchange>(this));
    return exchanges_.back().get();
  }
  ChatExchange* exchange = free_.back();
  free_.pop_back();
  return exchange;
}

void ChatService::Retire(ChatExchange* exchange) {
  retired_.push_back(exchange);
}

void ChatService::CountAnswers() {
  int64_t now = WallMillis();
  // The iteration's usage lines are fetched together, before the first count, so their misses
  // and page walks overlap (one prefetch at each success stalled the answer's path on its page
  // walk: docs/benchmarks.md, "Session of 2026-11-26 from 19:56 UTC").
  for (const AnsweredCall& call : answered_calls_)
    keys_.PrefetchUsage(call.key, call.model);
  for (uint32_t key : answered_keys_)
    throttle_.Record(key, /*got_429=*/false, 0, now);  // a success never trips it
  for (const AnsweredCall& call : answered_calls_)
    keys_.RecordUsage(call.key, call.model, call.tokens, now);
  answered_keys_.clear();
  answered_calls_.clear();
}

void ChatService::OnLoopEnd() {
  if (!answered_keys_.empty() || !answered_calls_.empty())
    CountAnswers();
  free_.insert(free_.end(), retired_.begin(), retired_.end());
  retired_.clear();
}

}  // namespace ringgate
