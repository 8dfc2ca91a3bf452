#include "chat_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace ringgate::testing {
namespace {

// HAJIMI-style settings the tests' own environment must not leak into a child: the harness only
// strips ringgate's core variables.
constexpr const char* kChatEnvNames[] = {
    "PASSWORD",
    "WHITELIST_USER_AGENT",
    "ALLOWED_ORIGINS",
    "FAKE_STREAMING",
    "FAKE_STREAMING_INTERVAL",
    "NONSTREAM_KEEPALIVE_ENABLED",
    "NONSTREAM_KEEPALIVE_INTERVAL",
    "ENABLE_THINKING",
    "SEARCH_MODE",
    "SEARCH_PROMPT",
    "EXTRA_MODELS",
    "BLOCKED_MODELS",
    "WHITELIST_MODELS",
    "UPSTREAM_CONNECT_TIMEOUT",
    "UPSTREAM_TLS_TIMEOUT",
    "UPSTREAM_FIRST_BYTE_TIMEOUT",
    "UPSTREAM_IDLE_TIMEOUT",
    "UPSTREAM_MAX_IDLE",
    "UPSTREAM_IDLE_AGE",
    "INVALID_API_KEYS",
    "MAX_RETRY_NUM",
    "API_KEY_DAILY_LIMIT",
    "SKIP_CHECK_API_KEY",
    "PUBLIC_MODE",
    "KEY_CHECK_CONCURRENCY",
    "MAX_REQUESTS_PER_MINUTE",
    "MAX_REQUESTS_PER_DAY_PER_IP",
    "TRUSTED_PROXIES",
};

// $RINGGATE_BINARY as meson set it, remembered before the first switch to the fake.
const std::string& RinggatePath() {
  static const std::string path = RinggateBinary();
  return path;
}

std::string FakePath() {
  const char* fake = getenv("FAKE_GEMINI_BINARY");
  return fake != nullptr ? fake : "";
}

std::string_view EnvName(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Keys

std::string TestKey(int i) {
  std::string key = kApiKey;
  key[13] = static_cast<char>('0' + (i / 10) % 10);
  key[14] = static_cast<char>('0' + i % 10);
  return key;
}

std::string TestKeyList(int first, int last) {
  std::string out;
  for (int i = first; i <= last; ++i) {
    if (!out.empty())
      out += ',';
    out += TestKey(i);
  }
  return out;
}

int TestKeyIndex(std::string_view key) {
  if (key.size() != 39 || key.substr(0, 13) != kTestKeyPrefix)
    return 0;
  if (key[13] < '0' || key[13] > '9' || key[14] < '0' || key[14] > '9')
    return 0;
  int i = (key[13] - '0') * 10 + (key[14] - '0');
  return i > 0 && key == TestKey(i) ? i : 0;
}

// ---------------------------------------------------------------------------------------------
// Json

bool Json::Has(std::string_view pointer) const {
  simdjson::dom::element e;
  return ok && root.at_pointer(pointer).get(e) == simdjson::SUCCESS;
}

bool Json::IsNull(std::string_view pointer) const {
  simdjson::dom::element e;
  return ok && root.at_pointer(pointer).get(e) == simdjson::SUCCESS && e.is_null();
}

bool Json::IsString(std::string_view pointer) const {
  simdjson::dom::element e;
  return ok && root.at_pointer(pointer).get(e) == simdjson::SUCCESS && e.is_string();
}

std::string Json::Str(std::string_view pointer) const {
  std::string_view s;
  if (!ok || root.at_pointer(pointer).get_string().get(s))
    return "<missing " + std::string(pointer) + ">";
  return std::string(s);
}

int64_t Json::Int(std::string_view pointer) const {
  int64_t v = -1;
  if (!ok || root.at_pointer(pointer).get_int64().get(v))
    return -1;
  return v;
}

double Json::Num(std::string_view pointer) const {
  simdjson::dom::element e;
  if (!ok || root.at_pointer(pointer).get(e))
    return -1;
  double d = -1;
  if (!e.get_double().get(d))
    return d;
  int64_t i = 0;
  if (!e.get_int64().get(i))
    return static_cast<double>(i);
  return -1;
}

bool Json::Bool(std::string_view pointer) const {
  bool v = false;
  if (!ok || root.at_pointer(pointer).get_bool().get(v))
    return false;
  return v;
}

size_t Json::Size(std::string_view pointer) const {
  simdjson::dom::array a;
  if (!ok || root.at_pointer(pointer).get_array().get(a))
    return 0;
  return a.size();
}

std::string Json::Raw(std::string_view pointer) const {
  simdjson::dom::element e;
  if (!ok || root.at_pointer(pointer).get(e))
    return "<missing " + std::string(pointer) + ">";
  return simdjson::minify(e);
}

std::vector<std::string> Json::Keys(std::string_view pointer) const {
  std::vector<std::string> keys;
  simdjson::dom::object o;
  if (!ok || root.at_pointer(pointer).get_object().get(o))
    return keys;
  for (auto field : o)
    keys.emplace_back(field.key);
  return keys;
}

std::unique_ptr<Json> ParseJson(std::string_view text) {
  auto json = std::make_unique<Json>();
  json->ok = json->parser.parse(text.data(), text.size()).get(json->root) == simdjson::SUCCESS;
  return json;
}

// ---------------------------------------------------------------------------------------------
// Requests

std::string PostRequest(std::string_view target, std::string_view body, std::string_view headers) {
  std::string r = "POST " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n";
  r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += headers;
  r += "\r\n";
  r += body;
  return r;
}

std::string GetRequest(std::string_view target, std::string_view headers) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" + std::string(headers) +
         "\r\n";
}

std::string Bearer(std::string_view password) {
  return "Authorization: Bearer " + std::string(password) + "\r\n";
}

std::string SimpleChat(std::string_view model, std::string_view extra, std::string_view text) {
  std::string body = R"({"model":")" + std::string(model) +
                     R"(","messages":[{"role":"user","content":")" + std::string(text) + "\"}]";
  body += extra;
  body += "}";
  return body;
}

std::vector<std::string> SseData(std::string_view body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string_view::npos) {
      out.push_back("<bad event>unterminated: " + std::string(body.substr(pos)));
      break;
    }
    std::string_view event = body.substr(pos, end - pos);
    if (event.substr(0, 6) == "data: " && event.find('\n') == std::string_view::npos) {
      out.emplace_back(event.substr(6));
    } else {
      out.push_back("<bad event>" + std::string(event));
    }
    pos = end + 2;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Gateway

::testing::AssertionResult Gateway::Start(const GatewayOptions& options) {
  for (const char* name : kChatEnvNames)
    unsetenv(name);
  for (int i = 1; i <= 99; ++i)
    unsetenv(("GEMINI_API_KEYS_" + std::to_string(i)).c_str());
  const std::string& ringgate_path = RinggatePath();
  if (ringgate_path.empty())
    return ::testing::AssertionFailure() << "RINGGATE_BINARY is not set";
  std::string base_url = options.base_url;
  if (options.start_fake) {
    std::string fake_path = FakePath();
    if (fake_path.empty())
      return ::testing::AssertionFailure() << "FAKE_GEMINI_BINARY is not set";
    setenv("RINGGATE_BINARY", fake_path.c_str(), 1);
    ServerOptions fake_options;
    fake_options.args = options.fake_args;
    ::testing::AssertionResult started = fake_.Start(fake_options);
    setenv("RINGGATE_BINARY", ringgate_path.c_str(), 1);
    if (!started)
      return started << " (fake-gemini)";
    base_url = "http://127.0.0.1:" + std::to_string(fake_.port());
  }
  setenv("RINGGATE_BINARY", ringgate_path.c_str(), 1);
  ServerOptions rg_options;
  keys_.clear();
  for (int i = 1; i <= options.keys; ++i)
    keys_.push_back(TestKey(i));
  // No start-up key check unless a test asks for it (SKIP_CHECK_API_KEY=false in options.env):
  // the other tests count every upstream request and set key states after the start. Every test
  // talks from 127.0.0.1: HAJIMI's per-IP limits (30 a minute) would refuse the suites.
  // PUBLIC_MODE=true: tests send identical requests at once and count the upstream calls; only
  // coalescing_test turns coalescing on.
  std::vector<std::string> base = {"THREADS=" + std::to_string(options.threads),
                                   "GEMINI_BASE_URL=" + base_url,
                                   "SKIP_CHECK_API_KEY=true",
                                   "MAX_REQUESTS_PER_MINUTE=1000000000",
                                   "MAX_REQUESTS_PER_DAY_PER_IP=1000000000",
                                   "PUBLIC_MODE=true"};
  if (options.keys > 0)
    base.push_back("GEMINI_API_KEYS=" + TestKeyList(1, options.keys));
  // The first of two same-named entries wins in the child: options.env replaces the base.
  for (const std::string& entry : base) {
    bool replaced = false;
    for (const std::string& own : options.env)
      replaced |= EnvName(own) == EnvName(entry);
    if (!replaced)
      rg_options.env.push_back(entry);
  }
  for (const std::string& entry : options.env)
    rg_options.env.push_back(entry);
  ::testing::AssertionResult started = ringgate_.Start(rg_options);
  if (!started)
    return started << " (ringgate)";
  if (options.probe_model.empty())
    return ::testing::AssertionSuccess();

  // Wait for the startup model fetch: until /v1/models lists the probe model.
  std::string headers = Bearer(options.password);
  if (!options.user_agent.empty())
    headers += "User-Agent: " + options.user_agent + "\r\n";
  std::string needle = "\"id\":\"" + options.probe_model + "\"";
  Clock::time_point deadline = Clock::now() + Millis(5000);
  std::string last;
  while (Clock::now() < deadline) {
    HttpResponse response;
    if (RoundTrip(port(), GetRequest("/v1/models", headers), &response) == ReadStatus::kOk) {
      last = response.body;
      if (response.status == 200 && response.body.find(needle) != std::string::npos)
        return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(Millis(10));
  }
  return ::testing::AssertionFailure() << "ringgate never listed " << options.probe_model
                                       << "; last /v1/models: " << last << "\nstderr:\n"
                                       << ringgate_.Stderr();
}

void Gateway::Stop() {
  if (ringgate_.running())
    ringgate_.Stop();
  if (fake_.running())
    fake_.Stop();
}

bool Gateway::IsGatewayKey(std::string_view key) const {
  for (const std::string& k : keys_) {
    if (k == key)
      return true;
  }
  return false;
}

HttpResponse Gateway::Call(const std::string& request, Millis timeout) {
  HttpResponse response;
  ReadStatus status = RoundTrip(port(), request, &response, "127.0.0.1", false, timeout);
  if (status != ReadStatus::kOk) {
    ADD_FAILURE() << "no response from ringgate (" << status << ") to:\n"
                  << request.substr(0, 2000);
    response.status = 0;
  }
  return response;
}

HttpResponse Gateway::Chat(std::string_view body, std::string_view headers, std::string_view path,
                           Millis timeout) {
  return Call(PostRequest(path, body, Bearer() + std::string(headers)), timeout);
}

HttpResponse Gateway::FakeCall(const std::string& request) {
  HttpResponse response;
  ReadStatus status = RoundTrip(fake_port(), request, &response);
  EXPECT_EQ(status, ReadStatus::kOk) << "fake control request failed:\n" << request;
  return response;
}

void Gateway::Reset() {
  HttpResponse response = FakeCall(PostRequest("/_fake/reset", ""));
  EXPECT_EQ(response.status, 200) << response.body;
}

void Gateway::Script(std::string_view script) {
  HttpResponse response = FakeCall(PostRequest("/_fake/script", script));
  EXPECT_EQ(response.status, 200) << "script " << script << ": " << response.body;
}

void Gateway::Keys(std::string_view json) {
  HttpResponse response = FakeCall(PostRequest("/_fake/keys", json));
  EXPECT_EQ(response.status, 200) << response.body;
}

void Gateway::KeyState(std::string_view key, std::string_view state, std::string_view model) {
  std::string json =
      R"({"key":")" + std::string(key) + R"(","state":")" + std::string(state) + "\"";
  if (!model.empty())
    json += R"(,"model":")" + std::string(model) + "\"";
  json += "}";
  Keys(json);
}

void Gateway::ClearRequests() {
  HttpResponse response = FakeCall("DELETE /_fake/requests HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(response.status, 200) << response.body;
}

std::vector<RecordedRequest> Gateway::Requests() {
  std::vector<RecordedRequest> out;
  HttpResponse response = FakeCall(GetRequest("/_fake/requests"));
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(response.body).get(root)) {
    ADD_FAILURE() << "bad /_fake/requests: " << response.body;
    return out;
  }
  simdjson::dom::array requests;
  if (root["requests"].get_array().get(requests))
    return out;
  for (simdjson::dom::element r : requests) {
    RecordedRequest rec;
    auto str = [&r](const char* name) {
      std::string_view v;
      return r[name].get_string().get(v) ? std::string() : std::string(v);
    };
    rec.method = str("method");
    rec.path = str("path");
    rec.key = str("key");
    rec.model = str("model");
    rec.api_method = str("api_method");
    rec.body = str("body");
    simdjson::dom::object headers;
    if (!r["headers"].get_object().get(headers)) {
      for (auto field : headers) {
        std::string_view v;
        if (!field.value.get_string().get(v))
          rec.headers[std::string(field.key)] = std::string(v);
      }
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<RecordedRequest> Gateway::Requests(std::string_view api_method) {
  std::vector<RecordedRequest> all = Requests();
  std::vector<RecordedRequest> out;
  for (RecordedRequest& r : all) {
    if (r.api_method == api_method)
      out.push_back(std::move(r));
  }
  return out;
}

std::unique_ptr<Json> Gateway::Stats() {
  HttpResponse response = FakeCall(GetRequest("/_fake/stats"));
  return ParseJson(response.body);
}

std::unique_ptr<Gateway> StartGateway(const GatewayOptions& options) {
  auto gateway = std::make_unique<Gateway>();
  ::testing::AssertionResult started = gateway->Start(options);
  if (!started) {
    ADD_FAILURE() << "gateway start failed: " << started.message();
    gateway->Stop();
    return nullptr;
  }
  return gateway;
}

// ---------------------------------------------------------------------------------------------
// CannedUpstream

CannedUpstream::~CannedUpstream() {
  Stop();
}

void CannedUpstream::Add(std::string target_substring, std::string response) {
  std::lock_guard<std::mutex> lock(mutex_);
  responses_.emplace_back(std::move(target_substring), std::move(response));
}

bool CannedUpstream::Start() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0)
    return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
  return true;
}

void CannedUpstream::Stop() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
  if (listen_fd_ >= 0)
    close(listen_fd_);
  listen_fd_ = -1;
}

std::vector<std::string> CannedUpstream::Targets() {
  std::lock_guard<std::mutex> lock(mutex_);
  return targets_;
}

void CannedUpstream::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0)
      continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    HandleConnection(fd);
    close(fd);
  }
}

void CannedUpstream::HandleConnection(int fd) {
  std::string in;
  Clock::time_point deadline = Clock::now() + Millis(3000);
  size_t head_end = std::string::npos;
  size_t need = 0;
  char buffer[8192];
  while (Clock::now() < deadline && !stop_) {
    if (head_end == std::string::npos) {
      head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t body = 0;
        std::string head = in.substr(0, head_end);
        for (char& c : head)
          c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
        size_t cl = head.find("content-length:");
        if (cl != std::string::npos)
          body = strtoul(head.c_str() + cl + 15, nullptr, 10);
        need = head_end + 4 + body;
      }
    }
    if (head_end != std::string::npos && in.size() >= need)
      break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0)
      continue;
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0)
      return;
    in.append(buffer, static_cast<size_t>(n));
  }
  if (head_end == std::string::npos)
    return;
  size_t sp1 = in.find(' ');
  size_t sp2 = in.find(' ', sp1 + 1);
  std::string target = in.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string response;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    targets_.push_back(target);
    for (const auto& [substring, canned] : responses_) {
      if (target.find(substring) != std::string::npos) {
        response = canned;
        break;
      }
    }
  }
  if (response.empty())
    response = JsonResponse(
        R"({"error":{"code":404,"message":"no canned answer","status":"NOT_FOUND"}})", 404);
  size_t sent = 0;
  while (sent < response.size()) {
    ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    sent += static_cast<size_t>(n);
  }
}

std::string CannedUpstream::JsonResponse(std::string_view body, int status) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Error") +
                  "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

std::string CannedUpstream::SseResponse(const std::vector<std::string>& events) {
  std::string r =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (const std::string& event : events) {
    std::string data = "data: " + event + "\r\n\r\n";
    char size[32];
    snprintf(size, sizeof(size), "%zx\r\n", data.size());
    r += size;
    r += data;
    r += "\r\n";
  }
  r += "0\r\n\r\n";
  return r;
}

std::string GeminiModelList(const std::vector<std::string>& models) {
  std::string body = R"({"models":[)";
  for (size_t i = 0; i < models.size(); ++i) {
    if (i > 0)
      body += ',';
    body += R"({"name":"models/)" + models[i] +
            R"(","supportedGenerationMethods":["generateContent","countTokens"],"thinking":true})";
  }
  body += "]}";
  return body;
}

}  // namespace ringgate::testing
