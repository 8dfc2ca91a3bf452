// HealthEvent: one change to the key pool's state, as a small trivially copyable value. The core
// that learns something (an upstream answer, a dashboard action, its own usage) makes the event,
// applies it to its KeyPoolShard and sends a copy to every other core, which applies it too.
// Applying is idempotent where it can be (quarantine, restore, rest = max of the ends), so the
// order in which events from different cores arrive does not matter for them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "ringgate/keys/model_registry.h"
#include "ringgate/keys/upstream_verdict.h"

namespace ringgate {

enum class HealthEventKind : uint8_t {
  kQuarantine,  // key leaves rotation
  kRestore,     // key comes back (rests per model are kept)
  kRest,        // (key, model) rests until until_ms; a later end wins over an earlier one
  kUsage,       // another core's usage delta for (key, model); until_ms = its usage day's end
  kResetUsage,  // dashboard "reset stats": usage counters to zero
  kThrottle,    // server-level backoff (Google limits this host) until until_ms
};

// Why a key was quarantined or a (key, model) rests, for the dashboard. Travels inside the event,
// so every core can say why.
enum class HealthReason : uint8_t {
  kUnknown,
  kMinuteQuota,    // 429, per-minute (or unnamed) quota
  kDailyQuota,     // 429, per-day quota: until the daily reset
  kNotInTier,      // the model is not available to this key (until the daily reset)
  kKeyInvalid,     // 400 API_KEY_INVALID
  kKeyRejected,    // 401 / 402 / 403: suspended, leaked, blocked, unpaid
  kListedInvalid,  // INVALID_API_KEYS at start-up
};

// Short human text: "429: per-minute quota", "API_KEY_INVALID", ...
const char* HealthReasonText(HealthReason reason);
// A stable identifier for files: "minute_quota", "daily_quota", "not_in_tier", ...
const char* HealthReasonName(HealthReason reason);
// The reason of a name HealthReasonName gives (and the state file's older "quota"); std::nullopt
// for anything else.
std::optional<HealthReason> HealthReasonFromName(std::string_view name);

struct HealthEvent {
  HealthEventKind kind = HealthEventKind::kRestore;
  HealthReason reason = HealthReason::kUnknown;  // kQuarantine, kRest
  uint16_t http_status = 0;                      // the upstream status behind it, 0 if none
  uint32_t key = 0;
  uint32_t calls = 0;
  uint64_t tokens = 0;
  int64_t until_ms = 0;
  ModelName model;

  static HealthEvent Quarantine(uint32_t key, HealthReason reason = HealthReason::kUnknown);
  static HealthEvent Restore(uint32_t key);
  static HealthEvent Rest(uint32_t key, std::string_view model, int64_t until_ms,
                          HealthReason reason = HealthReason::kUnknown);
  static HealthEvent Usage(uint32_t key, std::string_view model, uint32_t calls, uint64_t tokens,
                           int64_t day_end_ms);
  static HealthEvent ResetUsage();
  static HealthEvent Throttle(int64_t until_ms);
};

static_assert(std::is_trivially_copyable_v<HealthEvent>);
static_assert(sizeof(HealthEvent) <= 104);

// The event an upstream verdict calls for, if any: kQuarantineKey -> kQuarantine,
// kRestKeyModel* -> kRest(until_ms). model = the upstream model name the quota applies to.
std::optional<HealthEvent> HealthEventFor(const UpstreamVerdict& verdict, uint32_t key,
                                          std::string_view model);

}  // namespace ringgate
