// settings.json in HAJIMI's layout (hajimi-behaviour.md 4): a flat, pretty-printed (indent 4)
// object of HAJIMI's UPPER_CASE names with their Python types (GEMINI_API_KEYS and
// INVALID_API_KEYS as comma strings, intervals as float seconds, `search` as an object
// {search_mode, search_prompt}, ALLOWED_ORIGINS as an array beside ALLOWED_ORIGINS_STR).
//
// Load, with HAJIMI's precedence: GEMINI_API_KEYS is the union of the environment's keys (first,
// in order) and the file's new keys; every other name the file holds overrides the environment
// (a value edited at run time outlives it), except that a command-line flag given for this run
// wins, and ALLOWED_ORIGINS stays the environment's (HAJIMI sets CORS up before it loads the
// file). Names HAJIMI never persists (PASSWORD, WEB_PASSWORD, STORAGE_DIR, ...) are ignored in a
// file and never written. Names ringgate does not know (ENABLE_VERTEX, GOOGLE_CREDENTIALS_JSON,
// ...) are kept verbatim, so a HAJIMI user's file survives a round trip.
//
// Pure functions over text and Config: the file I/O is the caller's (Storage).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringgate/common/result.h"
#include "ringgate/config/config.h"
#include "ringgate/keys/key_list.h"

namespace ringgate {

inline constexpr char kSettingsFileName[] = "settings.json";

// Settings as (HAJIMI NAME, JSON value text) pairs, e.g. {"MAX_RETRY_NUM", "15"},
// {"FAKE_STREAMING_INTERVAL", "1.0"}, {"SEARCH_PROMPT", "\"...\""}. The admin registry hands the
// runtime values over in this form; SEARCH_MODE / SEARCH_PROMPT are folded into `search` and a
// string ALLOWED_ORIGINS becomes ALLOWED_ORIGINS_STR plus the array.
using SettingsList = std::vector<std::pair<std::string, std::string>>;

// A parsed settings.json: its members in file order, each value as compact JSON text.
struct SettingsFile {
  SettingsList entries;
};

// Error: not JSON, or not a JSON object (the message says where).
Result<SettingsFile> ParseSettingsFile(std::string_view text);

// Whether HAJIMI never persists the name (secrets and start-up-only settings).
bool IsExcludedSetting(std::string_view name);

struct AppliedSettings {
  // HAJIMI names whose value now comes from the file (the dashboard shows them as "runtime"):
  // GEMINI_API_KEYS when the file added keys, SEARCH_MODE / SEARCH_PROMPT for `search`.
  std::vector<std::string> from_file;
  // One line per value of the file that was not taken (bad value, wrong type), for the log.
  std::vector<std::string> problems;
};

// Applies `file` onto `config`, which holds the environment and the flags. `getenv` reads
// GEMINI_API_KEYS_1.._98 (GEMINI_API_KEYS itself comes from config); `flag_given(NAME)` says
// whether this run's command line set NAME's option.
AppliedSettings ApplySettingsFile(const SettingsFile& file, Config* config, const EnvLookup& getenv,
                                  const std::function<bool(std::string_view)>& flag_given);

// The settings HAJIMI persists that ringgate has, from config, in HAJIMI's order and types (key
// lists excluded: they come from the key pool).
SettingsList SettingsFromConfig(const Config& config);

// The settings.json text: `previous`'s members keep their place (unknown ones their value),
// the values of `current` and the two key lists replace or follow them (in HAJIMI's order), and
// excluded names are left out. Ends with a newline.
std::string RenderSettingsFile(const SettingsList& current, const KeyLists& keys,
                               const SettingsList& previous);

}  // namespace ringgate
