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

// Why a (key, model) rests: shown on the dashboard and kept in the state file.
enum class RestReason : uint8_t {
  kQuota,       // per-minute quota, or a 429 that names no window
  kDailyQuota,  // per-day quota, or the model is not in the key's tier: until the quota day ends
};

// "quota", "daily_quota".
const char* RestReasonName(RestReason reason);
// The reason of a name RestReasonName gives; std::nullopt for anything else.
std::optional<RestReason> RestReasonFromName(std::string_view name);

struct HealthEvent {
  HealthEventKind kind = HealthEventKind::kRestore;
  RestReason reason = RestReason::kQuota;  // kRest only
  uint32_t key = 0;
  uint32_t calls = 0;
  uint64_t tokens = 0;
  int64_t until_ms = 0;
  ModelName model;

  static HealthEvent Quarantine(uint32_t key);
  static HealthEvent Restore(uint32_t key);
  static HealthEvent Rest(uint32_t key, std::string_view model, int64_t until_ms,
                          RestReason reason = RestReason::kQuota);
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
