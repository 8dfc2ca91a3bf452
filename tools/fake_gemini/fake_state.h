// fake-gemini's state: the options it was started with, the per-request script, the key states
// and the request log. One FakeState is shared by every shard; it is guarded by one mutex (this is
// a test tool: one uncontended lock per request is cheap next to the socket work).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ringgate/common/result.h"

namespace fake_gemini {

// ---------------------------------------------------------------------------------------------
// Scripted behaviour of one request.

enum class EmptyMode { kNone, kNoParts, kEmptyText };
enum class BlockMode { kNone, kPrompt, kCandidate };

struct Script {
  int events = 3;             // answer events of a stream (the last carries finishReason)
  int delay_first_ms = 0;     // before the first event, or before a non-stream answer
  int delay_ms = 0;           // between stream events
  int text_len = 32;          // characters of generated answer text
  std::string text;           // fixed answer text (wins over text_len)
  bool echo = false;          // answer with the last text of the request's contents
  int thoughts = 0;           // thought parts (stream: thought events) before the answer
  std::string function_call;  // name of a functionCall part to add; empty: none
  std::string function_args;  // raw JSON object for its args; empty: {"location":"Paris"}
  EmptyMode empty = EmptyMode::kNone;
  BlockMode block = BlockMode::kNone;
  std::string finish = "STOP";  // finishReason of the candidate
  std::string status;           // answer with this error instead: "503", "429_day", ...
  std::string retry_delay;      // RetryInfo.retryDelay of 429s; empty: the --retry-delay flag
  int cut_after = -1;           // stream: cut the connection after N events (no final chunk)
  bool drop = false;            // close the connection without answering
  int malformed = 0;     // stream: event N (1-based) is not valid JSON; non-stream: any N > 0
  int stall_after = -1;  // send the headers and N events, then nothing until the client leaves
  int error_after = -1;  // stream: after N events send data: {"error":...} and end the stream
  std::string error_status = "500";  // the error of error_after
  int prompt_tokens = -1;            // promptTokenCount override
  int times = -1;  // default script only: applies to this many requests, then resets

  // Applies "k=v;k=v" on top of this script. Unknown knobs and bad values fail.
  ringgate::Status Apply(std::string_view text);
  // Applies one knob.
  ringgate::Status Set(std::string_view key, std::string_view value);
  // The knobs that differ from a default Script, as "k=v;k=v".
  std::string ToString() const;
};

// Applies a JSON object {"knob": value, ...} (numbers, strings, booleans) or, when the text does
// not start with '{', the "k=v;k=v" syntax.
ringgate::Status ApplyScriptBody(Script& script, std::string_view body);

// ---------------------------------------------------------------------------------------------
// Keys.

enum class KeyState {
  kValid,
  kInvalid,      // 400 INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID
  kSuspended,    // 403 PERMISSION_DENIED, ErrorInfo CONSUMER_SUSPENDED
  kLeaked,       // 403 PERMISSION_DENIED "reported as leaked", no details
  kBlocked,      // 403 PERMISSION_DENIED, ErrorInfo API_KEY_SERVICE_BLOCKED
  kMinuteQuota,  // 429 RESOURCE_EXHAUSTED, quotaId ...PerMinute...
  kDayQuota,     // 429 RESOURCE_EXHAUSTED, quotaId ...PerDay...
};

bool ParseKeyState(std::string_view text, KeyState* out);
std::string_view KeyStateName(KeyState state);

// ---------------------------------------------------------------------------------------------
// Options from the command line.

struct Options {
  std::string listen = "127.0.0.1:8090";
  int threads = 1;
  std::string tls_cert;
  std::string tls_key;
  std::vector<std::pair<std::string, KeyState>> keys;  // from --keys-file and the key lists
  bool any_key_valid = true;                           // keys not listed are valid (when non-empty)
  std::string retry_delay = "17s";
  size_t record = 100;  // requests kept for GET /_fake/requests; 0 records nothing
  std::string script;   // the initial default script
  uint32_t drain_timeout_ms = 1000;
  std::string log_level = "warning";
};

// Parses argv. On error the Status says what is wrong; `--help` sets *help.
ringgate::Result<Options> ParseOptions(int argc, const char* const* argv, bool* help);
std::string HelpText();

// ---------------------------------------------------------------------------------------------
// Shared state.

// What the handler learns under the lock at the start of an API request.
struct RequestView {
  std::string_view method_name;  // "POST"
  std::string_view target;       // path and query, as sent
  std::string_view key;          // the API key (header or query), maybe empty
  std::string_view model;        // model id, maybe empty
  std::string_view api_method;   // "generateContent", "models.list", ...
};

class FakeState {
 public:
  FakeState(const Options& options, int shards);

  const Options& options() const { return options_; }

  // Records the request (when recording is on), counts it, and answers the key's state for the
  // model and the script that applies (the default, consumed when it has `times`).
  // `entry_json` is the request's log entry, already formatted; it is swapped with a recycled
  // buffer so the caller's string keeps its capacity.
  KeyState BeginRequest(const RequestView& request, std::string& entry_json, Script* script);

  // Runs on shard `shard` at every request: publishes its accepted-connection count for stats.
  void NoteAccepted(int shard, uint64_t accepted, uint64_t live) {
    accepted_[shard].store(accepted, std::memory_order_relaxed);
    live_[shard].store(live, std::memory_order_relaxed);
  }
  void CountError() { errors_.fetch_add(1, std::memory_order_relaxed); }

  // ---- Control endpoints ----
  ringgate::Status SetKeys(std::string_view json);
  std::string KeysJson();
  void ResetKeys();
  ringgate::Status SetDefaultScript(std::string_view body);
  void ResetDefaultScript();
  std::string DefaultScriptJson();
  std::string RequestsJson();
  void ClearRequests();
  std::string StatsJson();
  void ResetStats();

 private:
  struct TransparentHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using KeyMap = std::unordered_map<std::string, KeyState, TransparentHash, std::equal_to<>>;

  void InitialKeys();
  KeyState LookUpKey(std::string_view key, std::string_view model) const;

  Options options_;
  int shard_count_;
  std::unique_ptr<std::atomic<uint64_t>[]> accepted_;
  std::unique_ptr<std::atomic<uint64_t>[]> live_;
  std::atomic<uint64_t> errors_{0};

  std::mutex mutex_;
  KeyMap keys_;
  std::unordered_map<std::string, KeyMap, TransparentHash, std::equal_to<>> model_keys_;
  Script initial_script_;
  Script default_script_;
  std::vector<std::string> log_;  // ring of formatted entries
  size_t log_next_ = 0;           // slot the next entry goes to
  size_t log_size_ = 0;
  uint64_t requests_ = 0;
  std::unordered_map<std::string, uint64_t, TransparentHash, std::equal_to<>> by_method_;
  uint64_t accepted_baseline_ = 0;
};

}  // namespace fake_gemini
