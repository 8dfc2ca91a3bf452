#include "ringgate/server/storage_snapshotter.h"

#include "ringgate/common/clock.h"
#include "ringgate/server/chat_service.h"
#include "ringgate/server/shard.h"
#include "ringgate/storage/storage.h"

namespace ringgate {

StorageSnapshotter::StorageSnapshotter(Shard& shard, Storage& storage)
    : shard_(shard), storage_(storage) {
  timer_.set_callback([](Timer*, void* self) { static_cast<StorageSnapshotter*>(self)->OnTimer(); },
                      this);
}

void StorageSnapshotter::Start() {
  shard_.timers().Schedule(&timer_, shard_.now_ms() + kIntervalMs);
}

void StorageSnapshotter::MarkDirty(StorageFiles which) {
  uint8_t bits = static_cast<uint8_t>(which);
  settings_dirty_ |= (bits & static_cast<uint8_t>(StorageFiles::kSettings)) != 0;
  state_dirty_ |= (bits & static_cast<uint8_t>(StorageFiles::kState)) != 0;
}

void StorageSnapshotter::OnTimer() {
  SaveNow();
  shard_.timers().Schedule(&timer_, shard_.now_ms() + kIntervalMs);
}

void StorageSnapshotter::SaveNow() {
  ChatService* chat = shard_.chat();
  if (chat == nullptr)
    return;
  const KeyPoolShard& pool = chat->keys();
  if (pool.key_list_change_count() != seen_key_list_changes_) {
    seen_key_list_changes_ = pool.key_list_change_count();
    settings_dirty_ = true;
  }
  if (pool.change_count() != seen_changes_) {
    seen_changes_ = pool.change_count();
    state_dirty_ = true;
  }
  int64_t now = WallMillis();
  if (settings_dirty_) {
    settings_dirty_ = false;
    storage_.SaveSettings(settings_source_ ? settings_source_() : DefaultSettings(),
                          key_lists_source_ ? key_lists_source_() : DefaultKeyLists());
    ++settings_saves_;
  }
  if (state_dirty_) {
    state_dirty_ = false;
    PersistedState state = SnapshotKeyState(pool, now);
    state.stats = stats_source_ ? stats_source_() : storage_.loaded_state().stats;
    storage_.SaveState(state, now);
    ++state_saves_;
  }
}

// Core 0's Config with the values its ChatService runs with (the same unless changed at run
// time).
SettingsList StorageSnapshotter::DefaultSettings() const {
  Config config = shard_.config();
  const ChatSettings& chat = shard_.chat()->settings();
  config.max_retry_num = chat.max_retry_num;
  config.api_key_daily_limit = chat.api_key_daily_limit;
  config.fake_streaming = chat.fake_streaming;
  config.fake_streaming_interval_ms = chat.fake_streaming_interval_ms;
  config.nonstream_keepalive_enabled = chat.nonstream_keepalive;
  config.nonstream_keepalive_interval_ms = chat.nonstream_keepalive_interval_ms;
  config.enable_thinking = chat.enable_thinking;
  config.search_mode = chat.search_mode;
  config.search_prompt = chat.search_prompt;
  config.max_empty_responses = chat.max_empty_responses;
  config.random_string = chat.random_string;
  config.random_string_length = chat.random_string_length;
  config.concurrent_requests = chat.concurrent_requests;
  config.increase_concurrent_on_failure = chat.increase_concurrent_on_failure;
  config.max_concurrent_requests = chat.max_concurrent_requests;
  config.precise_cache = chat.precise_cache;
  return SettingsFromConfig(config);
}

KeyLists StorageSnapshotter::DefaultKeyLists() const {
  const KeyPoolShard& pool = shard_.chat()->keys();
  return KeyLists{pool.ActiveKeys(), pool.QuarantinedKeys()};
}

}  // namespace ringgate
