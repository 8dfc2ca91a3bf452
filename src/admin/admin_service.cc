#include "ringgate/admin/admin_service.h"

#include <openssl/mem.h>
#include <openssl/sha.h>
#include <simdjson.h>
#include <sys/random.h>

#include <time.h>

#include <cstdlib>

#include "admin_messages.h"
#include "ringgate/admin/embedded_assets.h"
#include "ringgate/common/clock.h"
#include "ringgate/common/log.h"
#include "ringgate/json/json_writer.h"
#include "ringgate/policy/access.h"
#include "ringgate/server/chat_service.h"
#include "ringgate/server/key_validator.h"
#include "ringgate/server/shard.h"
#include "ringgate/storage/storage.h"

namespace ringgate {
namespace {

constexpr uint64_t kTickMs = 250;
constexpr std::string_view kJson = "application/json";
// Admin answers carry settings, key prefixes and (export) whole keys: never stored by a cache.
constexpr std::string_view kNoStore = "Cache-Control: no-store\r\n";
// index.html has no inline script or style (docs/dashboard-api.md 1).
constexpr std::string_view kPageHeaders =
    "Cache-Control: no-cache\r\n"
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n";

std::string Detail(std::string_view text) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Field("detail", text);
  w.EndObject();
  return out;
}

// If-None-Match lists the asset's ETag (or is "*").
bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match.empty())
    return false;
  if (if_none_match.find('*') != std::string_view::npos)
    return true;
  size_t at = if_none_match.find(etag);
  return at != std::string_view::npos;
}

// "password" of a JSON object body, if it is a non-empty string.
std::optional<std::string> BodyPassword(std::string_view body) {
  if (body.empty())
    return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::object object;
  if (parser.parse(padded).get_object().get(object))
    return std::nullopt;
  std::string_view password;
  if (object["password"].get_string().get(password) || password.empty())
    return std::nullopt;
  return std::string(password);
}

uint64_t ProcessStartMs() {
  static const uint64_t start = MonotonicMillis();
  return start;
}

}  // namespace

namespace admin_messages {

Call::Call(AdminOp op, std::string body, int reply_core, uint64_t token)
    : op_(op), body_(std::move(body)), reply_core_(reply_core), token_(token) {}

void Call::Deliver(Shard& shard) {
  AdminReply reply;
  if (shard.admin() != nullptr) {
    reply = shard.admin()->RunOnCore0(op_, body_);
  } else {
    reply = {503, Detail("the admin service is not running")};
  }
  shard.Post(reply_core_, std::make_unique<Reply>(token_, std::move(reply)));
}

}  // namespace admin_messages

// A response waiting for core 0's reply or for every core's acknowledgement.
struct AdminService::Pending final : public ResponseObserver {
  AsyncResponder* client = nullptr;
  int acks_left = 0;
  std::string headers;  // extra headers of the final answer
  void OnClientGone() override { client = nullptr; }
};

AdminService::AdminService(Shard& shard, ChatService& chat, const Config& config)
    : shard_(shard),
      chat_(chat),
      dashboard_path_("/" + config.dashboard_url),
      web_password_(config.web_password.empty() ? StripDoubleQuotes(config.password)
                                                : config.web_password),
      settings_(SettingsRegistry::FromConfig(config, [](std::string_view name) {
        const char* value = getenv(std::string(name).c_str());
        return value == nullptr ? std::nullopt : std::optional<std::string>(value);
      })) {
  Result<TrustedProxies> proxies = TrustedProxies::Parse(config.trusted_proxies);
  if (proxies)
    trusted_proxies_ = std::move(*proxies);
  SHA256(reinterpret_cast<const uint8_t*>(web_password_.data()), web_password_.size(),
         web_password_digest_);
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
    seed = MonotonicMicros();
  throttle_ = LoginThrottle(seed);
  started_monotonic_ms_ = ProcessStartMs();
  // Values settings.json set at start-up (it overrides the environment, as in HAJIMI).
  if (const Storage* storage = shard.upstream_shared().storage) {
    for (const std::string& name : storage->settings_from_file())
      settings_.MarkSource(name, SettingSource::kRuntime);
  }
  tzset();  // reads the time zone file now, before serving, not in a dashboard request
  tick_.set_callback([](Timer*, void* self) { static_cast<AdminService*>(self)->OnTick(); }, this);
}

AdminService::~AdminService() = default;

void AdminService::InstallRoutes(Router& router) {
  auto page = [this](HttpRequest& r, Responder& w) { HandleAsset(r, w, "/"); };
  router.Add("GET", dashboard_path_, page);
  router.AddPrefix("GET", "/assets/",
                   [this](HttpRequest& r, Responder& w) { HandleAsset(r, w, r.path); });
  router.Add("POST", "/api/login", [this](HttpRequest& r, Responder& w) { HandleLogin(r, w); });
  router.Add("POST", "/api/logout", [this](HttpRequest& r, Responder& w) { HandleLogout(r, w); });
  router.Add("GET", "/api/dashboard-data",
             [this](HttpRequest& r, Responder& w) { HandleDashboardData(r, w); });
  const std::pair<const char*, AdminOp> core0_routes[] = {
      {"/api/update-config", AdminOp::kUpdateConfig},
      {"/api/test-api-keys", AdminOp::kTestKeys},
      {"/api/clear-invalid-api-keys", AdminOp::kClearInvalid},
      {"/api/export-valid-api-keys", AdminOp::kExportValid},
      {"/api/reset-stats", AdminOp::kResetStats},
  };
  for (const auto& [path, op] : core0_routes) {
    AdminOp route_op = op;
    router.Add("POST", path,
               [this, route_op](HttpRequest& r, Responder& w) { HandleCore0(r, w, route_op); });
  }
  router.Add("GET", "/api/test-api-keys/progress",
             [this](HttpRequest& r, Responder& w) { HandleCore0(r, w, AdminOp::kTestProgress); });
}

void AdminService::Start() {
  if (shard_.index() == 0)
    watching_key_check_ = chat_.key_validator().running();
  shard_.timers().Schedule(&tick_, shard_.now_ms() + kTickMs);
}

// ---- The page ----

void AdminService::HandleAsset(const HttpRequest& request, Responder& responder,
                               std::string_view path) {
  const EmbeddedAsset* asset = FindEmbeddedAsset(path);
  if (asset == nullptr || (path != "/" && path.rfind("/assets/", 0) != 0)) {
    responder.SendError(404, "no asset " + std::string(path), "not_found");
    return;
  }
  std::string headers = "ETag: " + std::string(asset->etag) + "\r\n";
  headers += kPageHeaders;
  if (EtagMatches(request.Header("If-None-Match"), asset->etag)) {
    responder.Send(304, {}, {}, headers);
    return;
  }
  responder.Send(200, asset->content_type, asset->body, headers);
}

// ---- Sign-in ----

IpAddress AdminService::ClientAddress(const HttpRequest& request) const {
  std::optional<IpAddress> peer =
      request.peer != nullptr ? IpAddress::FromSockaddr(request.peer) : std::nullopt;
  return ClientIp(request, peer.value_or(IpAddress()), trusted_proxies_);
}

void AdminService::SendJson(Responder& responder, int status, std::string_view body,
                            std::string_view extra_headers) {
  std::string headers(kNoStore);
  headers += extra_headers;
  responder.Send(status, kJson, body, headers);
}

std::optional<SessionClaims> AdminService::ValidSession(const HttpRequest& request,
                                                        int64_t now_ms) const {
  std::string_view token = CookieValue(request.Header("Cookie"), kSessionCookieName);
  if (token.empty())
    return std::nullopt;
  std::optional<SessionClaims> claims = VerifySessionToken(token, now_ms);
  if (!claims || revocations_.IsRevoked(*claims))
    return std::nullopt;
  return claims;
}

bool AdminService::CheckPassword(const HttpRequest& request, Responder& responder,
                                 std::string_view password, int64_t now_ms) {
  IpAddress ip = ClientAddress(request);
  int64_t blocked_ms = throttle_.BlockedFor(ip, now_ms);
  if (blocked_ms > 0) {
    int64_t seconds = (blocked_ms + 999) / 1000;
    std::string body;
    JsonWriter w(body);
    w.BeginObject();
    w.Field("detail", "too many wrong passwords from this address; retry in " +
                          std::to_string(seconds) + " s");
    w.FieldInt("retry_after", seconds);
    w.EndObject();
    SendJson(responder, 429, body, "Retry-After: " + std::to_string(seconds) + "\r\n");
    return false;
  }
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(password.data()), password.size(), digest);
  bool match =
      !web_password_.empty() && CRYPTO_memcmp(digest, web_password_digest_, sizeof(digest)) == 0;
  bool had_failures = throttle_.failures(ip, now_ms) > 0;
  if (match && !had_failures)
    return true;
  if (match) {
    OnLoginSuccess(ip);
  } else {
    OnLoginFailure(ip, now_ms);
    RG_LOG(kWarning, "dashboard: wrong password from %s", ip.ToString().c_str());
  }
  for (int core = 0; core < shard_.core_count(); ++core) {
    if (core != shard_.index())
      shard_.Post(core, std::make_unique<admin_messages::LoginOutcome>(ip, now_ms, !match));
  }
  if (!match)
    SendJson(responder, 401, Detail("wrong password"));
  return match;
}

bool AdminService::Authorize(const HttpRequest& request, Responder& responder) {
  int64_t now = WallMillis();
  if (ValidSession(request, now))
    return true;
  std::optional<std::string> password;
  std::string_view authorization = request.Header("Authorization");
  if (authorization.rfind("Bearer ", 0) == 0 && authorization.size() > 7) {
    password = std::string(authorization.substr(7));
  } else {
    password = BodyPassword(request.body);
  }
  if (!password) {
    SendJson(responder, 401,
             Detail("sign in first: the session cookie, or the web password (\"password\" in "
                    "the JSON body or Authorization: Bearer)"));
    return false;
  }
  return CheckPassword(request, responder, *password, now);
}

void AdminService::HandleLogin(HttpRequest& request, Responder& responder) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(request.body);
  simdjson::dom::object object;
  if (parser.parse(padded).get_object().get(object)) {
    SendJson(responder, 422, Detail("the body must be a JSON object: {\"password\": \"...\"}"));
    return;
  }
  simdjson::dom::element field;
  if (object["password"].get(field) || field.is_null()) {
    SendJson(responder, 400, Detail("missing password"));
    return;
  }
  std::string_view password;
  if (field.get_string().get(password)) {
    SendJson(responder, 422, Detail("the password must be a string"));
    return;
  }
  if (password.empty()) {
    SendJson(responder, 400, Detail("missing password"));
    return;
  }
  int64_t now = WallMillis();
  if (!CheckPassword(request, responder, password, now))
    return;
  std::string token = IssueSessionToken(now);
  std::string cookie = "Set-Cookie: " + std::string(kSessionCookieName) + "=" + token +
                       "; Path=/; Max-Age=" + std::to_string(kSessionLifetimeMs / 1000) +
                       "; HttpOnly; SameSite=Strict";
  if (shard_.server_tls() != nullptr)
    cookie += "; Secure";
  cookie += "\r\n";
  SendJson(responder, 200, R"({"status":"success"})", cookie);
}

void AdminService::HandleLogout(HttpRequest& request, Responder& responder) {
  int64_t now = WallMillis();
  std::optional<SessionClaims> session = ValidSession(request, now);
  if (!session && !Authorize(request, responder))
    return;
  std::string expire = "Set-Cookie: " + std::string(kSessionCookieName) +
                       "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
  if (shard_.server_tls() != nullptr)
    expire += "; Secure";
  expire += "\r\n";
  constexpr std::string_view kDone = R"({"status":"success","message":"signed out"})";
  if (!session) {  // signed in by password: no session to end
    SendJson(responder, 200, kDone, expire);
    return;
  }
  revocations_.Revoke(*session, now);
  if (shard_.core_count() == 1) {
    SendJson(responder, 200, kDone, expire);
    return;
  }
  // Answered once every core has revoked it: after this answer no core takes the cookie.
  uint64_t token = 0;
  Pending* pending = Park(responder, &token, shard_.core_count() - 1);
  if (pending == nullptr) {
    SendJson(responder, 200, kDone, expire);
    return;
  }
  pending->headers = std::string(kNoStore) + expire;
  for (int core = 0; core < shard_.core_count(); ++core) {
    if (core != shard_.index())
      shard_.Post(core, std::make_unique<admin_messages::Revoke>(*session, shard_.index(), token));
  }
}

void AdminService::OnRevoke(const SessionClaims& claims, int reply_core, uint64_t token) {
  revocations_.Revoke(claims, WallMillis());
  shard_.Post(reply_core, std::make_unique<admin_messages::RevokeAck>(token));
}

void AdminService::OnRevokeAck(uint64_t token) {
  auto it = pending_.find(token);
  if (it == pending_.end() || --it->second->acks_left > 0)
    return;
  Finish(token, 200, R"({"status":"success","message":"signed out"})");
}

void AdminService::OnLoginFailure(const IpAddress& ip, int64_t now_ms) {
  throttle_.RecordFailure(ip, now_ms);
}

void AdminService::OnLoginSuccess(const IpAddress& ip) {
  throttle_.RecordSuccess(ip);
}

// ---- Deferred answers ----

AdminService::Pending* AdminService::Park(Responder& responder, uint64_t* token, int acks) {
  auto pending = std::make_unique<Pending>();
  AsyncResponder* client = responder.Defer(pending.get());
  if (client == nullptr)
    return nullptr;
  pending->client = client;
  pending->acks_left = acks;
  pending->headers = std::string(kNoStore);
  *token = ++last_token_;
  Pending* raw = pending.get();
  pending_.emplace(*token, std::move(pending));
  return raw;
}

void AdminService::Finish(uint64_t token, int status, std::string_view body) {
  auto it = pending_.find(token);
  if (it == pending_.end())
    return;
  std::unique_ptr<Pending> pending = std::move(it->second);
  pending_.erase(it);
  if (pending->client != nullptr)
    pending->client->Send(status, kJson, body, pending->headers);
}

void AdminService::OnReply(uint64_t token, AdminReply reply) {
  Finish(token, reply.status, reply.body);
}

// ---- The API ----

void AdminService::HandleDashboardData(HttpRequest& request, Responder& responder) {
  if (!Authorize(request, responder))
    return;
  Result<DashboardQuery> query = ParseDashboardQuery(request.query);
  if (!query) {
    SendJson(responder, 400, Detail(query.status().message()));
    return;
  }
  SendJson(responder, 200, DashboardData(*query));
}

void AdminService::HandleCore0(HttpRequest& request, Responder& responder, AdminOp op) {
  if (!Authorize(request, responder))
    return;
  if (shard_.index() == 0) {
    AdminReply reply = RunOnCore0(op, request.body);
    SendJson(responder, reply.status, reply.body);
    return;
  }
  uint64_t token = 0;
  if (Park(responder, &token, 0) == nullptr) {
    SendJson(responder, 503, Detail("this request cannot be deferred"));
    return;
  }
  shard_.Post(0, std::make_unique<admin_messages::Call>(op, request.body, shard_.index(), token));
}

// ---- Cross-core state ----

void AdminService::OnSettings(const RuntimeSettings& values) {
  settings_.Replace(values);
  chat_.ApplyRuntimeSettings(values);
}

void AdminService::OnAddKeys(const std::vector<std::string>& keys) {
  chat_.AddKeys(keys);
}

void AdminService::OnForgetKeys(const std::vector<uint32_t>& keys) {
  for (uint32_t key : keys)
    chat_.keys().Forget(key);
}

void AdminService::OnResetStats(uint32_t epoch) {
  chat_.keys().Apply(HealthEvent::ResetUsage());
  chat_.call_stats().Reset(epoch);
}

void AdminService::OnCallStats(uint32_t epoch, const std::vector<MinuteCount>& deltas) {
  chat_.call_stats().Merge(epoch, deltas, WallMillis());
}

// Publishes this core's minute counts; on core 0, notices the end of a key check.
void AdminService::OnTick() {
  CallStats& stats = chat_.call_stats();
  if (stats.has_pending()) {
    deltas_.clear();
    stats.TakeDeltas(&deltas_);
    if (shard_.core_count() > 1) {
      auto batch = std::make_shared<const std::vector<MinuteCount>>(deltas_);
      for (int core = 0; core < shard_.core_count(); ++core) {
        if (core != shard_.index()) {
          shard_.Post(core,
                      std::make_unique<admin_messages::CallStatsDeltas>(stats.epoch(), batch));
        }
      }
    }
  }
  if (watching_key_check_ && !chat_.key_validator().running()) {
    watching_key_check_ = false;
    Changed(AdminChange::kKeysValidated);
  }
  shard_.timers().Schedule(&tick_, shard_.now_ms() + kTickMs);
}

}  // namespace ringgate
