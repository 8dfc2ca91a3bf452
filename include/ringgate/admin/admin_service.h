// AdminService: one core's dashboard: the page and its assets, sign-in, and HAJIMI's admin API.
//
//   GET  /  (or /{DASHBOARD_URL}), /assets/*      the embedded page; no auth
//   POST /api/login, /api/logout                  session cookie (ringgate)
//   GET  /api/dashboard-data                      answered by the core that got it
//   POST /api/update-config, /api/test-api-keys, /api/clear-invalid-api-keys,
//        /api/export-valid-api-keys, /api/reset-stats, GET /api/test-api-keys/progress
//                                                 run on core 0: the request's core asks it
//                                                 with a CoreMessage, answers on its reply
//
// Every /api/* route but /api/login needs a valid session cookie, or the web password
// (WEB_PASSWORD, default PASSWORD) as "password" in a JSON body (HAJIMI) or as
// "Authorization: Bearer <password>" (HAJIMI's page/ fork); 401 {"detail"} otherwise. A wrong
// password counts against the client IP (LoginThrottle, session.h): 429 + Retry-After once
// blocked.
//
// Core 0 is the only core that changes shared state: settings (then the whole RuntimeSettings goes
// to every core), key lists (added keys go to every core in one order, so indices agree), the key
// check, stats resets. Owned by its shard, touched only on the shard's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ringgate/admin/call_stats.h"
#include "ringgate/admin/session.h"
#include "ringgate/admin/settings_registry.h"
#include "ringgate/common/result.h"
#include "ringgate/config/config.h"
#include "ringgate/http/router.h"
#include "ringgate/io/timer_wheel.h"
#include "ringgate/policy/rate_limit.h"

namespace ringgate {

class ChatService;
class Shard;

// What changed, for the persistence hook (core 0).
enum class AdminChange : uint8_t {
  kSettings,       // update-config of a setting (not ApplyStoredSettings: that came from storage)
  kKeysAdded,      // update-config gemini_api_keys
  kKeysCleared,    // clear-invalid-api-keys
  kKeysValidated,  // a key check finished (start-up or "test all keys")
  kStatsReset,     // reset-stats
};
using AdminChangeHook = std::function<void(AdminChange)>;

// The operations core 0 runs for a request that arrived anywhere.
enum class AdminOp : uint8_t {
  kUpdateConfig,
  kTestKeys,
  kTestProgress,
  kClearInvalid,
  kExportValid,
  kResetStats,
};

struct AdminReply {
  int status = 200;
  std::string body;  // JSON
};

// The dashboard-data query (ringgate's optional paging and filter).
struct DashboardQuery {
  enum class Filter : uint8_t { kAll, kHealthy, kResting, kQuarantined };
  bool paged = false;  // key_page or key_page_size given
  size_t page = 1;
  size_t page_size = 20;
  Filter filter = Filter::kAll;
};
// Parses key_page, key_page_size and key_state; an error message for a bad value.
Result<DashboardQuery> ParseDashboardQuery(std::string_view query);

class AdminService {
 public:
  AdminService(Shard& shard, ChatService& chat, const Config& config);
  ~AdminService();
  AdminService(const AdminService&) = delete;
  AdminService& operator=(const AdminService&) = delete;

  void InstallRoutes(Router& router);
  // Starts the statistics publication tick; core 0 also watches the key check.
  void Start();

  // ---- Core 0: for persistence ----
  // Called after every change, on core 0's thread; default: nothing.
  void set_change_hook(AdminChangeHook hook) { change_hook_ = std::move(hook); }
  const SettingsRegistry& settings() const { return settings_; }
  // Values from settings.json as (environment name, JSON value text): each is validated and set
  // with source "runtime", then the result goes to every core. Returns (name, error) for the ones
  // refused (unknown names included); the others are applied.
  std::vector<std::pair<std::string, std::string>> ApplyStoredSettings(
      const std::vector<std::pair<std::string, std::string>>& values);
  // Keys from settings.json: added on every core (known keys are left as they are).
  void AddStoredKeys(const std::vector<std::string>& keys);

  // ---- Core messages (run on this core's thread) ----
  AdminReply RunOnCore0(AdminOp op, const std::string& body);
  void OnReply(uint64_t token, AdminReply reply);
  void OnSettings(const RuntimeSettings& values);
  void OnAddKeys(const std::vector<std::string>& keys);
  void OnForgetKeys(const std::vector<uint32_t>& keys);
  void OnResetStats(uint32_t epoch);
  void OnCallStats(uint32_t epoch, const std::vector<MinuteCount>& deltas);
  void OnRevoke(const SessionClaims& claims, int reply_core, uint64_t token);
  void OnRevokeAck(uint64_t token);
  void OnLoginFailure(const IpAddress& ip, int64_t now_ms);
  void OnLoginSuccess(const IpAddress& ip);

  // The dashboard-data body as this core sees it.
  std::string DashboardData(const DashboardQuery& query);

 private:
  struct Pending;

  // Page and assets.
  void HandleAsset(const HttpRequest& request, Responder& responder, std::string_view path);
  // Sign-in.
  void HandleLogin(HttpRequest& request, Responder& responder);
  void HandleLogout(HttpRequest& request, Responder& responder);
  void HandleDashboardData(HttpRequest& request, Responder& responder);
  // Auth, then `op` on core 0.
  void HandleCore0(HttpRequest& request, Responder& responder, AdminOp op);
  // True when the request may go on; otherwise it was answered (401 / 429).
  bool Authorize(const HttpRequest& request, Responder& responder);
  // The session of a valid, unrevoked cookie.
  std::optional<SessionClaims> ValidSession(const HttpRequest& request, int64_t now_ms) const;
  // Checks a presented password; answers 429 / 401 itself and returns false when refused.
  bool CheckPassword(const HttpRequest& request, Responder& responder, std::string_view password,
                     int64_t now_ms);
  IpAddress ClientAddress(const HttpRequest& request) const;
  void SendJson(Responder& responder, int status, std::string_view body,
                std::string_view extra_headers = {});
  // Parks the response until `acks` answers (or core 0's reply) come; null: not deferrable.
  Pending* Park(Responder& responder, uint64_t* token, int acks);
  void Finish(uint64_t token, int status, std::string_view body);

  // Core 0's operations.
  AdminReply UpdateConfig(const std::string& body);
  AdminReply AddKeysFromDashboard(std::string_view key, std::string_view input);
  AdminReply TestKeys();
  AdminReply TestProgress();
  AdminReply ClearInvalid();
  AdminReply ExportValid();
  AdminReply ResetStats();
  void BroadcastSettings();
  void BroadcastNewKeys(std::vector<std::string> keys);
  void Changed(AdminChange change) {
    if (change_hook_)
      change_hook_(change);
  }
  void OnTick();

  Shard& shard_;
  ChatService& chat_;
  std::string dashboard_path_;
  std::string web_password_;
  uint8_t web_password_digest_[32] = {};
  TrustedProxies trusted_proxies_;
  SettingsRegistry settings_;
  SessionRevocations revocations_;
  LoginThrottle throttle_;
  std::unordered_map<uint64_t, std::unique_ptr<Pending>> pending_;
  uint64_t last_token_ = 0;
  Timer tick_;
  std::vector<MinuteCount> deltas_;  // OnTick's scratch
  AdminChangeHook change_hook_;
  bool watching_key_check_ = false;
  uint64_t started_monotonic_ms_ = 0;
};

}  // namespace ringgate
