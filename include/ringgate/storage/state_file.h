// ringgate-state.json: what the key pool has learnt and the day's usage, so a restart loses
// nothing (HAJIMI keeps none of it). The file is ringgate's own (version 1, docs/storage.md):
//
//   {
//     "version": 1,
//     "saved_at_ms": 1735732800000,
//     "quarantined_keys": ["AIza..."],                       full keys: the file is the user's
//     "resting": [{"key": "AIza...", "model": "gemini-2.5-flash", "until_ms": ..., "reason":
//     "quota"}], "usage": {"day_end_ms": ..., "by_key_model": [{"key": "AIza...", "model": "...",
//                                                    "calls": 3, "tokens": 420}]},
//     "stats": null                                           the admin part's statistics, verbatim
//   }
//
// Pure functions: the file I/O is Storage's, the pool is the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/common/result.h"
#include "ringgate/keys/health_event.h"
#include "ringgate/keys/key_pool.h"

namespace ringgate {

inline constexpr char kStateFileName[] = "ringgate-state.json";
inline constexpr int64_t kStateFileVersion = 1;

struct PersistedRest {
  std::string key;
  std::string model;
  int64_t until_ms = 0;
  HealthReason reason = HealthReason::kUnknown;

  bool operator==(const PersistedRest&) const = default;
};

struct PersistedUsage {
  std::string key;
  std::string model;
  uint64_t calls = 0;
  uint64_t tokens = 0;

  bool operator==(const PersistedUsage&) const = default;
};

struct PersistedState {
  std::vector<std::string> quarantined;
  std::vector<PersistedRest> rests;
  // End of the usage day `usage` belongs to (KeyPoolShard's daily reset, 07:00 UTC).
  int64_t usage_day_end_ms = 0;
  std::vector<PersistedUsage> usage;
  // The statistics slot: a JSON value the admin part gives and gets back verbatim; empty: none
  // (written as null).
  std::string stats;

  bool operator==(const PersistedState&) const = default;
};

// The file's text. stats must be valid JSON text or empty.
std::string RenderStateFile(const PersistedState& state, int64_t now_ms);

// Parses the file's text, dropping what is over at now_ms: rests that have ended, usage of a
// usage day that has ended. Error: not JSON, not version 1, or a member of the wrong type.
Result<PersistedState> ParseStateFile(std::string_view text, int64_t now_ms);

// What `pool` (core 0's, which sees every core's health events and usage) knows now. Leaves
// stats empty.
PersistedState SnapshotKeyState(const KeyPoolShard& pool, int64_t now_ms);

// Brings a pool that has its keys (AddKeys done) to `state`: quarantines, rests and usage of the
// current usage day, through the same HealthEvents the cores exchange. Every core calls it with
// the same state after the same AddKeys calls, so key indices and states agree. Keys the pool
// does not have are skipped. Returns the number of events applied.
size_t RestoreKeyState(const PersistedState& state, KeyPoolShard* pool, int64_t now_ms);

}  // namespace ringgate
