#include "ringgate/keys/health_event.h"

namespace ringgate {

HealthEvent HealthEvent::Quarantine(uint32_t key) {
  HealthEvent e;
  e.kind = HealthEventKind::kQuarantine;
  e.key = key;
  return e;
}

HealthEvent HealthEvent::Restore(uint32_t key) {
  HealthEvent e;
  e.kind = HealthEventKind::kRestore;
  e.key = key;
  return e;
}

const char* RestReasonName(RestReason reason) {
  return reason == RestReason::kDailyQuota ? "daily_quota" : "quota";
}

std::optional<RestReason> RestReasonFromName(std::string_view name) {
  if (name == "quota")
    return RestReason::kQuota;
  if (name == "daily_quota")
    return RestReason::kDailyQuota;
  return std::nullopt;
}

HealthEvent HealthEvent::Rest(uint32_t key, std::string_view model, int64_t until_ms,
                              RestReason reason) {
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
  switch (verdict.kind) {
    case VerdictKind::kQuarantineKey:
      return HealthEvent::Quarantine(key);
    case VerdictKind::kRestKeyModel:
      return HealthEvent::Rest(key, model, verdict.until_ms, RestReason::kQuota);
    case VerdictKind::kRestKeyModelUntilDailyReset:
      return HealthEvent::Rest(key, model, verdict.until_ms, RestReason::kDailyQuota);
    default:
      return std::nullopt;
  }
}

}  // namespace ringgate
