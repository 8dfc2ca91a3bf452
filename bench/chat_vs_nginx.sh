#!/usr/bin/env bash
# Side-by-side load test of the non-stream chat path: ringgate vs an nginx reverse proxy, both
# in front of the same fake Gemini API (build/fake-gemini), same machine, same pinning.
#
#   bench/chat_vs_nginx.sh                 # 2 rounds: nginx, ringgate, nginx, ringgate
#   DURATION=20s ROUNDS=3 bench/chat_vs_nginx.sh
#
# ringgate: clients POST an OpenAI body to /v1/chat/completions (Authorization: Bearer);
#   ringgate checks the password, translates to Gemini, calls the fake's generateContent over
#   its upstream pool, translates the answer back to a chat.completion.
#   Env: GEMINI_BASE_URL=http://127.0.0.1:FAKEPORT, GEMINI_API_KEYS=AIzaSy+33 chars,
#   PASSWORD=secret, NONSTREAM_KEEPALIVE_ENABLED=false, per-IP rate limits raised out of the
#   way (MAX_REQUESTS_PER_MINUTE, MAX_REQUESTS_PER_DAY_PER_IP; bench/lib.sh); --threads 1.
# nginx (Debian): clients POST the Gemini body that ringgate sends upstream (captured at start)
#   to /v1beta/models/gemini-2.5-flash:generateContent (x-goog-api-key); nginx proxies it
#   verbatim (proxy_pass to `upstream { server 127.0.0.1:FAKEPORT; keepalive 64; }`,
#   proxy_http_version 1.1, Connection ""): no translation, no auth.
#
# Pinning: the server (ringgate or nginx, one thread / one process) on SERVER_CPU (0); wrk
# (-t1) and the fake (one reactor thread) on CLIENT_CPU (1), so the fake gets the same CPU in
# both runs and the server has a CPU to itself. Each run starts a fresh fake and server, checks
# a sample answer (a valid chat.completion for ringgate, a Gemini answer with the same text for
# nginx), warms up, then samples /proc/PID/stat utime+stime of the server and of the fake and
# /proc/stat around the measured wrk run. The fake's /_fake/stats gives the upstream requests
# and connections of the measured run (keep-alive to the upstream must hold for both).
#
# Reported per run: requests/s, p50/p99 (wrk --latency), server CPU µs/request, fake CPU
# µs/request, CPU busy %, upstream connections opened; then medians and ratios.
#
# Environment / flags:
#   DURATION      wrk duration of each measured run (default 10s)      --duration D
#   WARMUP        warm-up before each measured run (default 2s)        --warmup D
#   CONNECTIONS   wrk connections (default 64)                         --connections N
#   ROUNDS        rounds of (nginx, ringgate) (default 2)              --rounds N
#   RINGGATE_BIN  (default build/ringgate)   FAKE_BIN (default build/fake-gemini)
#   NGINX_BIN     (default /usr/sbin/nginx)
#   SERVER_CPU / CLIENT_CPU   CPUs (default 0 / 1); FAKE_CPU (default CLIENT_CPU)
#   QUIET_WAIT, NOISY_RETRIES, TIME_BUDGET (default 10, 1, 90): as in bench/load_vs_nginx.sh
#   RATE          open loop instead of wrk's closed loop: h2load (nghttp2-client) sends RATE
#                 requests/s in all from CONNECTIONS clients to both servers (e.g. RATE=64000,
#                 below both servers' capacity); req/s is then equal by design and the figure to
#                 compare is CPU per request at the same load (p50/p99 print as 0)
# Exit status: 0 clean; 2 a run failed (non-2xx, socket errors, dead process, wrong answer,
# upstream keep-alive not used); 3 only disturbed by other load. Figures are printed anyway.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
RINGGATE_BIN=${RINGGATE_BIN:-build/ringgate}
FAKE_BIN=${FAKE_BIN:-build/fake-gemini}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
FAKE_CPU=${FAKE_CPU:-$CLIENT_CPU}
QUIET_WAIT=${QUIET_WAIT:-10}
NOISY_RETRIES=${NOISY_RETRIES:-1}
TIME_BUDGET=${TIME_BUDGET:-90}
RATE=${RATE:-}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --connections|-c) CONNECTIONS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) usage_of "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
done

require_tools wrk taskset curl getconf awk python3
[[ -z "$RATE" ]] || require_tools h2load
[[ -x "$NGINX_BIN" ]] || die "nginx not found at $NGINX_BIN (apt-get install nginx-light), or set NGINX_BIN"
[[ -x "$RINGGATE_BIN" ]] || die "ringgate binary not found at $RINGGATE_BIN (ninja -C build)"
[[ -x "$FAKE_BIN" ]] || die "fake-gemini binary not found at $FAKE_BIN (ninja -C build)"
ncpu=$(nproc)
(( ncpu > SERVER_CPU && ncpu > CLIENT_CPU && ncpu > FAKE_CPU )) || die "need CPUs $SERVER_CPU, $CLIENT_CPU, $FAKE_CPU"

CLK_TCK=$(getconf CLK_TCK)
WORKDIR=$(mktemp -d /tmp/ringgate-chat-bench.XXXXXX)
SERVER_PID="" FAKE_PID="" WRK_PID="" RG_PID=""
API_KEY=$RG_API_KEY      # from lib.sh
PASSWORD=$RG_PASSWORD
MODEL=gemini-2.5-flash
GEMINI_PATH="/v1beta/models/$MODEL:generateContent"

cleanup() {
  if [[ -n "$WRK_PID" ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
  stop_pid "$SERVER_PID"
  stop_pid "${RG_PID:-}"
  stop_pid "$FAKE_PID"
  rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The OpenAI request clients send to ringgate: a system prompt, a user message, sampling knobs.
cat >"$WORKDIR/openai.json" <<EOF
{"model":"$MODEL","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one sentence about the sea."}],"temperature":0.7,"max_tokens":256}
EOF

start_ringgate() {  # fake_port
  start_ringgate_chat "$RINGGATE_BIN" "$SERVER_CPU" "$1" "$WORKDIR/ringgate.out" \
    NONSTREAM_KEEPALIVE_ENABLED=false
  SERVER_PID=$RG_PID PORT=$RG_PORT RG_PID=""
}

start_nginx() {  # fake_port
  local dir="$WORKDIR/nginx"
  PORT=$(free_port)
  mkdir -p "$dir"
  {
    nginx_conf_head "$dir" "bench/chat_vs_nginx.sh"
    cat <<EOF
    upstream gemini {
        server 127.0.0.1:$1;
        keepalive 64;
        keepalive_requests 1000000000;
    }
    server {
        listen 127.0.0.1:$PORT;
        location /v1beta/ {
            proxy_pass http://gemini;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
  } >"$dir/nginx.conf"
  taskset -c "$SERVER_CPU" "$NGINX_BIN" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
    >"$WORKDIR/nginx.out" 2>&1 &
  SERVER_PID=$!
  wait_listening "$SERVER_PID" "$PORT" ||
    { cat "$WORKDIR/nginx.out" "$dir/error.log" >&2 2>/dev/null; die "nginx did not start on 127.0.0.1:$PORT"; }
  [[ -z "$(cat /proc/"$SERVER_PID"/task/*/children 2>/dev/null | tr -d ' \n')" ]] ||
    die "nginx forked (master_process off expected one process)"
}

# ---- correctness of one sample answer -----------------------------------------------------------
check_answer() {  # name port -> prints the answer text, exit status 1 on a bad answer
  local name=$1 port=$2
  if [[ $name == ringgate ]]; then
    curl -s --max-time 5 "http://127.0.0.1:$port/v1/chat/completions" \
      -H "Authorization: Bearer $PASSWORD" -H 'Content-Type: application/json' \
      --data-binary @"$WORKDIR/openai.json" >"$WORKDIR/answer.json" || true
  else
    curl -s --max-time 5 "http://127.0.0.1:$port$GEMINI_PATH" \
      -H "x-goog-api-key: $API_KEY" -H 'Content-Type: application/json' \
      --data-binary @"$WORKDIR/gemini.json" >"$WORKDIR/answer.json" || true
  fi
  python3 - "$name" "$WORKDIR/answer.json" <<'EOF'
import json, sys
name, raw = sys.argv[1], open(sys.argv[2]).read()
try:
    a = json.loads(raw)
    if name == "ringgate":  # an OpenAI chat.completion
        assert a["object"] == "chat.completion", "object"
        assert a["id"].startswith("chatcmpl-") and isinstance(a["created"], int), "id/created"
        assert a["model"] == "gemini-2.5-flash", "model"
        c = a["choices"][0]
        assert c["index"] == 0 and c["finish_reason"] == "stop", "finish_reason"
        m = c["message"]
        assert m["role"] == "assistant" and isinstance(m["content"], str) and m["content"], "message"
        u = a["usage"]
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] > 0, "usage"
        print(m["content"])
    else:                   # a Gemini GenerateContentResponse, passed through
        c = a["candidates"][0]
        assert c["finishReason"] == "STOP", "finishReason"
        print("".join(p["text"] for p in c["content"]["parts"]))
except Exception as e:
    print(f"bad {name} answer ({type(e).__name__} {e}): {raw[:400]}", file=sys.stderr)
    sys.exit(1)
EOF
}

RESULTS="$WORKDIR/results.tsv"  # name round rps p50 p99 cpu_us fake_us cpu0% cpu1% other0% conns errors
: >"$RESULTS"
FAILED=0
NOISY_KEPT=0
declare -A TEXTS=()

run_one() {  # name round final
  local name=$1 round=$2 final=$3 url text stats
  local t0 t1 u0 u1 f0 f1 c0a c0b c1a c1b s0a s0b s1a s1b
  RUN_NOISY=0
  wait_quiet
  start_fake "$FAKE_BIN" "$FAKE_CPU" "$WORKDIR/fake.out"
  if [[ $name == nginx ]]; then
    start_nginx "$FAKE_PORT"
    url="http://127.0.0.1:$PORT$GEMINI_PATH"
    export WRK_BODY_FILE="$WORKDIR/gemini.json" WRK_HEADERS="x-goog-api-key: $API_KEY"
  else
    start_ringgate "$FAKE_PORT"
    url="http://127.0.0.1:$PORT/v1/chat/completions"
    export WRK_BODY_FILE="$WORKDIR/openai.json" WRK_HEADERS="Authorization: Bearer $PASSWORD"
  fi
  local errors=""
  if text=$(check_answer "$name" "$PORT"); then
    TEXTS[$name]=$text
  else
    errors+="wrong sample answer; "
  fi
  if [[ $round == 1 ]]; then
    echo "  $name pid $SERVER_PID threads: $(thread_cpus "$SERVER_PID"); fake pid $FAKE_PID: $(thread_cpus "$FAKE_PID")"
  fi

  if [[ -n "$RATE" ]]; then
    run_h2load /dev/null "${WARMUP%s}" "$RATE" "$CONNECTIONS" "$WRK_BODY_FILE" "$url" \
      -H "$WRK_HEADERS" || true
  else
    run_wrk /dev/null -t1 -c"$CONNECTIONS" -d"$WARMUP" -s "$HERE/wrk/post.lua" "$url" || true
  fi
  curl -s -X DELETE --max-time 2 "http://127.0.0.1:$FAKE_PORT/_fake/stats" >/dev/null

  read -r c0a s0a < <(cpu_jiffies "$SERVER_CPU")
  read -r c1a s1a < <(cpu_jiffies "$CLIENT_CPU")
  read -r t0 u0 < <(proc_ticks "$SERVER_PID")
  read -r f0 _ < <(proc_ticks "$FAKE_PID")
  if [[ -n "$RATE" ]]; then
    run_h2load "$WORKDIR/wrk-$name-$round.txt" "${DURATION%s}" "$RATE" "$CONNECTIONS" \
      "$WRK_BODY_FILE" "$url" -H "$WRK_HEADERS" || errors+="h2load exited with an error; "
  else
    run_wrk "$WORKDIR/wrk-$name-$round.txt" -t1 -c"$CONNECTIONS" -d"$DURATION" --latency \
      -s "$HERE/wrk/post.lua" "$url" || errors+="wrk exited with an error; "
  fi
  if ! read -r t1 u1 < <(proc_ticks "$SERVER_PID" 2>/dev/null); then
    errors+="$name died; "; t1=$t0 u1=$u0
  fi
  if ! read -r f1 _ < <(proc_ticks "$FAKE_PID" 2>/dev/null); then
    errors+="fake died; "; f1=$f0
  fi
  read -r c0b s0b < <(cpu_jiffies "$SERVER_CPU")
  read -r c1b s1b < <(cpu_jiffies "$CLIENT_CPU")

  if [[ -n "$RATE" ]]; then
    h2load_fields "$WORKDIR/wrk-$name-$round.txt"
  else
    wrk_fields "$WORKDIR/wrk-$name-$round.txt"
  fi
  errors+=$WRK_ERRORS
  # Upstream view: requests the fake answered and connections it accepted during the run
  # (the stats GET itself opens one more connection, subtracted).
  stats=$(curl -s --max-time 2 "http://127.0.0.1:$FAKE_PORT/_fake/stats" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["requests"], s["connections_accepted"] - 1)' ||
    echo "0 -1")
  local up_req up_conns
  read -r up_req up_conns <<<"$stats"
  (( up_req >= WRK_REQUESTS )) || errors+="fake saw $up_req requests < wrk's $WRK_REQUESTS; "
  (( up_conns >= 0 && up_conns <= CONNECTIONS )) ||
    errors+="$up_conns upstream connections opened in the run (keep-alive not used?); "
  [[ -n "$errors" ]] && FAILED=1

  local cpu_us fake_us cpu0 cpu1 other0
  cpu_us=$(cpu_us_per $((t1 - t0)) "$WRK_REQUESTS")
  fake_us=$(cpu_us_per $((f1 - f0)) "$WRK_REQUESTS")
  cpu0=$(busy_pct "$c0a" "$s0a" "$c0b" "$s0b")
  cpu1=$(busy_pct "$c1a" "$s1a" "$c1b" "$s1b")
  other0=$(awk -v b=$((c0b - c0a)) -v s=$((t1 - t0)) -v t=$((s0b - s0a)) \
    'BEGIN { printf "%.0f", t ? 100 * (b - s) / t : 0 }')
  printf '  %-8s round %d: %7.0f req/s  p50 %6.0f us  p99 %6.0f us  %6s CPU us/req (%d%% user)  fake %s us/req  CPU%d %s%% busy (%s%% not the server)  CPU%d %s%% busy  upstream: %s req, %s new conns\n' \
    "$name" "$round" "$WRK_RPS" "$WRK_P50" "$WRK_P99" "$cpu_us" \
    $(( t1 > t0 ? 100 * (u1 - u0) / (t1 - t0) : 0 )) "$fake_us" \
    "$SERVER_CPU" "$cpu0" "$other0" "$CLIENT_CPU" "$cpu1" "$up_req" "$up_conns"
  if (( other0 > 10 )); then
    RUN_NOISY=1
    echo "  WARNING: $other0% of CPU $SERVER_CPU went to something other than the server (other jobs?)"
  fi
  if [[ -n "$errors" ]]; then
    echo "  ERRORS ($name round $round): $errors"
    sed 's/^/    wrk| /' "$WORKDIR/wrk-$name-$round.txt"
  fi
  stop_pid "$SERVER_PID"; SERVER_PID=""
  stop_pid "$FAKE_PID"; FAKE_PID=""
  if (( RUN_NOISY && ! final )); then
    echo "  (discarding this run and measuring $name again)"
    return 0
  fi
  (( RUN_NOISY )) && NOISY_KEPT=$((NOISY_KEPT + 1))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$WRK_RPS" \
    "$WRK_P50" "$WRK_P99" "$cpu_us" "$fake_us" "$cpu0" "$cpu1" "$other0" "$up_conns" \
    "${errors:-none}" >>"$RESULTS"
}

echo "chat completions (non-stream): ringgate (OpenAI->Gemini->OpenAI) vs nginx (Gemini proxy_pass)"
echo "  server on CPU $SERVER_CPU; wrk -t1 -c$CONNECTIONS -d$DURATION on CPU $CLIENT_CPU; fake-gemini" \
     "on CPU $FAKE_CPU; warm-up $WARMUP; $ROUNDS round(s)"
echo "  machine: $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)," \
     "kernel $(uname -r); $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //'); $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
echo "  ringgate: $RINGGATE_BIN; fake: $FAKE_BIN; CLK_TCK=$CLK_TCK; $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# The Gemini body nginx gets: exactly what ringgate sends upstream for openai.json.
capture_upstream_body "$RINGGATE_BIN" "$FAKE_BIN" "$WORKDIR" "$WORKDIR/openai.json" \
  "$WORKDIR/gemini.json" "$GEMINI_PATH" NONSTREAM_KEEPALIVE_ENABLED=false
echo "  request bodies: OpenAI $(wc -c <"$WORKDIR/openai.json") bytes to ringgate; Gemini" \
     "$(wc -c <"$WORKDIR/gemini.json") bytes (what ringgate sends upstream) to nginx"
echo

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  for name in nginx ringgate; do
    for attempt in $(seq 0 "$NOISY_RETRIES"); do
      final=$(( attempt == NOISY_RETRIES || SECONDS >= TIME_BUDGET ))
      run_one "$name" "$round" "$final"
      (( RUN_NOISY && ! final )) || break
    done
  done
done

echo
echo "sample answers (checked: ringgate's is a valid chat.completion, nginx's a Gemini answer):"
echo "  nginx:    ${TEXTS[nginx]:-(none)}"
echo "  ringgate: ${TEXTS[ringgate]:-(none)}"
if [[ "${TEXTS[nginx]:-}" != "${TEXTS[ringgate]:-}" ]]; then
  echo "  WARNING: the answer texts differ"
  FAILED=1
fi

echo
echo "summary over $ROUNDS round(s)            median      mean"
for name in nginx ringgate; do
  for col in 3:req/s 4:p50_us 5:p99_us 6:cpu_us/req 7:fake_cpu_us/req 8:cpu${SERVER_CPU}_busy% \
             10:cpu${SERVER_CPU}_not_server% 9:cpu${CLIENT_CPU}_busy%; do
    read -r med mean < <(stat_of "$name" "${col%%:*}")
    printf '  %-9s %-16s %12s %10s\n' "$name" "${col#*:}" "$med" "$mean"
  done
done
read -r rg_rps _ < <(stat_of ringgate 3)
read -r ng_rps _ < <(stat_of nginx 3)
read -r rg_cpu _ < <(stat_of ringgate 6)
read -r ng_cpu _ < <(stat_of nginx 6)
echo
echo "ratios (medians)"
awk -v a="$rg_rps" -v b="$ng_rps" 'BEGIN { r = (b > 0) ? a / b : 0
  printf "  ringgate req/s   / nginx req/s   = %.2f   (goal >= 1.00: %s)\n", r, (r >= 1) ? "met" : "NOT met" }'
awk -v a="$rg_cpu" -v b="$ng_cpu" 'BEGIN { r = (b > 0) ? a / b : 0
  printf "  ringgate CPU/req / nginx CPU/req = %.2f   (goal <= 1.00: %s)\n", r, (r > 0 && r <= 1) ? "met" : "NOT met" }'
echo "per-round ratios (req/s, CPU/req)"
for round in $(seq 1 "$ROUNDS"); do
  awk -F'\t' -v r="$round" '$2 == r { rps[$1] = $3; cpu[$1] = $6 }
    END { a = (rps["nginx"] > 0) ? rps["ringgate"] / rps["nginx"] : 0
          b = (cpu["nginx"] > 0) ? cpu["ringgate"] / cpu["nginx"] : 0
          printf "  round %d: %.2f  %.2f\n", r, a, b }' "$RESULTS"
done

if [[ $FAILED -ne 0 ]]; then
  echo
  echo "SOME RUNS WERE NOT CLEAN (see ERRORS / WARNING lines above); the figures are suspect."
  exit 2
fi
if (( NOISY_KEPT > 0 )); then
  echo
  echo "$NOISY_KEPT kept run(s) shared CPU $SERVER_CPU with other load; rerun on a quieter machine."
  exit 3
fi
