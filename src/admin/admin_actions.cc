// AdminService: what core 0 does for the admin API, and how it tells the other cores.
#include <simdjson.h>

#include "admin_messages.h"
#include "ringgate/admin/admin_service.h"
#include "ringgate/common/log.h"
#include "ringgate/json/json_writer.h"
#include "ringgate/keys/key_list.h"
#include "ringgate/server/chat_service.h"
#include "ringgate/server/key_validator.h"
#include "ringgate/server/shard.h"

namespace ringgate {
namespace {

// Longest key accepted from the dashboard (Google's are 39 characters).
constexpr size_t kMaxKeyBytes = 256;

AdminReply DetailReply(int status, std::string_view text) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Field("detail", text);
  w.EndObject();
  return {status, std::move(out)};
}

AdminReply Success(std::string_view message) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Field("status", "success");
  w.Field("message", message);
  w.EndObject();
  return {200, std::move(out)};
}

// 422 {"errors": {key: message}, "detail": "参数类型错误：message"}: the page shows `errors`,
// HAJIMI's scripts read `detail`.
AdminReply FieldError(std::string_view key, std::string_view message) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("errors");
  w.BeginObject();
  w.Field(key, message);
  w.EndObject();
  w.Field("detail", "参数类型错误：" + std::string(message));
  w.EndObject();
  return {422, std::move(out)};
}

// The Vertex settings HAJIMI's page edits; ringgate has no Vertex mode.
bool IsVertexKey(std::string_view key) {
  return key == "enable_vertex" || key == "enable_vertex_express" ||
         key == "vertex_express_api_key" || key == "google_credentials_json";
}

}  // namespace

AdminReply AdminService::RunOnCore0(AdminOp op, const std::string& body) {
  switch (op) {
    case AdminOp::kUpdateConfig:
      return UpdateConfig(body);
    case AdminOp::kTestKeys:
      return TestKeys();
    case AdminOp::kTestProgress:
      return TestProgress();
    case AdminOp::kClearInvalid:
      return ClearInvalid();
    case AdminOp::kExportValid:
      return ExportValid();
    case AdminOp::kResetStats:
      return ResetStats();
  }
  return DetailReply(500, "unknown operation");
}

// HAJIMI 20.3: {"key": K, "value": V[, "password": W]}.
AdminReply AdminService::UpdateConfig(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::object object;
  if (parser.parse(padded).get_object().get(object))
    return DetailReply(422, "请求体格式错误：应为JSON对象");
  std::string_view key;
  if (object["key"].get_string().get(key) || key.empty())
    return DetailReply(400, "缺少配置项键名");
  simdjson::dom::element value;
  if (object["value"].get(value))
    return FieldError(key, "missing value");
  if (key == "gemini_api_keys") {
    std::string_view input;
    if (value.get_string().get(input))
      return FieldError(key, "expected a string of keys separated by commas or new lines");
    return AddKeysFromDashboard(key, input);
  }
  const SettingSpec* spec = SettingsRegistry::Find(key);
  if (spec == nullptr || spec->key != key || IsVertexKey(key))
    return DetailReply(400, "不支持的配置项：" + std::string(key));
  std::string error = settings_.ApplyJson(key, simdjson::minify(value), SettingSource::kRuntime);
  if (!error.empty())
    return FieldError(key, error);
  BroadcastSettings();
  RG_LOG(kInfo, "dashboard: %.*s set to %s", static_cast<int>(key.size()), key.data(),
         spec->type == SettingType::kString ? "(text)" : settings_.ValueJson(*spec).c_str());
  Changed(AdminChange::kSettings);
  return Success("配置项 " + std::string(key) + " 已更新");
}

// HAJIMI 9, "add keys": new keys join the rotation on every core; a quarantined key given again
// comes back (the operator re-added it on purpose).
AdminReply AdminService::AddKeysFromDashboard(std::string_view key, std::string_view input) {
  KeyPoolShard& pool = chat_.keys();
  KeyLists lists{pool.ActiveKeys(), pool.QuarantinedKeys()};
  Result<AddKeysResult> added = ringgate::AddKeys(input, &lists);
  if (!added)
    return DetailReply(400, added.status().message());
  for (const std::string& k : added->new_keys) {
    bool printable = true;
    for (char c : k)
      printable &= static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
    if (k.size() > kMaxKeyBytes || !printable) {
      return FieldError(key, "\"" + std::string(KeyLabel(k)) +
                                 "...\" is not a key: at most 256 printable ASCII characters");
    }
  }
  std::vector<std::string> fresh;
  size_t restored = 0;
  for (std::string& k : added->new_keys) {
    std::optional<uint32_t> index = pool.IndexOf(k);
    if (!index) {
      fresh.push_back(std::move(k));
    } else if (pool.IsQuarantined(*index)) {
      chat_.PublishHealth(HealthEvent::Restore(*index));  // every core, forgotten or not
      ++restored;
    }
  }
  size_t count = fresh.size();
  BroadcastNewKeys(std::move(fresh));
  RG_LOG(kInfo, "dashboard: %zu keys added, %zu restored", count, restored);
  Changed(AdminChange::kKeysAdded);
  AdminReply reply = Success("配置项 gemini_api_keys 已更新");
  reply.body.pop_back();
  reply.body += ",\"added\":" + std::to_string(count + restored) + "}";
  return reply;
}

AdminReply AdminService::TestKeys() {
  Status started = chat_.key_validator().Start(KeyValidator::Scope::kAll);
  if (!started.ok())
    return DetailReply(409, started.message());
  watching_key_check_ = true;
  return Success("API密钥检测已启动，将同时检测有效密钥和无效密钥");
}

AdminReply AdminService::TestProgress() {
  const KeyValidationProgress& p = chat_.key_validator().progress();
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.FieldBool("is_running", p.is_running);
  w.FieldInt("completed", static_cast<int64_t>(p.completed));
  w.FieldInt("total", static_cast<int64_t>(p.total));
  w.FieldInt("valid", static_cast<int64_t>(p.valid));
  w.FieldInt("invalid", static_cast<int64_t>(p.invalid));
  w.FieldBool("is_completed", p.is_completed);
  w.EndObject();
  return {200, std::move(out)};
}

// HAJIMI empties INVALID_API_KEYS without touching the rotation: here the quarantined keys are
// forgotten on every core (no longer listed, checked or persisted).
AdminReply AdminService::ClearInvalid() {
  KeyPoolShard& pool = chat_.keys();
  auto forget = std::make_shared<std::vector<uint32_t>>();
  KeyLists lists;
  for (uint32_t i = 0; i < pool.size(); ++i) {
    if (pool.IsQuarantined(i) && !pool.IsForgotten(i)) {
      forget->push_back(i);
      lists.invalid.emplace_back(pool.key(i));
    }
  }
  ClearInvalidResult result = ClearInvalidKeys(&lists);
  if (!forget->empty()) {
    OnForgetKeys(*forget);
    for (int core = 1; core < shard_.core_count(); ++core)
      shard_.Post(core, std::make_unique<admin_messages::ForgetKeys>(forget));
    Changed(AdminChange::kKeysCleared);
  }
  return Success(result.message);
}

// The only answer that carries whole keys, and only to an authenticated caller.
AdminReply AdminService::ExportValid() {
  ValidKeysExport exported = ListValidKeys(KeyLists{chat_.keys().ActiveKeys(), {}});
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Field("status", "success");
  w.Field("message", exported.message);
  w.Key("keys");
  w.BeginArray();
  for (const std::string& k : exported.keys)
    w.String(k);
  w.EndArray();
  w.FieldInt("count", static_cast<int64_t>(exported.keys.size()));
  w.EndObject();
  RG_LOG(kInfo, "dashboard: %zu valid keys exported", exported.keys.size());
  return {200, std::move(out)};
}

AdminReply AdminService::ResetStats() {
  uint32_t epoch = chat_.call_stats().epoch() + 1;
  OnResetStats(epoch);
  for (int core = 1; core < shard_.core_count(); ++core)
    shard_.Post(core, std::make_unique<admin_messages::ResetStats>(epoch));
  Changed(AdminChange::kStatsReset);
  return Success("API调用统计数据已重置");
}

void AdminService::BroadcastSettings() {
  auto values = std::make_shared<const RuntimeSettings>(settings_.values());
  OnSettings(*values);
  for (int core = 0; core < shard_.core_count(); ++core) {
    if (core != shard_.index())
      shard_.Post(core, std::make_unique<admin_messages::Settings>(values));
  }
}

// Core 0 adds first, then every other core in the same message order: the indices agree.
void AdminService::BroadcastNewKeys(std::vector<std::string> keys) {
  if (keys.empty())
    return;
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(keys));
  OnAddKeys(*shared);
  for (int core = 0; core < shard_.core_count(); ++core) {
    if (core != shard_.index())
      shard_.Post(core, std::make_unique<admin_messages::AddKeys>(shared));
  }
}

std::vector<std::pair<std::string, std::string>> AdminService::ApplyStoredSettings(
    const std::vector<std::pair<std::string, std::string>>& values) {
  std::vector<std::pair<std::string, std::string>> refused;
  bool changed = false;
  for (const auto& [name, json] : values) {
    std::string error = settings_.ApplyJson(name, json, SettingSource::kRuntime);
    if (error.empty()) {
      changed = true;
    } else {
      refused.emplace_back(name, error);
    }
  }
  if (changed)
    BroadcastSettings();
  return refused;
}

void AdminService::AddStoredKeys(const std::vector<std::string>& keys) {
  std::vector<std::string> fresh;
  for (const std::string& k : keys) {
    if (!k.empty() && !chat_.keys().IndexOf(k))
      fresh.push_back(k);
  }
  BroadcastNewKeys(std::move(fresh));
}

}  // namespace ringgate
