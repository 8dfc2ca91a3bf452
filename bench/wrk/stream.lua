-- wrk script for SSE streams: POSTs like post.lua (WRK_BODY_FILE, WRK_HEADERS) and checks
-- every response body. A stream is "ok" when its status is 200 and its body ends with
-- WRK_STREAM_END (default "data: [DONE]\n\n"). Events are counted as occurrences of "data: "
-- at the start of a line, the final [DONE] excluded. done() prints one line:
--   stream-check: ok=N bad=N events=N first_bad=<status and body tail of the first bad one>
-- Used by bench/stream_load.sh. Defining response() makes wrk keep each body (it does not
-- otherwise), which costs wrk a little CPU per response.
local f = assert(io.open(assert(os.getenv("WRK_BODY_FILE"), "WRK_BODY_FILE not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local stream_end = os.getenv("WRK_STREAM_END") or "data: [DONE]\n\n"
local done_marker = "data: [DONE]"
ok, bad, events, first_bad = 0, 0, 0, ""

function response(status, headers, body)
  local good = status == 200 and #body >= #stream_end and
               body:sub(-#stream_end) == stream_end
  if good then ok = ok + 1 else
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. body:sub(-200):gsub("\n", "\\n") end
  end
  local n, pos = 0, 1
  while true do
    local s = body:find("data: ", pos, true)
    if not s then break end
    if (s == 1 or body:sub(s - 1, s - 1) == "\n") and body:sub(s, s + #done_marker - 1) ~= done_marker then
      n = n + 1
    end
    pos = s + 6
  end
  events = events + n
end

function done(summary, latency, requests)
  local tok, tbad, tev, tfirst = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    tok = tok + (t:get("ok") or 0)
    tbad = tbad + (t:get("bad") or 0)
    tev = tev + (t:get("events") or 0)
    if tfirst == "" then tfirst = t:get("first_bad") or "" end
  end
  io.write(string.format("stream-check: ok=%d bad=%d events=%d first_bad=%s\n", tok, tbad, tev, tfirst))
end
