#include "handlers.h"

#include <simdjson.h>

#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "responses.h"
#include "ringgate/http/response.h"
#include "ringgate/io/timer_wheel.h"

namespace fake_gemini {

using ringgate::AsyncResponder;
using ringgate::HttpRequest;
using ringgate::Responder;
using ringgate::ResponseObserver;
using ringgate::Router;
using ringgate::Shard;
using ringgate::Timer;

namespace {

constexpr std::string_view kSseType = "text/event-stream";
constexpr uint64_t kCutGraceMs = 50;  // lets the events written before a cut reach the socket

int HexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// Finds `name` in a query string and percent-decodes its value into *out.
bool QueryParam(std::string_view query, std::string_view name, std::string* out) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = item.find('=');
    if (item.substr(0, eq) != name)
      continue;
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    out->clear();
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '%' && i + 2 < value.size()) {
        int hi = HexValue(value[i + 1]);
        int lo = HexValue(value[i + 2]);
        if (hi >= 0 && lo >= 0) {
          *out += static_cast<char>(hi * 16 + lo);
          i += 2;
          continue;
        }
      }
      *out += value[i];
    }
    return true;
  }
  return false;
}

bool ParseInt(std::string_view text, int64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

void AppendQuoted(std::string& out, std::string_view text) {
  out += '"';
  ringgate::AppendJsonEscaped(out, text);
  out += '"';
}

char LowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

uint64_t Fnv1a(std::string_view text, uint64_t hash = 0xcbf29ce484222325ull) {
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// What a generateContent / countTokens / embedContent body holds, as far as the fake cares.
struct BodySummary {
  int contents = 0;
  size_t text_bytes = 0;
  std::string_view last_text;  // valid until the parser iterates again
  // Embeddings: one entry per embedded content.
  std::vector<std::pair<uint64_t, int>> embeddings;  // (seed, outputDimensionality or 0)
  std::string error;                                 // why the body was rejected
};

class ShardContext;

// An answer given after the handler returned: delayed, streamed, cut, stalled or dropped.
// Pooled per shard; never deleted while the connection may still call it.
class Pending final : public ResponseObserver {
 public:
  enum class Mode { kSend, kDrop, kStream, kTruncated, kStall };

  explicit Pending(ShardContext* context) : context_(context) {
    timer_.set_callback(&Pending::TimerThunk, this);
  }

  void Reset() {
    mode = Mode::kSend;
    status = 200;
    content_type = kJsonType;
    body.clear();
    sse = true;
    next_event_ = 0;
    started_ = false;
    cutting_ = false;
    waiting_writable_ = false;
    out_ = nullptr;
    active_ = false;
  }

  // Starts answering: after `delay_ms`, or at once.
  void Begin(AsyncResponder* out, uint64_t delay_ms);

  void OnClientGone() override;
  void OnWritable() override {
    if (!waiting_writable_)
      return;
    waiting_writable_ = false;
    Step();
  }

  // Filled by the handler before Begin.
  Mode mode = Mode::kSend;
  int status = 200;
  std::string_view content_type = kJsonType;
  std::string body;  // kSend / kTruncated
  bool sse = true;   // kStream: SSE framing (else a JSON array)
  Script script;
  std::string model;
  std::string response_id;
  std::string answer;
  int prompt_tokens = 1;
  ErrorContext error_context;  // views into `model` and static strings

 private:
  static void TimerThunk(Timer*, void* self) { static_cast<Pending*>(self)->Step(); }
  void Step();
  void StepStream();
  void Schedule(uint64_t delay_ms);
  void Finish();

  ShardContext* context_;
  Timer timer_;
  AsyncResponder* out_ = nullptr;
  int next_event_ = 0;
  bool started_ = false;
  bool cutting_ = false;
  bool waiting_writable_ = false;
  bool active_ = false;
};

class ShardContext {
 public:
  ShardContext(Shard& shard, FakeState& state, const ModelCatalog& catalog)
      : shard_(shard), state_(state), catalog_(catalog) {}

  ~ShardContext() {
    // Connections are gone by now (the shard destroys them before its router); nothing here
    // touches a responder.
  }

  Shard& shard() { return shard_; }
  std::string& scratch() { return scratch_; }

  Pending* Acquire() {
    Pending* pending;
    if (free_.empty()) {
      all_.push_back(std::make_unique<Pending>(this));
      pending = all_.back().get();
    } else {
      pending = free_.back();
      free_.pop_back();
    }
    pending->Reset();
    return pending;
  }
  void Release(Pending* pending) { free_.push_back(pending); }

  // ---- Handlers ----
  void ModelsList(HttpRequest& request, Responder& responder, std::string_view version);
  void ModelsGet(HttpRequest& request, Responder& responder, std::string_view version);
  void ModelPost(HttpRequest& request, Responder& responder, std::string_view version);
  void Control(HttpRequest& request, Responder& responder);

 private:
  // Publishes stats, records the request and looks its key up. Returns false when the request
  // was answered (missing or bad key).
  bool Admit(HttpRequest& request, Responder& responder, std::string_view model,
             std::string_view api_method, ErrorContext& context, Script* script,
             KeyState* key_state);
  void BuildRecord(const HttpRequest& request, std::string_view key, std::string_view model,
                   std::string_view api_method);
  void SendError(Responder& responder, int status, std::string_view body);
  void SendPlainError(Responder& responder, int code, std::string_view status,
                      std::string_view message);
  bool ParseBody(std::string_view body, std::string_view method, std::string_view model,
                 BodySummary* summary);

  Shard& shard_;
  FakeState& state_;
  const ModelCatalog& catalog_;
  simdjson::ondemand::parser parser_;
  std::string json_buffer_;  // the request body, padded for simdjson
  std::string scratch_;      // response bodies and events
  std::string record_;       // the request log entry
  std::string key_;
  std::string query_value_;
  std::string response_id_;
  uint64_t responses_ = 0;
  std::vector<std::unique_ptr<Pending>> all_;
  std::vector<Pending*> free_;
};

// ---------------------------------------------------------------------------------------------
// Pending

void Pending::Begin(AsyncResponder* out, uint64_t delay_ms) {
  out_ = out;
  active_ = true;
  if (delay_ms > 0) {
    Schedule(delay_ms);
  } else {
    Step();
  }
}

void Pending::Schedule(uint64_t delay_ms) {
  Shard& shard = context_->shard();
  shard.timers().Schedule(&timer_, shard.now_ms() + delay_ms);
}

void Pending::Finish() {
  context_->shard().timers().Cancel(&timer_);
  active_ = false;
  out_ = nullptr;
  context_->Release(this);
}

void Pending::OnClientGone() {
  if (!active_)
    return;
  Finish();
}

void Pending::Step() {
  if (!active_)
    return;
  switch (mode) {
    case Mode::kSend:
      out_->Send(status, content_type, body);
      Finish();
      return;
    case Mode::kDrop:
      out_->AbortResponse();
      Finish();
      return;
    case Mode::kTruncated:
      if (cutting_) {
        out_->AbortResponse();
        Finish();
        return;
      }
      out_->StartStream(200, kJsonType);
      out_->WriteChunk(body);
      cutting_ = true;
      Schedule(kCutGraceMs);
      return;
    case Mode::kStall:
      if (!started_) {
        started_ = true;
        out_->StartStream(200, content_type);
      }
      return;  // nothing more until the client goes away
    case Mode::kStream:
      StepStream();
      return;
  }
}

void Pending::StepStream() {
  if (cutting_) {
    out_->AbortResponse();
    Finish();
    return;
  }
  if (!started_) {
    started_ = true;
    out_->StartStream(200, sse ? kSseType : kJsonType);
  }
  Generation generation;
  generation.script = &script;
  generation.model = model;
  generation.response_id = response_id;
  generation.answer = answer;
  generation.prompt_tokens = prompt_tokens;
  int total = generation.EventCount();
  std::string& event = context_->scratch();
  for (;;) {
    int index = next_event_;
    if (index == script.stall_after)
      return;  // nothing more until the client goes away
    if (index == script.cut_after) {
      cutting_ = true;
      Schedule(kCutGraceMs);
      return;
    }
    if (index == script.error_after || index >= total) {
      event.clear();
      if (index != script.error_after) {
        if (!sse)
          event += index == 0 ? "[]" : "]";
      } else {
        event += sse ? "data: " : (index == 0 ? "[" : ",\r\n");
        AppendScriptedError(event, script.error_status, error_context);
        event += sse ? "\r\n\r\n" : "]";
      }
      if (!event.empty())
        out_->WriteChunk(event);
      out_->EndStream();
      Finish();
      return;
    }
    event.clear();
    event += sse ? "data: " : (index == 0 ? "[" : ",\r\n");
    size_t json_start = event.size();
    generation.AppendEvent(event, index);
    if (script.malformed == index + 1) {
      event.resize(json_start + (event.size() - json_start) / 2);  // cut mid-object
    }
    if (sse)
      event += "\r\n\r\n";
    out_->WriteChunk(event);
    ++next_event_;
    if (script.delay_ms > 0 && next_event_ < total) {
      Schedule(static_cast<uint64_t>(script.delay_ms));
      return;
    }
    if (out_->congested()) {
      waiting_writable_ = true;
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ShardContext

void ShardContext::SendError(Responder& responder, int status, std::string_view body) {
  state_.CountError();
  responder.Send(status, kJsonType, body);
}

void ShardContext::SendPlainError(Responder& responder, int code, std::string_view status,
                                  std::string_view message) {
  scratch_.clear();
  AppendPlainError(scratch_, code, status, message);
  SendError(responder, code, scratch_);
}

void ShardContext::BuildRecord(const HttpRequest& request, std::string_view key,
                               std::string_view model, std::string_view api_method) {
  std::string& r = record_;
  r.clear();
  r += "{\"method\":";
  AppendQuoted(r, request.method_name);
  r += ",\"path\":";
  AppendQuoted(r, request.target);
  r += ",\"key\":";
  AppendQuoted(r, key);
  r += ",\"model\":";
  AppendQuoted(r, model);
  r += ",\"api_method\":";
  AppendQuoted(r, api_method);
  r += ",\"shard\":" + std::to_string(shard_.index());
  r += ",\"headers\":{";
  const auto& headers = request.headers;
  bool first = true;
  for (size_t i = 0; i < headers.size(); ++i) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) {
      seen = ringgate::EqualsIgnoreCase(headers[j].name, headers[i].name);
    }
    if (seen)
      continue;  // joined into the first occurrence
    if (!first)
      r += ',';
    first = false;
    r += '"';
    size_t name_start = r.size();
    ringgate::AppendJsonEscaped(r, headers[i].name);
    for (size_t k = name_start; k < r.size(); ++k)
      r[k] = LowerAscii(r[k]);
    r += "\":\"";
    ringgate::AppendJsonEscaped(r, headers[i].value);
    for (size_t j = i + 1; j < headers.size(); ++j) {
      if (ringgate::EqualsIgnoreCase(headers[j].name, headers[i].name)) {
        r += ", ";
        ringgate::AppendJsonEscaped(r, headers[j].value);
      }
    }
    r += '"';
  }
  r += "},\"body\":";
  AppendQuoted(r, request.body);
  r += '}';
}

bool ShardContext::Admit(HttpRequest& request, Responder& responder, std::string_view model,
                         std::string_view api_method, ErrorContext& context, Script* script,
                         KeyState* key_state) {
  state_.NoteAccepted(shard_.index(), shard_.accepted_connections(), shard_.live_connections());
  std::string_view key = request.Header("x-goog-api-key");
  if (key.empty() && QueryParam(request.query, "key", &key_))
    key = key_;
  if (state_.options().record > 0)
    BuildRecord(request, key, model, api_method);
  RequestView view{request.method_name, request.target, key, model, api_method};
  *key_state = state_.BeginRequest(view, record_, script);
  context.key = key;
  context.retry_delay = state_.options().retry_delay;
  if (key.empty()) {
    scratch_.clear();
    int status = AppendMissingKeyError(scratch_);
    SendError(responder, status, scratch_);
    return false;
  }
  if (*key_state != KeyState::kValid && *key_state != KeyState::kMinuteQuota &&
      *key_state != KeyState::kDayQuota) {
    scratch_.clear();
    int status = AppendKeyError(scratch_, *key_state, context);
    SendError(responder, status, scratch_);
    return false;
  }
  return true;
}

void ShardContext::ModelsList(HttpRequest& request, Responder& responder,
                              std::string_view version) {
  ErrorContext context;
  context.version = version;
  context.method = "models.list";
  KeyState key_state;
  if (!Admit(request, responder, {}, "models.list", context, nullptr, &key_state))
    return;
  int64_t page_size = 50;
  if (QueryParam(request.query, "pageSize", &query_value_) && !query_value_.empty()) {
    if (!ParseInt(query_value_, &page_size)) {
      SendPlainError(responder, 400, "INVALID_ARGUMENT",
                     "Invalid value at 'page_size' (TYPE_INT32), \"" + query_value_ + "\"");
      return;
    }
    if (page_size <= 0)
      page_size = 50;
    if (page_size > 1000)
      page_size = 1000;
  }
  std::string token;
  QueryParam(request.query, "pageToken", &token);
  scratch_.clear();
  if (!catalog_.AppendPage(scratch_, static_cast<int>(page_size), token)) {
    SendPlainError(responder, 400, "INVALID_ARGUMENT", "Invalid page token.");
    return;
  }
  responder.Send(200, kJsonType, scratch_);
}

void ShardContext::ModelsGet(HttpRequest& request, Responder& responder, std::string_view version) {
  std::string_view rest = request.path.substr(version.size() + 9);  // "/" version "/models/"
  ErrorContext context;
  context.version = version;
  context.method = "models.get";
  context.model = rest;
  KeyState key_state;
  if (!Admit(request, responder, rest, "models.get", context, nullptr, &key_state))
    return;
  const ModelInfo* model = catalog_.Find(rest);
  if (model == nullptr) {
    scratch_.clear();
    int status = AppendModelNotFound(scratch_, context);
    SendError(responder, status, scratch_);
    return;
  }
  responder.Send(200, kJsonType, model->json);
}

bool ShardContext::ParseBody(std::string_view body, std::string_view method, std::string_view model,
                             BodySummary* summary) {
  json_buffer_.assign(body);
  json_buffer_.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view view(json_buffer_.data(), json_buffer_.size(),
                                    json_buffer_.capacity());
  auto invalid = [&] {
    summary->error = "Invalid JSON payload received. Unexpected token.";
    return false;
  };
  simdjson::ondemand::document doc;
  simdjson::ondemand::object root;
  if (parser_.iterate(view).get(doc) || doc.get_object().get(root))
    return invalid();

  // contents: [{"role":..., "parts":[{"text":...}, ...]}, ...]
  auto walk_parts = [&](simdjson::ondemand::value value) -> bool {
    simdjson::ondemand::array parts;
    if (value.get_array().get(parts))
      return false;
    for (auto part_result : parts) {
      simdjson::ondemand::object part;
      if (part_result.get_object().get(part))
        return false;
      for (auto field : part) {
        std::string_view key;
        if (field.unescaped_key().get(key))
          return false;
        if (key != "text")
          continue;
        std::string_view text;
        if (field.value().get_string().get(text))
          return false;
        summary->text_bytes += text.size();
        summary->last_text = text;
      }
    }
    return true;
  };
  auto walk_content = [&](simdjson::ondemand::value value) -> bool {
    simdjson::ondemand::object content;
    if (value.get_object().get(content))
      return false;
    for (auto field : content) {
      std::string_view key;
      if (field.unescaped_key().get(key))
        return false;
      if (key != "parts")
        continue;
      simdjson::ondemand::value parts;
      if (field.value().get(parts) || !walk_parts(parts))
        return false;
    }
    return true;
  };
  auto walk_contents = [&](simdjson::ondemand::value value) -> bool {
    simdjson::ondemand::array contents;
    if (value.get_array().get(contents))
      return false;
    for (auto element : contents) {
      simdjson::ondemand::value content;
      if (element.get(content) || !walk_content(content))
        return false;
      ++summary->contents;
    }
    return true;
  };
  // One embedContent request: {"content":{...}, "outputDimensionality":N, ...}
  auto walk_embed = [&](simdjson::ondemand::object object, std::string_view prefix) -> bool {
    bool has_content = false;
    int64_t dims = 0;
    size_t bytes_before = summary->text_bytes;
    std::string_view last_before = summary->last_text;
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key))
        return false;
      if (key == "content") {
        simdjson::ondemand::value content;
        if (field.value().get(content) || !walk_content(content))
          return false;
        has_content = true;
      } else if (key == "outputDimensionality") {
        if (field.value().get_int64().get(dims))
          return false;
      } else if (key == "model") {
        std::string_view name;
        if (field.value().get_string().get(name))
          return false;
        if (name.substr(0, 7) == "models/")
          name.remove_prefix(7);
        if (name != model) {
          summary->error = "* " + std::string(prefix) +
                           ".model: Model name in request must match the model name in the URL.\n";
          return false;
        }
      }
    }
    if (!has_content) {
      summary->error = "* " + std::string(prefix) + ".content: content is not specified\n";
      return false;
    }
    std::string_view text = summary->text_bytes > bytes_before ? summary->last_text : last_before;
    summary->embeddings.emplace_back(Fnv1a(text), static_cast<int>(dims));
    return true;
  };

  bool embed = method == "embedContent";
  bool batch = method == "batchEmbedContents";
  if (embed) {
    if (!walk_embed(root, "EmbedContentRequest")) {
      return summary->error.empty() ? invalid() : false;
    }
    return true;
  }
  bool has_contents = false;
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key))
      return invalid();
    simdjson::ondemand::value value;
    if (field.value().get(value))
      return invalid();
    if (key == "contents" && !batch) {
      if (!walk_contents(value))
        return invalid();
      has_contents = true;
    } else if (key == "generateContentRequest" && method == "countTokens") {
      simdjson::ondemand::object wrapped;
      if (value.get_object().get(wrapped))
        return invalid();
      for (auto inner : wrapped) {
        std::string_view inner_key;
        if (inner.unescaped_key().get(inner_key))
          return invalid();
        if (inner_key != "contents")
          continue;
        simdjson::ondemand::value contents;
        if (inner.value().get(contents) || !walk_contents(contents))
          return invalid();
        has_contents = true;
      }
    } else if (key == "requests" && batch) {
      simdjson::ondemand::array requests;
      if (value.get_array().get(requests))
        return invalid();
      int index = 0;
      for (auto element : requests) {
        simdjson::ondemand::object object;
        if (element.get_object().get(object))
          return invalid();
        std::string prefix = "BatchEmbedContentsRequest.requests[" + std::to_string(index) + "]";
        if (!walk_embed(object, prefix))
          return summary->error.empty() ? invalid() : false;
        ++index;
      }
      has_contents = index > 0;
    }
  }
  if (batch && !has_contents) {
    summary->error = "* BatchEmbedContentsRequest.requests: requests is not specified\n";
    return false;
  }
  if (!batch && (!has_contents || summary->contents == 0)) {
    summary->error = method == "countTokens"
                         ? "* CountTokensRequest.contents: contents is not specified\n"
                         : "* GenerateContentRequest.contents: contents is not specified\n";
    return false;
  }
  return true;
}

void ShardContext::ModelPost(HttpRequest& request, Responder& responder, std::string_view version) {
  std::string_view rest = request.path.substr(version.size() + 9);
  size_t colon = rest.find(':');
  std::string_view model_id = rest.substr(0, colon);
  std::string_view method = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
  bool generate = method == "generateContent";
  bool stream = method == "streamGenerateContent";
  bool known = generate || stream || method == "countTokens" || method == "embedContent" ||
               method == "batchEmbedContents";
  ErrorContext context;
  context.version = version;
  context.model = model_id;
  context.method = method;
  Script script;
  KeyState key_state;
  if (!Admit(request, responder, model_id, known ? method : std::string_view("unknown"), context,
             &script, &key_state)) {
    return;
  }
  if (!known) {
    SendPlainError(responder, 404, "NOT_FOUND",
                   "Method not found: " + std::string(method.empty() ? rest : method));
    return;
  }
  std::string_view header_script = request.Header("x-fake-script");
  if (!header_script.empty()) {
    ringgate::Status applied = script.Apply(header_script);
    if (!applied.ok()) {
      SendPlainError(responder, 400, "INVALID_ARGUMENT", applied.message());
      return;
    }
  }
  const ModelInfo* model = catalog_.Find(model_id);
  if (model == nullptr || !ModelCatalog::Supports(*model, method)) {
    scratch_.clear();
    int status = AppendModelNotFound(scratch_, context);
    SendError(responder, status, scratch_);
    return;
  }
  bool quota_applies = method != "countTokens";
  if (quota_applies && key_state != KeyState::kValid) {
    scratch_.clear();
    int status = AppendKeyError(scratch_, key_state, context);
    SendError(responder, status, scratch_);
    return;
  }
  if (!script.retry_delay.empty())
    context.retry_delay = script.retry_delay;

  BodySummary summary;
  if (!ParseBody(request.body, method, model_id, &summary)) {
    SendPlainError(responder, 400, "INVALID_ARGUMENT", summary.error);
    return;
  }
  int prompt_tokens =
      script.prompt_tokens >= 0 ? script.prompt_tokens : std::max(1, TokensFor(summary.text_bytes));

  // A whole answer takes as long as its stream would: the first delay, then one delay_ms per
  // further event.
  uint64_t delay = static_cast<uint64_t>(script.delay_first_ms);
  if (generate && script.delay_ms > 0 && script.status.empty()) {
    delay += static_cast<uint64_t>(script.delay_ms) * static_cast<uint64_t>(script.events - 1);
  }
  bool deferred = delay > 0 || script.drop || script.stall_after >= 0 ||
                  (!stream && script.cut_after >= 0) || stream;

  // The answer (or the error) as a whole body, unless it is streamed.
  int status = 200;
  scratch_.clear();
  if (!script.status.empty()) {
    status = AppendScriptedError(scratch_, script.status, context);
  } else if (generate) {
    std::string_view answer =
        !script.text.empty()
            ? std::string_view(script.text)
            : (script.echo ? summary.last_text : FillerText(static_cast<size_t>(script.text_len)));
    MakeResponseId(response_id_, static_cast<uint64_t>(shard_.index()), ++responses_);
    Generation generation;
    generation.script = &script;
    generation.model = model_id;
    generation.response_id = response_id_;
    generation.answer = answer;
    generation.prompt_tokens = prompt_tokens;
    generation.AppendWhole(scratch_);
    if (script.malformed > 0)
      scratch_.resize(scratch_.size() / 2);
  } else if (method == "countTokens") {
    scratch_ += "{\"totalTokens\":" + std::to_string(prompt_tokens) +
                ",\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":" +
                std::to_string(prompt_tokens) + "}]}";
  } else if (!stream) {
    bool batch = method == "batchEmbedContents";
    scratch_ += batch ? "{\"embeddings\":[" : "{\"embedding\":";
    for (size_t i = 0; i < summary.embeddings.size(); ++i) {
      if (i > 0)
        scratch_ += ',';
      int dims = summary.embeddings[i].second;
      if (dims <= 0 || dims > model->embedding_dims)
        dims = model->embedding_dims;
      catalog_.AppendEmbedding(scratch_, dims, summary.embeddings[i].first);
    }
    scratch_ += batch ? "]}" : "}";
  }

  if (!deferred) {
    if (status != 200) {
      SendError(responder, status, scratch_);
    } else {
      responder.Send(200, kJsonType, scratch_);
    }
    return;
  }

  Pending* pending = Acquire();
  AsyncResponder* out = responder.Defer(pending);
  if (out == nullptr) {  // cannot happen with a real connection
    Release(pending);
    responder.Send(status, kJsonType, scratch_);
    return;
  }
  if (status != 200)
    state_.CountError();
  if (script.drop) {
    pending->mode = Pending::Mode::kDrop;
  } else if (!stream || status != 200) {
    if (script.stall_after >= 0) {
      pending->mode = Pending::Mode::kStall;
    } else if (script.cut_after >= 0 && status == 200) {
      pending->mode = Pending::Mode::kTruncated;
      pending->body.assign(scratch_, 0, scratch_.size() / 2);
    } else {
      pending->mode = Pending::Mode::kSend;
      pending->status = status;
      pending->body.assign(scratch_);
    }
  } else {
    pending->mode = Pending::Mode::kStream;
    std::string alt;
    pending->sse = QueryParam(request.query, "alt", &alt) && alt == "sse";
    pending->script = script;
    pending->model.assign(model_id);
    MakeResponseId(pending->response_id, static_cast<uint64_t>(shard_.index()), ++responses_);
    if (!script.text.empty()) {
      pending->answer.assign(script.text);
    } else if (script.echo) {
      pending->answer.assign(summary.last_text);
    } else {
      pending->answer.assign(FillerText(static_cast<size_t>(script.text_len)));
    }
    pending->prompt_tokens = prompt_tokens;
    pending->error_context = context;
    pending->error_context.model = pending->model;
    pending->error_context.key = {};
    pending->error_context.retry_delay = state_.options().retry_delay;
    pending->error_context.method = "streamGenerateContent";
  }
  pending->Begin(out, delay);
}

void ShardContext::Control(HttpRequest& request, Responder& responder) {
  state_.NoteAccepted(shard_.index(), shard_.accepted_connections(), shard_.live_connections());
  std::string_view path = request.path;
  std::string_view verb = request.method_name;
  bool get = request.is_get() || request.is_head();
  auto ok = [&] { responder.Send(200, kJsonType, "{\"ok\":true}"); };
  auto bad = [&](const std::string& message) {
    SendPlainError(responder, 400, "INVALID_ARGUMENT", message);
  };
  if (path == "/_fake/keys") {
    if (get)
      return responder.Send(200, kJsonType, state_.KeysJson());
    if (verb == "DELETE") {
      state_.ResetKeys();
      return ok();
    }
    ringgate::Status s = state_.SetKeys(request.body);
    return s.ok() ? ok() : bad(s.message());
  }
  if (path == "/_fake/script") {
    if (get)
      return responder.Send(200, kJsonType, state_.DefaultScriptJson());
    if (verb == "DELETE") {
      state_.ResetDefaultScript();
      return ok();
    }
    ringgate::Status s = state_.SetDefaultScript(request.body);
    return s.ok() ? ok() : bad(s.message());
  }
  if (path == "/_fake/requests") {
    if (get)
      return responder.Send(200, kJsonType, state_.RequestsJson());
    state_.ClearRequests();
    return ok();
  }
  if (path == "/_fake/stats") {
    if (get)
      return responder.Send(200, kJsonType, state_.StatsJson());
    state_.ResetStats();
    return ok();
  }
  if (path == "/_fake/reset") {
    state_.ResetKeys();
    state_.ResetDefaultScript();
    state_.ClearRequests();
    state_.ResetStats();
    return ok();
  }
}

}  // namespace

void InstallRoutes(Router& router, Shard& shard, FakeState& state, const ModelCatalog& catalog) {
  auto context = std::make_shared<ShardContext>(shard, state, catalog);
  for (std::string_view version : {"v1beta", "v1alpha", "v1"}) {
    std::string base(1, '/');  // (built by appends: GCC 12 warns falsely on "/" + string)
    base.append(version);
    base.append("/models");
    router.Add("GET", base, [context, version](HttpRequest& request, Responder& responder) {
      context->ModelsList(request, responder, version);
    });
    router.AddPrefix("GET", base + "/",
                     [context, version](HttpRequest& request, Responder& responder) {
                       context->ModelsGet(request, responder, version);
                     });
    router.AddPrefix("POST", base + "/",
                     [context, version](HttpRequest& request, Responder& responder) {
                       context->ModelPost(request, responder, version);
                     });
  }
  auto control = [context](HttpRequest& request, Responder& responder) {
    context->Control(request, responder);
  };
  router.Add("GET", "/_fake/keys", control);
  router.Add("POST", "/_fake/keys", control);
  router.Add("DELETE", "/_fake/keys", control);
  router.Add("GET", "/_fake/script", control);
  router.Add("POST", "/_fake/script", control);
  router.Add("DELETE", "/_fake/script", control);
  router.Add("GET", "/_fake/requests", control);
  router.Add("DELETE", "/_fake/requests", control);
  router.Add("GET", "/_fake/stats", control);
  router.Add("DELETE", "/_fake/stats", control);
  router.Add("POST", "/_fake/reset", control);
  router.Add("GET", "/healthz", [](HttpRequest&, Responder& responder) {
    responder.Send(200, "application/json", R"({"status":"ok"})");
  });
}

}  // namespace fake_gemini
