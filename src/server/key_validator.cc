#include "ringgate/server/key_validator.h"

#include "ringgate/common/clock.h"
#include "ringgate/common/log.h"
#include "ringgate/keys/health_event.h"
#include "ringgate/keys/key_pool.h"
#include "ringgate/keys/upstream_verdict.h"
#include "ringgate/server/chat_service.h"
#include "ringgate/upstream/upstream_pool.h"

namespace ringgate {
namespace {

constexpr size_t kMaxBodyBytes = 1 << 20;
constexpr size_t kMaxErrorBodyBytes = 64 << 10;
// Invalid keys named in the summary line (masked); the rest are counted.
constexpr size_t kMaxListedInvalid = 20;

}  // namespace

// One validation request in flight (a slot, reused from key to key).
class KeyValidator::Probe final : public UpstreamHandler {
 public:
  explicit Probe(KeyValidator* owner) : owner_(owner) {}
  ~Probe() override { Cancel(); }

  size_t index() const { return index_; }
  int status() const { return status_; }

  void Begin(size_t index, std::string_view key) {
    index_ = index;
    status_ = 0;
    body_.clear();
    UpstreamRequest request;
    request.method = "GET";
    request.path = kPath;
    request.api_key = key;  // x-goog-api-key
    request.max_body_bytes = kMaxBodyBytes;
    exchange_ = owner_->service_->upstream().Start(request, this);
  }

  void Cancel() {
    if (exchange_ == nullptr)
      return;
    UpstreamExchange* exchange = exchange_;
    exchange_ = nullptr;
    exchange->Cancel();
  }

  void OnUpstreamHead(const HttpResponseHead& head) override { status_ = head.status; }

  bool OnUpstreamBody(std::string_view piece) override {
    // A 2xx body is not needed; an error body is classified.
    if ((status_ < 200 || status_ > 299) && body_.size() < kMaxErrorBodyBytes) {
      body_.append(piece.substr(0, kMaxErrorBodyBytes - body_.size()));
    }
    return true;
  }

  void OnUpstreamComplete() override {
    exchange_ = nullptr;
    if (status_ >= 200 && status_ <= 299) {
      owner_->OnProbeDone(this, Outcome::kValid, {});
      return;
    }
    UpstreamVerdict verdict = ClassifyGeminiError(status_, body_, WallMillis());
    std::string why = "HTTP " + std::to_string(status_);
    if (!verdict.reason.empty())
      why += " " + verdict.reason;
    owner_->OnProbeDone(
        this, verdict.kind == VerdictKind::kQuarantineKey ? Outcome::kInvalid : Outcome::kNoVerdict,
        why);
  }

  void OnUpstreamError(const UpstreamError& error) override {
    exchange_ = nullptr;
    owner_->OnProbeDone(
        this, Outcome::kNoVerdict,
        std::string(UpstreamErrorName(error.kind)) + ": " + MaskApiKeys(error.message));
  }

 private:
  KeyValidator* owner_;
  UpstreamExchange* exchange_ = nullptr;
  size_t index_ = 0;
  int status_ = 0;
  std::string body_;
};

KeyValidator::KeyValidator(ChatService* service, size_t concurrency)
    : service_(service), concurrency_(concurrency == 0 ? 1 : concurrency) {}

// Destroyed before the core's UpstreamPool (ChatService is): probes still in flight are
// cancelled, so the pool never calls into a freed handler.
KeyValidator::~KeyValidator() = default;

Status KeyValidator::Start(Scope scope) {
  KeyPoolShard& keys = service_->keys();
  KeyLists lists;
  lists.valid = keys.ActiveKeys();
  if (scope == Scope::kAll)
    lists.invalid = keys.QuarantinedKeys();
  Status started = plan_.Start(lists);
  if (!started.ok())
    return started;
  pool_index_.clear();
  for (const std::string& key : plan_.keys())
    pool_index_.push_back(*keys.IndexOf(key));
  next_ = 0;
  in_flight_ = 0;
  unchecked_ = 0;
  confirmed_ = 0;
  RG_LOG(kInfo, "key check: validating %zu keys, at most %zu at once", pool_index_.size(),
         concurrency_);
  LaunchMore();
  if (in_flight_ == 0)
    Finish();  // nothing to check
  return Status::Ok();
}

void KeyValidator::LaunchMore() {
  while (next_ < pool_index_.size() && in_flight_ < concurrency_) {
    if (idle_.empty()) {
      probes_.push_back(std::make_unique<Probe>(this));
      idle_.push_back(probes_.back().get());
    }
    Probe* probe = idle_.back();
    idle_.pop_back();
    ++in_flight_;
    size_t index = next_++;
    probe->Begin(index, service_->keys().key(pool_index_[index]));
  }
}

void KeyValidator::OnProbeDone(Probe* probe, Outcome outcome, const std::string& why) {
  --in_flight_;
  idle_.push_back(probe);
  size_t index = probe->index();
  uint32_t key = pool_index_[index];
  KeyPoolShard& keys = service_->keys();
  switch (outcome) {
    case Outcome::kValid:
      plan_.RecordResult(index, true);
      ++confirmed_;
      // "Test all keys": a quarantined key that works again comes back.
      if (keys.IsQuarantined(key))
        service_->PublishHealth(HealthEvent::Restore(key));
      break;
    case Outcome::kInvalid:
      plan_.RecordResult(index, false);
      if (!keys.IsQuarantined(key)) {
        HealthEvent event = HealthEvent::Quarantine(
            key, probe->status() == 400 ? HealthReason::kKeyInvalid : HealthReason::kKeyRejected);
        event.http_status = static_cast<uint16_t>(probe->status());
        service_->PublishHealth(event);
      }
      RG_LOG(kWarning, "key check: %s... rejected (%s): out of rotation",
             std::string(KeyLabel(keys.key(key))).c_str(), why.c_str());
      break;
    case Outcome::kNoVerdict:
      // No word on the key itself: it keeps its standing.
      plan_.RecordResult(index, !keys.IsQuarantined(key));
      ++unchecked_;
      RG_LOG(kWarning, "key check: %s... not checked (%s): kept as it was",
             std::string(KeyLabel(keys.key(key))).c_str(), why.c_str());
      break;
  }
  LaunchMore();
  if (in_flight_ == 0 && next_ == pool_index_.size())
    Finish();
}

void KeyValidator::Finish() {
  const KeyValidationProgress& p = plan_.progress();
  std::string invalid;
  size_t listed = 0;
  for (const std::string& key : plan_.FinalLists().invalid) {
    if (listed == kMaxListedInvalid) {
      invalid += ", ...";
      break;
    }
    invalid += listed++ == 0 ? " (" : ", ";
    invalid += KeyLabel(key);
    invalid += "...";
  }
  if (listed > 0 && listed <= kMaxListedInvalid)
    invalid += ")";
  RG_LOG(kInfo, "key check done: %zu keys, %zu valid, %zu invalid%s, %zu unchecked (kept)", p.total,
         confirmed_, p.invalid, invalid.c_str(), unchecked_);
}

}  // namespace ringgate
