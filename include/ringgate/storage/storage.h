// Storage: persistence with ENABLE_STORAGE (docs/storage.md). Two files in STORAGE_DIR:
//   settings.json        HAJIMI's settings in HAJIMI's layout (settings_file.h)
//   ringgate-state.json  quarantined keys, rests, the day's usage, the statistics slot
//                        (state_file.h)
//
// Threads: the Load* calls run on the main thread at start-up, before the server exists. The
// Save* calls come from core 0 only (its StorageSnapshotter), one at a time; they render the text
// and hand it to the StorageWriter's thread, so a reactor thread never touches a file. Flush runs
// on the main thread at shutdown, after the shards have stopped.
//
// A file that cannot be read or parsed is logged with the reason, renamed aside
// (NAME.corrupt-<UTC time>) and ignored: the process starts from the environment, and the next
// save writes a fresh file.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringgate/common/result.h"
#include "ringgate/config/config.h"
#include "ringgate/keys/key_list.h"
#include "ringgate/storage/settings_file.h"
#include "ringgate/storage/state_file.h"
#include "ringgate/storage/storage_writer.h"

namespace ringgate {

class Storage {
 public:
  // writer_options.directory is set to `directory`.
  explicit Storage(std::string directory, StorageWriterOptions writer_options = {});
  // Writes what is pending (Flush), then stops the writer.
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // ---- Start-up (main thread, before the server) ----

  // Reads settings.json and applies it onto `config` (HAJIMI's precedence, settings_file.h).
  // `flag_given(NAME)`: the command line set NAME for this run (it then wins over the file).
  // Returns what came from the file; a missing file changes nothing.
  const AppliedSettings& LoadSettings(Config* config, const EnvLookup& getenv,
                                      const std::function<bool(std::string_view)>& flag_given,
                                      int64_t now_ms);
  // Reads ringgate-state.json, dropping rests and usage that are over at now_ms.
  const PersistedState& LoadState(int64_t now_ms);
  // Creates the directory if needed and starts the writer thread.
  void Start();

  const std::string& directory() const { return directory_; }
  // HAJIMI names whose value came from settings.json (their source is "runtime").
  const std::vector<std::string>& settings_from_file() const { return applied_.from_file; }
  // The key state and statistics loaded at start (RestoreKeyState on every core; `stats` for the
  // admin part).
  const PersistedState& loaded_state() const { return loaded_state_; }

  // ---- Runtime (core 0 only) ----

  // Renders settings.json from the runtime settings (HAJIMI names, JSON value text) and the key
  // lists, keeping the loaded file's unknown members, and queues it when it differs from the last
  // version queued.
  void SaveSettings(const SettingsList& settings, const KeyLists& keys);
  // Renders ringgate-state.json and queues it when it differs from the last version queued
  // (saved_at_ms aside).
  void SaveState(const PersistedState& state, int64_t now_ms);

  // ---- Shutdown (main thread) ----
  Status Flush() { return writer_.Flush(); }

  StorageWriter& writer() { return writer_; }

 private:
  // The file's text; std::nullopt when it is missing, or was unreadable or corrupt (then logged
  // and moved aside).
  template <typename Parsed, typename Parse>
  std::optional<Parsed> ReadFile(const char* name, int64_t now_ms, Parse&& parse);

  std::string directory_;
  StorageWriter writer_;
  SettingsFile loaded_settings_;
  AppliedSettings applied_;
  PersistedState loaded_state_;
  std::string last_settings_;
  std::optional<PersistedState> last_state_;
};

}  // namespace ringgate
