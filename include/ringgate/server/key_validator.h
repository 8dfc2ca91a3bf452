// KeyValidator: checks API keys against the upstream, as HAJIMI does at start-up: one
// GET /v1beta/models?pageSize=1 per key (the key in x-goog-api-key, never in the URL), at most
// `concurrency` at once, on the core's own UpstreamPool. A key Google rejects (ClassifyGeminiError
// says kQuarantineKey: 400 API_KEY_INVALID, 401, 403 suspended/leaked/blocked, ...) is quarantined
// on every core at once (ChatService::PublishHealth); an answer that is no verdict on the key
// (transport error, 5xx, 429) leaves the key as it was. Requests are served meanwhile.
//
// Progress is a KeyValidationPlan's (is_running, completed, total, valid, invalid, is_completed),
// for the dashboard; Start() may be called again ("test all keys") and is refused while a run is
// in progress. One core runs it (core 0 at start-up); the others learn through health events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ringgate/common/result.h"
#include "ringgate/keys/key_list.h"

namespace ringgate {

class ChatService;

class KeyValidator {
 public:
  // What one run checks.
  enum class Scope : uint8_t {
    kActive,  // the keys in rotation (start-up)
    kAll,     // rotation and quarantined keys; a quarantined key that answers 2xx comes back
  };

  // The validation request's target: distinct from the model fetch's (pageSize=1000).
  static constexpr char kPath[] = "/v1beta/models?pageSize=1";
  static constexpr size_t kDefaultConcurrency = 8;

  KeyValidator(ChatService* service, size_t concurrency);
  ~KeyValidator();
  KeyValidator(const KeyValidator&) = delete;
  KeyValidator& operator=(const KeyValidator&) = delete;

  // Starts a run; error (HAJIMI's 409 message) while one is in progress. A run over no key
  // completes at once.
  Status Start(Scope scope = Scope::kActive);
  const KeyValidationProgress& progress() const { return plan_.progress(); }
  bool running() const { return plan_.progress().is_running; }
  // Keys whose check got no verdict in the last run (transport error, 5xx, 429): kept as they were.
  size_t unchecked() const { return unchecked_; }

 private:
  class Probe;
  enum class Outcome : uint8_t { kValid, kInvalid, kNoVerdict };

  // Starts probes while keys are left and fewer than concurrency_ are in flight.
  void LaunchMore();
  void OnProbeDone(Probe* probe, Outcome outcome, const std::string& why);
  void Finish();

  ChatService* service_;
  size_t concurrency_;
  KeyValidationPlan plan_;
  std::vector<uint32_t> pool_index_;  // per plan key: its index in the key pool
  size_t next_ = 0;                   // next plan index to start
  size_t in_flight_ = 0;
  size_t unchecked_ = 0;
  size_t confirmed_ = 0;                        // keys that answered 2xx in this run
  std::vector<std::unique_ptr<Probe>> probes_;  // concurrency_ slots, reused
  std::vector<Probe*> idle_;
};

}  // namespace ringgate
