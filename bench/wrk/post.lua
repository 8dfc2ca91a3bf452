-- wrk script: POST a fixed JSON body with extra headers, taken from the environment.
--   WRK_BODY_FILE   file holding the request body (required)
--   WRK_HEADERS     extra headers, one "Name: value" per line (e.g. "Authorization: Bearer x")
-- wrk builds the request once from wrk.method/body/headers, so this costs wrk nothing per
-- request. Used by bench/chat_vs_nginx.sh.
local f = assert(io.open(assert(os.getenv("WRK_BODY_FILE"), "WRK_BODY_FILE not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end
