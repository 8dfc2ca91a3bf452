#include "admin_client.h"

namespace ringgate::testing {

GatewayOptions AdminOptions(int threads, int keys) {
  GatewayOptions options;
  options.threads = threads;
  options.keys = keys;
  options.env = {std::string("WEB_PASSWORD=") + kWebPassword, "NONSTREAM_KEEPALIVE_ENABLED=false",
                 "FAKE_STREAMING=false"};
  options.fake_args = {"--record", "1000"};
  return options;
}

std::string SignIn(Gateway& gateway, std::string_view password) {
  std::string body = "{\"password\":\"" + std::string(password) + "\"}";
  HttpResponse response = ApiPost(gateway, "/api/login", body);
  EXPECT_EQ(response.status, 200) << response;
  std::string cookie = response.Header("set-cookie").value_or("");
  size_t end = cookie.find(';');
  if (response.status != 200 || end == std::string::npos) {
    ADD_FAILURE() << "no session cookie: " << response;
    return "";
  }
  return "Cookie: " + cookie.substr(0, end) + "\r\n";
}

HttpResponse ApiGet(Gateway& gateway, std::string_view path, std::string_view headers) {
  return gateway.Call(GetRequest(path, headers));
}

HttpResponse ApiPost(Gateway& gateway, std::string_view path, std::string_view body,
                     std::string_view headers) {
  return gateway.Call(PostRequest(path, body, headers));
}

std::unique_ptr<Json> Dashboard(Gateway& gateway, std::string_view cookie, std::string_view query) {
  std::string path = "/api/dashboard-data";
  if (!query.empty())
    path += "?" + std::string(query);
  HttpResponse response = ApiGet(gateway, path, cookie);
  EXPECT_EQ(response.status, 200) << response;
  return ParseJson(response.body);
}

HttpResponse UpdateConfig(Gateway& gateway, std::string_view cookie, std::string_view key,
                          std::string_view value_json) {
  std::string body =
      "{\"key\":\"" + std::string(key) + "\",\"value\":" + std::string(value_json) + "}";
  return ApiPost(gateway, "/api/update-config", body, cookie);
}

int ChatOnce(Gateway& gateway, std::string_view extra_headers) {
  return gateway.Chat(SimpleChat(), extra_headers).status;
}

}  // namespace ringgate::testing
