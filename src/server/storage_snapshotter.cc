#include "ringgate/server/storage_snapshotter.h"

#include "ringgate/admin/admin_service.h"
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
    AdminService* admin = shard_.admin();
    storage_.SaveSettings(admin != nullptr ? admin->settings().RuntimeSnapshot() : SettingsList{},
                          KeyLists{pool.ActiveKeys(), pool.QuarantinedKeys()});
    ++settings_saves_;
  }
  if (state_dirty_) {
    state_dirty_ = false;
    PersistedState state = SnapshotKeyState(pool, now);
    state.stats = chat->call_stats().ToJson(now);
    storage_.SaveState(state, now);
    ++state_saves_;
  }
}

}  // namespace ringgate
