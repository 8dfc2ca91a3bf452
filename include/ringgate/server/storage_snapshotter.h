// StorageSnapshotter: core 0's side of persistence. Core 0 sees every core's health events and
// usage (they are broadcast), so its KeyPoolShard is the whole picture. Once a second, if
// something changed (the pool's change counters moved, or MarkDirty was called), it takes a
// snapshot (key lists, runtime settings, key state, statistics), renders it and hands the text
// to the Storage writer's thread. Rendering costs a few microseconds per key; nothing here runs
// per request, and no file is touched on this thread.
//
// What it saves: the settings edited at run time (the dashboard's registry, RuntimeSnapshot), the
// key lists (the pool's, minus the keys "clear invalid keys" forgot), the key state, and the
// minute statistics.
#pragma once

#include <cstdint>
#include <string>

#include "ringgate/io/timer_wheel.h"
#include "ringgate/keys/key_list.h"
#include "ringgate/storage/settings_file.h"

namespace ringgate {

class Shard;
class Storage;

// Which persistence file a change concerns.
enum class StorageFiles : uint8_t {
  kSettings = 1,  // settings.json: settings, key lists
  kState = 2,     // ringgate-state.json: key health, usage, statistics
  kBoth = 3,
};

class StorageSnapshotter {
 public:
  // How often core 0 looks for changes; the writer debounces further.
  static constexpr uint64_t kIntervalMs = 1000;

  // On core 0, after its ChatService exists; both outlive this object.
  StorageSnapshotter(Shard& shard, Storage& storage);
  StorageSnapshotter(const StorageSnapshotter&) = delete;
  StorageSnapshotter& operator=(const StorageSnapshotter&) = delete;

  // Arms the once-a-second check (from Shard::Run, on core 0).
  void Start();
  // Something the files hold changed that the pool's counters do not show (an update-config, a
  // reset, new statistics): the next check saves it.
  void MarkDirty(StorageFiles which = StorageFiles::kBoth);
  // Saves what changed now, without waiting for the timer (shutdown: after the reactor stopped).
  void SaveNow();

  // Snapshots handed to the writer so far (tests).
  uint64_t settings_saves() const { return settings_saves_; }
  uint64_t state_saves() const { return state_saves_; }

 private:
  void OnTimer();

  Shard& shard_;
  Storage& storage_;
  Timer timer_;
  bool settings_dirty_ = true;  // the first check writes both files: the environment may differ
  bool state_dirty_ = true;
  uint64_t seen_changes_ = 0;
  uint64_t seen_key_list_changes_ = 0;
  uint64_t settings_saves_ = 0;
  uint64_t state_saves_ = 0;
};

}  // namespace ringgate
