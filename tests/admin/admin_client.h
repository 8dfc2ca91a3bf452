// Helpers for the dashboard / admin API tests: sign in, call /api/* with the session cookie, the
// HAJIMI body password or a Bearer header, and read dashboard-data. Built on chat_harness's
// Gateway (real ringgate in front of the real fake-gemini on loopback).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "chat_harness.h"

namespace ringgate::testing {

// The web password tests start ringgate with (WEB_PASSWORD).
inline constexpr char kWebPassword[] = "dash-secret";

// GatewayOptions with WEB_PASSWORD set, the start-up key check skipped and `threads` cores.
GatewayOptions AdminOptions(int threads = 2, int keys = 3);

// POST /api/login; the "Cookie: ringgate_session=...\r\n" header line, or "" (and a test failure)
// when sign-in did not succeed.
std::string SignIn(Gateway& gateway, std::string_view password = kWebPassword);

// A request to `path` with `headers` (e.g. SignIn's line) on a new connection.
HttpResponse ApiGet(Gateway& gateway, std::string_view path, std::string_view headers = "");
HttpResponse ApiPost(Gateway& gateway, std::string_view path, std::string_view body,
                     std::string_view headers = "");

// GET /api/dashboard-data[?query] with the cookie line; the parsed body (ok false on failure).
std::unique_ptr<Json> Dashboard(Gateway& gateway, std::string_view cookie,
                                std::string_view query = "");

// POST /api/update-config {"key": key, "value": value_json} with the cookie line.
HttpResponse UpdateConfig(Gateway& gateway, std::string_view cookie, std::string_view key,
                          std::string_view value_json);

// A plain non-stream chat request with the client password; the status.
int ChatOnce(Gateway& gateway, std::string_view extra_headers = "");

}  // namespace ringgate::testing
