#include "ringgate/keys/health_event.h"

#include <utility>

namespace ringgate {

const char* HealthReasonText(HealthReason reason) {
  switch (reason) {
    case HealthReason::kUnknown:
      return "";
    case HealthReason::kMinuteQuota:
      return "429: per-minute quota";
    case HealthReason::kDailyQuota:
      return "429: daily quota";
    case HealthReason::kNotInTier:
      return "model not available to this key";
    case HealthReason::kKeyInvalid:
      return "API_KEY_INVALID";
    case HealthReason::kKeyRejected:
      return "key rejected by Google";
    case HealthReason::kListedInvalid:
      return "listed in INVALID_API_KEYS";
  }
  return "";
}

namespace {
constexpr std::pair<HealthReason, std::string_view> kReasonNames[] = {
    {HealthReason::kUnknown, "unknown"},
    {HealthReason::kMinuteQuota, "minute_quota"},
    {HealthReason::kDailyQuota, "daily_quota"},
    {HealthReason::kNotInTier, "not_in_tier"},
    {HealthReason::kKeyInvalid, "key_invalid"},
    {HealthReason::kKeyRejected, "key_rejected"},
    {HealthReason::kListedInvalid, "listed_invalid"},
};
}  // namespace

const char* HealthReasonName(HealthReason reason) {
  for (const auto& [r, name] : kReasonNames) {
    if (r == reason)
      return name.data();
  }
  return "unknown";
}

std::optional<HealthReason> HealthReasonFromName(std::string_view name) {
  for (const auto& [r, n] : kReasonNames) {
    if (n == name)
      return r;
  }
  if (name == "quota")
    return HealthReason::kMinuteQuota;
  return std::nullopt;
}

HealthEvent HealthEvent::Quarantine(uint32_t key, HealthReason reason) {
  HealthEvent e;
  e.kind = HealthEventKind::kQuarantine;
  e.key = key;
  e.reason = reason;
  return e;
}

HealthEvent HealthEvent::Restore(uint32_t key) {
  HealthEvent e;
  e.kind = HealthEventKind::kRestore;
  e.key = key;
  return e;
}

HealthEvent HealthEvent::Rest(uint32_t key, std::string_view model, int64_t until_ms,
                              HealthReason reason) {
  HealthEvent e;
  e.kind = HealthEventKind::kRest;
  e.reason = reason;
  e.key = key;
  e.model = ModelName::From(model);
  e.until_ms = until_ms;
  return e;
}

HealthEvent HealthEvent::Usage(uint32_t key, std::string_view model, uint32_t calls,
                               uint64_t tokens, int64_t day_end_ms) {
  HealthEvent e;
  e.kind = HealthEventKind::kUsage;
  e.key = key;
  e.model = ModelName::From(model);
  e.calls = calls;
  e.tokens = tokens;
  e.until_ms = day_end_ms;
  return e;
}

HealthEvent HealthEvent::ResetUsage() {
  HealthEvent e;
  e.kind = HealthEventKind::kResetUsage;
  return e;
}

HealthEvent HealthEvent::Throttle(int64_t until_ms) {
  HealthEvent e;
  e.kind = HealthEventKind::kThrottle;
  e.until_ms = until_ms;
  return e;
}

std::optional<HealthEvent> HealthEventFor(const UpstreamVerdict& verdict, uint32_t key,
                                          std::string_view model) {
  std::optional<HealthEvent> event;
  switch (verdict.kind) {
    case VerdictKind::kQuarantineKey:
      event = HealthEvent::Quarantine(
          key, verdict.http_status == 400 ? HealthReason::kKeyInvalid : HealthReason::kKeyRejected);
      break;
    case VerdictKind::kRestKeyModel:
      event = HealthEvent::Rest(key, model, verdict.until_ms, HealthReason::kMinuteQuota);
      break;
    case VerdictKind::kRestKeyModelUntilDailyReset:
      event = HealthEvent::Rest(key, model, verdict.until_ms,
                                verdict.failure == FailureClass::kQuota ? HealthReason::kDailyQuota
                                                                        : HealthReason::kNotInTier);
      break;
    default:
      return std::nullopt;
  }
  if (verdict.http_status > 0 && verdict.http_status < 1000)
    event->http_status = static_cast<uint16_t>(verdict.http_status);
  return event;
}

}  // namespace ringgate
