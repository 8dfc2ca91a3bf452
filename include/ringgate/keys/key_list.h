// Key lists as HAJIMI reads and edits them: extraction from GEMINI_API_KEYS / _1.._98, the
// INVALID_API_KEYS quarantine list, and the dashboard's key-management operations (add, export,
// clear invalid, "test all keys" with progress). Pure functions: the HTTP calls that validate a
// key, persistence and the broadcast to the cores' KeyPoolShards are the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/common/result.h"

namespace ringgate {

// Reads one environment variable; std::nullopt = unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Every substring matching HAJIMI's regex AIzaSy[A-Za-z0-9_-]{33} (39 characters, any
// separator, leftmost non-overlapping like re.findall), in order. Duplicates kept.
std::vector<std::string> ExtractApiKeysFromText(std::string_view text);

// GEMINI_API_KEYS, then GEMINI_API_KEYS_1 .. _98 read in order until the first missing index,
// each through ExtractApiKeysFromText. Duplicates removed, first occurrence kept (HAJIMI keeps
// them; a duplicate would only get two turns per rotation cycle).
std::vector<std::string> ExtractApiKeys(const EnvLookup& getenv);

// INVALID_API_KEYS: comma list, items trimmed (ASCII whitespace), empties and duplicates dropped,
// order kept. No format check (HAJIMI stores whatever failed validation).
std::vector<std::string> ParseKeyList(std::string_view value);

// The dashboard's "add keys" input: split on commas, CR and LF, trimmed, empties and duplicates
// dropped, order kept. No format check (as HAJIMI).
std::vector<std::string> ParseKeyInput(std::string_view input);

// "AIzaSyAB" (first 8 characters): how HAJIMI labels a key in stats and logs.
std::string_view KeyLabel(std::string_view key);

// Replaces anything shaped like a Google API key ("AIza" + at least 26 key characters) with its
// first 8 characters and "...", so upstream messages never carry a whole key.
std::string MaskApiKeysInText(std::string_view text);

// The two persisted lists: GEMINI_API_KEYS (rotation) and INVALID_API_KEYS (quarantine).
struct KeyLists {
  std::vector<std::string> valid;
  std::vector<std::string> invalid;
};

// Rotation at start-up: the extracted keys minus the ones listed in INVALID_API_KEYS.
KeyLists BuildKeyLists(std::vector<std::string> extracted, std::vector<std::string> invalid);

struct AddKeysResult {
  size_t added = 0;                   // keys new to lists->valid
  std::vector<std::string> new_keys;  // exactly those, in input order
};

// update-config gemini_api_keys: ParseKeyInput, then appends the keys not yet in lists->valid.
// A key listed in lists->invalid is moved back to valid (the operator re-added it on purpose).
// Error (HAJIMI's 400 message "未提供有效的API密钥") when the input holds no key at all.
Result<AddKeysResult> AddKeys(std::string_view input, KeyLists* lists);

// export-valid-api-keys: HAJIMI's answer fields.
struct ValidKeysExport {
  std::vector<std::string> keys;
  std::string message;  // "成功获取 N 个有效API密钥" or "当前没有有效的API密钥"
};
ValidKeysExport ListValidKeys(const KeyLists& lists);

// clear-invalid-api-keys: empties lists->invalid, rotation untouched.
struct ClearInvalidResult {
  size_t cleared = 0;
  std::string message;  // "没有失效的API密钥需要清除" or "已成功清除 N 个失效的API密钥"
};
ClearInvalidResult ClearInvalidKeys(KeyLists* lists);

// Moves one key from valid to invalid (runtime quarantine made persistent). False if absent.
bool MoveKeyToInvalid(std::string_view key, KeyLists* lists);

// "Test all keys": the set to test is the union of the rotation and the invalid list; results
// arrive one by one (in any order); at the end the lists are replaced by the valid and invalid
// results, each in test-set order.
struct KeyValidationProgress {
  bool is_running = false;
  size_t completed = 0;
  size_t total = 0;
  size_t valid = 0;
  size_t invalid = 0;
  bool is_completed = false;  // stays true from the last run until the next one starts
};

class KeyValidationPlan {
 public:
  // Starts a run over lists (copied). Error (HAJIMI's 409 message "已有API密钥检测正在进行中")
  // while a run is in progress; the previous run's state is then untouched.
  Status Start(const KeyLists& lists);
  // The keys to test, in order. Index i is what RecordResult takes.
  const std::vector<std::string>& keys() const { return keys_; }
  // Records the result for keys()[index]. A second result for the same index, an index out of
  // range or a result while no run is going are ignored (returns false).
  bool RecordResult(size_t index, bool valid);
  const KeyValidationProgress& progress() const { return progress_; }
  // Once every key has a result (progress().is_completed): the new lists. Before that, the lists
  // as they would be if the untested keys kept their old standing.
  KeyLists FinalLists() const;
  // Abandons a run (e.g. shutdown): not running, not completed.
  void Cancel();

 private:
  std::vector<std::string> keys_;
  std::vector<uint8_t> state_;  // 0 untested, 1 valid, 2 invalid
  std::vector<uint8_t> was_valid_;
  KeyValidationProgress progress_;
};

}  // namespace ringgate
