#!/usr/bin/env bash
# Streaming chat through ringgate (real streaming: FAKE_STREAMING=false) in front of the fake
# Gemini API (build/fake-gemini), two modes:
#
#   bench/stream_load.sh streams   # throughput with 1,000 concurrent streams (wrk -c1000)
#   bench/stream_load.sh ttfb      # time to first byte / first event ringgate adds, 1 connection
#   bench/stream_load.sh           # both
#
# streams: the fake's default script is SCRIPT (events=20;delay_ms=10;text_len=400: 20 events
#   10 ms apart, ~190 ms per stream). wrk -t1 -cSTREAMS -dDURATION --latency with
#   bench/wrk/stream.lua POSTs stream=true chat requests to ringgate, checks that every stream
#   is 200 and ends with "data: [DONE]\n\n" and counts the events it received. Reported:
#   streams/s, events/s (client-counted, and SCRIPT events x streams), stream duration p50/p99,
#   ringgate CPU µs per stream and per event, the closed-loop ceiling STREAMS / stream time,
#   CPU busy %, upstream connections opened. With DIRECT=1 (default) the same load first goes
#   straight to the fake's streamGenerateContent, to show what the fake + wrk side can carry.
#   ringgate runs with UPSTREAM_MAX_IDLE (default 1024) so its upstream pool can keep 1,000
#   connections; at the default of 64, streams beyond 64 would open a new upstream connection
#   each.
# ttfb: the fake's script is TTFB_SCRIPT (events=3;delay_ms=0; delay_first_ms=0: the first
#   event is immediate, the stream short). build/bench/ttfb sends TTFB_REQUESTS sequential
#   stream requests on one keep-alive connection, alternating per round between the fake
#   directly (streamGenerateContent?alt=sse with the exact body ringgate sends upstream) and
#   ringgate (/v1/chat/completions, stream=true). Reported: median and p99 of first byte,
#   first "data:" event and complete stream, and the differences (ringgate - direct).
#   Two layouts (TTFB_LAYOUTS): "split" puts ringgate on SERVER_CPU as in the load tests, so a
#   request through it crosses CPUs twice more than a direct one (each wake of an idle vCPU
#   costs tens of µs on a VM); "shared" puts ringgate on CLIENT_CPU with the fake and the
#   client, so the difference is ringgate's own processing (plus two more loopback hops).
#
# Pinning: ringgate on SERVER_CPU (0); the fake and the client (wrk, ttfb) on CLIENT_CPU (1).
# Before each run the script waits for a quiet machine (QUIET_WAIT, as bench/load_vs_nginx.sh)
# and reports how much of CPU 0 went to other processes.
#
# Environment:
#   STREAMS (1000)  DURATION (10s)  WARMUP (2s)  SCRIPT  DIRECT (1)  UPSTREAM_MAX_IDLE (1024)
#   TTFB_REQUESTS (2000)  TTFB_WARMUP (200)  TTFB_ROUNDS (3)  TTFB_SCRIPT  TTFB_LAYOUTS
#   RINGGATE_BIN (build/ringgate)  FAKE_BIN (build/fake-gemini)  TTFB_BIN (build/bench/ttfb)
#   SERVER_CPU (0)  CLIENT_CPU (1)  QUIET_WAIT (10)  TIME_BUDGET (120)
# Exit status: 0 clean; 2 a check failed (bad stream, non-2xx, socket errors, a process died);
# 3 a run was disturbed by other load.
set -euo pipefail

STREAMS=${STREAMS:-1000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
SCRIPT=${SCRIPT:-events=20;delay_ms=10;text_len=400}
DIRECT=${DIRECT:-1}
UPSTREAM_MAX_IDLE=${UPSTREAM_MAX_IDLE:-1024}
TTFB_REQUESTS=${TTFB_REQUESTS:-2000}
TTFB_WARMUP=${TTFB_WARMUP:-200}
TTFB_ROUNDS=${TTFB_ROUNDS:-3}
TTFB_SCRIPT=${TTFB_SCRIPT:-events=3;delay_ms=0;delay_first_ms=0}
TTFB_LAYOUTS=${TTFB_LAYOUTS:-split shared}
RINGGATE_BIN=${RINGGATE_BIN:-build/ringgate}
FAKE_BIN=${FAKE_BIN:-build/fake-gemini}
TTFB_BIN=${TTFB_BIN:-build/bench/ttfb}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
QUIET_WAIT=${QUIET_WAIT:-10}
TIME_BUDGET=${TIME_BUDGET:-120}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

MODES=()
for arg in "$@"; do
  case "$arg" in
    streams|ttfb) MODES+=("$arg") ;;
    -h|--help) usage_of "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (streams, ttfb; see --help)" >&2; exit 64 ;;
  esac
done
(( ${#MODES[@]} )) || MODES=(streams ttfb)

require_tools wrk taskset curl getconf awk python3
[[ -x "$RINGGATE_BIN" ]] || die "ringgate binary not found at $RINGGATE_BIN (ninja -C build)"
[[ -x "$FAKE_BIN" ]] || die "fake-gemini binary not found at $FAKE_BIN (ninja -C build)"
(( $(nproc) > SERVER_CPU && $(nproc) > CLIENT_CPU )) || die "need CPUs $SERVER_CPU and $CLIENT_CPU"

CLK_TCK=$(getconf CLK_TCK)
WORKDIR=$(mktemp -d /tmp/ringgate-stream-bench.XXXXXX)
FAKE_PID="" RG_PID="" WRK_PID=""
MODEL=gemini-2.5-flash
STREAM_PATH="/v1beta/models/$MODEL:streamGenerateContent?alt=sse"
FAILED=0
NOISY=0

cleanup() {
  if [[ -n "$WRK_PID" ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
  stop_pid "$RG_PID"
  stop_pid "$FAKE_PID"
  rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$WORKDIR/openai.json" <<EOF
{"model":"$MODEL","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a paragraph about the sea."}],"temperature":0.7,"max_tokens":1024}
EOF

set_script() {  # script
  curl -sf --max-time 2 -X POST "http://127.0.0.1:$FAKE_PORT/_fake/script" --data-binary "$1" \
    >/dev/null || die "could not set the fake's script to '$1'"
}

start_pair() {  # script [ringgate_cpu]: the fake on CLIENT_CPU, ringgate on SERVER_CPU
  start_fake "$FAKE_BIN" "$CLIENT_CPU" "$WORKDIR/fake.out"
  set_script "$1"
  start_ringgate_chat "$RINGGATE_BIN" "${2:-$SERVER_CPU}" "$FAKE_PORT" "$WORKDIR/ringgate.out" \
    FAKE_STREAMING=false UPSTREAM_MAX_IDLE="$UPSTREAM_MAX_IDLE"
}

stop_pair() {
  stop_pid "$RG_PID"; RG_PID=""
  stop_pid "$FAKE_PID"; FAKE_PID=""
}

# One stream through ringgate and the same one straight from the fake: ringgate's must be
# chat.completion.chunk events ending with [DONE], carrying the same text as the fake's.
check_stream() {
  curl -s -N --max-time 10 "http://127.0.0.1:$RG_PORT/v1/chat/completions" \
    -H "Authorization: Bearer $RG_PASSWORD" -H 'Content-Type: application/json' \
    --data-binary @"$WORKDIR/openai.json" >"$WORKDIR/stream-ringgate.txt" || true
  curl -s -N --max-time 10 "http://127.0.0.1:$FAKE_PORT$STREAM_PATH" \
    -H "x-goog-api-key: $RG_API_KEY" -H 'Content-Type: application/json' \
    --data-binary @"$WORKDIR/gemini.json" >"$WORKDIR/stream-direct.txt" || true
  python3 - "$WORKDIR/stream-ringgate.txt" "$WORKDIR/stream-direct.txt" <<'EOF'
import json, sys
rg, direct = open(sys.argv[1], encoding="utf-8").read(), open(sys.argv[2], encoding="utf-8").read()
try:
    assert rg.endswith("data: [DONE]\n\n"), "ringgate's stream does not end with data: [DONE]"
    events = [e for e in rg.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events), "an event is not a data: line"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    text, finish, ids = "", None, set()
    for c in chunks:
        assert c["object"] == "chat.completion.chunk", "object"
        ids.add(c["id"])
        ch = c["choices"][0]
        text += ch["delta"].get("content") or ""
        finish = ch["finish_reason"] or finish
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-"), "ids"
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant", "first delta has no role"
    assert finish == "stop", "finish_reason"
    gtext, gevents = "", 0
    for e in direct.replace("\r\n", "\n").split("\n\n"):
        if e.startswith("data: "):
            gevents += 1
            for p in json.loads(e[6:])["candidates"][0]["content"].get("parts", []):
                gtext += p.get("text", "")
    assert text == gtext, f"text differs: {text!r} vs {gtext!r}"
    print(f"{len(chunks)} chunk events + [DONE] from ringgate, {gevents} events from the fake, "
          f"same {len(text.encode())}-byte text, finish_reason stop")
except Exception as e:
    print(f"BAD STREAM: {e}\n--- ringgate:\n{rg[:600]}\n--- direct:\n{direct[:600]}", file=sys.stderr)
    sys.exit(1)
EOF
}

# ---- streams ------------------------------------------------------------------------------------
# One wrk run against url; prints a result line. Measures the CPU of `measure_pid` (ringgate or
# the fake).
stream_run() {  # label url body_file headers stream_end measure_pid
  local label=$1 url=$2 body=$3 headers=$4 stream_end=$5 pid=$6
  local c0a s0a c0b s0b c1a s1a c1b s1b t0 t1 u0 u1 f0 f1 errors="" check stats up_conns
  export WRK_BODY_FILE=$body WRK_HEADERS=$headers WRK_STREAM_END=$stream_end
  run_wrk /dev/null -t1 -c"$STREAMS" -d"$WARMUP" --timeout 10s -s "$HERE/wrk/stream.lua" "$url" || true
  curl -s -X DELETE --max-time 2 "http://127.0.0.1:$FAKE_PORT/_fake/stats" >/dev/null
  read -r c0a s0a < <(cpu_jiffies "$SERVER_CPU")
  read -r c1a s1a < <(cpu_jiffies "$CLIENT_CPU")
  read -r t0 u0 < <(proc_ticks "$pid")
  read -r f0 _ < <(proc_ticks "$FAKE_PID")
  run_wrk "$WORKDIR/wrk-$label.txt" -t1 -c"$STREAMS" -d"$DURATION" --timeout 10s --latency \
    -s "$HERE/wrk/stream.lua" "$url" || errors+="wrk exited with an error; "
  read -r t1 u1 < <(proc_ticks "$pid" 2>/dev/null) || { errors+="server died; "; t1=$t0 u1=$u0; }
  read -r f1 _ < <(proc_ticks "$FAKE_PID" 2>/dev/null) || { errors+="fake died; "; f1=$f0; }
  read -r c0b s0b < <(cpu_jiffies "$SERVER_CPU")
  read -r c1b s1b < <(cpu_jiffies "$CLIENT_CPU")
  wrk_fields "$WORKDIR/wrk-$label.txt"
  errors+=$WRK_ERRORS
  check=$(grep '^stream-check:' "$WORKDIR/wrk-$label.txt" || echo "stream-check: ok=0 bad=0 events=0 first_bad=missing")
  local ok bad events secs
  ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$check")
  bad=$(sed -n 's/.* bad=\([0-9]*\).*/\1/p' <<<"$check")
  events=$(sed -n 's/.* events=\([0-9]*\).*/\1/p' <<<"$check")
  (( bad == 0 )) || errors+="$bad bad streams (first: $(sed 's/.*first_bad=//' <<<"$check")); "
  (( ok == WRK_REQUESTS )) || errors+="checked $ok streams, wrk counted $WRK_REQUESTS; "
  stats=$(curl -s --max-time 2 "http://127.0.0.1:$FAKE_PORT/_fake/stats" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["connections_accepted"] - 1)' || echo -1)
  up_conns=$stats
  secs=$(awk '/requests in/ { sub(/s,?$/, "", $4); print $4; exit }' "$WORKDIR/wrk-$label.txt")
  local other0 per_stream per_event fake_per_stream cpu0 cpu1 ev_s script_ev_s
  per_stream=$(cpu_us_per $((t1 - t0)) "$WRK_REQUESTS")
  per_event=$(cpu_us_per $((t1 - t0)) "$events")
  fake_per_stream=$(cpu_us_per $((f1 - f0)) "$WRK_REQUESTS")
  cpu0=$(busy_pct "$c0a" "$s0a" "$c0b" "$s0b")
  cpu1=$(busy_pct "$c1a" "$s1a" "$c1b" "$s1b")
  other0=$(awk -v b=$((c0b - c0a)) -v s=$((t1 - t0)) -v t=$((s0b - s0a)) \
    'BEGIN { printf "%.0f", t ? 100 * (b - s) / t : 0 }')
  [[ $label == direct ]] && other0=$cpu0   # nothing of ours runs on CPU 0 in the direct run
  ev_s=$(awk -v e="$events" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0) ? e / s : 0 }')
  script_ev_s=$(awk -v n="$SCRIPT_EVENTS" -v r="$WRK_RPS" 'BEGIN { printf "%.0f", n * r }')
  printf '  %-8s %7.0f streams/s  %8s events/s received (%s = %d x streams/s from the script)  stream p50 %6.0f us  p99 %6.0f us\n' \
    "$label" "$WRK_RPS" "$ev_s" "$script_ev_s" "$SCRIPT_EVENTS" "$WRK_P50" "$WRK_P99"
  printf '           %s streams, %s events in %ss; %s CPU us/stream = %s us/event (%d%% user); fake %s us/stream; CPU%d %s%% busy (%s%% not %s), CPU%d %s%% busy; %s new upstream connections\n' \
    "$WRK_REQUESTS" "$events" "$secs" "$per_stream" "$per_event" \
    $(( t1 > t0 ? 100 * (u1 - u0) / (t1 - t0) : 0 )) "$fake_per_stream" \
    "$SERVER_CPU" "$cpu0" "$other0" "$label" "$CLIENT_CPU" "$cpu1" "$up_conns"
  if (( other0 > 10 )); then
    NOISY=1
    echo "  WARNING: $other0% of CPU $SERVER_CPU went to other processes during this run"
  fi
  if [[ -n "$errors" ]]; then
    FAILED=1
    echo "  ERRORS ($label): $errors"
    sed 's/^/    wrk| /' "$WORKDIR/wrk-$label.txt"
  fi
}

mode_streams() {
  SCRIPT_EVENTS=$(sed -n 's/.*events=\([0-9]*\).*/\1/p' <<<"$SCRIPT")
  local delay
  delay=$(sed -n 's/.*delay_ms=\([0-9]*\).*/\1/p' <<<"$SCRIPT")
  echo "== streams: $STREAMS concurrent streams, fake script '$SCRIPT'; ringgate FAKE_STREAMING=false" \
       "UPSTREAM_MAX_IDLE=$UPSTREAM_MAX_IDLE on CPU $SERVER_CPU; fake + wrk -t1 -c$STREAMS -d$DURATION" \
       "on CPU $CLIENT_CPU; warm-up $WARMUP"
  awk -v c="$STREAMS" -v n="$SCRIPT_EVENTS" -v d="${delay:-0}" 'BEGIN { if (n > 1 && d > 0)
    printf "  closed-loop ceiling: %d streams / %d ms per stream = %.0f streams/s, %.0f events/s\n",
           c, (n - 1) * d, c * 1000 / ((n - 1) * d), n * c * 1000 / ((n - 1) * d) }'
  capture_upstream_body "$RINGGATE_BIN" "$FAKE_BIN" "$WORKDIR" "$WORKDIR/openai.json" \
    "$WORKDIR/gemini.json" "$STREAM_PATH" FAKE_STREAMING=false
  wait_quiet
  start_pair "$SCRIPT"
  echo "  ringgate pid $RG_PID threads: $(thread_cpus "$RG_PID"); fake pid $FAKE_PID: $(thread_cpus "$FAKE_PID")"
  echo -n "  sample stream: "
  check_stream || FAILED=1
  if [[ $DIRECT == 1 ]]; then
    stream_run direct "http://127.0.0.1:$FAKE_PORT$STREAM_PATH" "$WORKDIR/gemini.json" \
      "x-goog-api-key: $RG_API_KEY" $'\r\n\r\n' "$FAKE_PID"
    wait_quiet
  fi
  stream_run ringgate "http://127.0.0.1:$RG_PORT/v1/chat/completions" "$WORKDIR/openai.json" \
    "Authorization: Bearer $RG_PASSWORD" $'data: [DONE]\n\n' "$RG_PID"
  kill -0 "$RG_PID" 2>/dev/null || { echo "  ERROR: ringgate exited"; FAILED=1; }
  stop_pair
}

# ---- ttfb ---------------------------------------------------------------------------------------
mode_ttfb() {
  [[ -x "$TTFB_BIN" ]] || die "ttfb tool not found at $TTFB_BIN (ninja -C build bench/ttfb)"
  echo "== ttfb: $TTFB_REQUESTS sequential stream requests (after $TTFB_WARMUP warm-up) on one" \
       "connection, fake script '$TTFB_SCRIPT'; fake + ttfb client on CPU $CLIENT_CPU"
  capture_upstream_body "$RINGGATE_BIN" "$FAKE_BIN" "$WORKDIR" "$WORKDIR/openai.json" \
    "$WORKDIR/gemini.json" "$STREAM_PATH" FAKE_STREAMING=false
  local layout rg_cpu
  for layout in $TTFB_LAYOUTS; do
    case "$layout" in
      split) rg_cpu=$SERVER_CPU ;;
      shared) rg_cpu=$CLIENT_CPU ;;
      *) die "unknown TTFB_LAYOUTS entry '$layout' (split, shared)" ;;
    esac
    echo "-- layout '$layout': ringgate on CPU $rg_cpu"
    ttfb_layout "$layout" "$rg_cpu"
  done
}

ttfb_layout() {  # layout ringgate_cpu
  local layout=$1 rg_cpu=$2 round target out c0a s0a c0b s0b busy
  start_pair "$TTFB_SCRIPT" "$rg_cpu"
  echo -n "  sample stream: "
  check_stream || FAILED=1
  : >"$WORKDIR/ttfb.tsv"
  for round in $(seq 1 "$TTFB_ROUNDS"); do
    for target in direct ringgate; do
      wait_quiet
      read -r c0a s0a < <(cpu_jiffies "$SERVER_CPU")
      if [[ $target == direct ]]; then
        out=$(taskset -c "$CLIENT_CPU" "$TTFB_BIN" --port "$FAKE_PORT" --path "$STREAM_PATH" \
          --header "x-goog-api-key: $RG_API_KEY" --header 'Content-Type: application/json' \
          --body-file "$WORKDIR/gemini.json" --requests "$TTFB_REQUESTS" --warmup "$TTFB_WARMUP" \
          --expect-suffix '\r\n\r\n' 2>&1) || { FAILED=1; echo "  ERROR: $out"; continue; }
      else
        out=$(taskset -c "$CLIENT_CPU" "$TTFB_BIN" --port "$RG_PORT" --path /v1/chat/completions \
          --header "Authorization: Bearer $RG_PASSWORD" --header 'Content-Type: application/json' \
          --body-file "$WORKDIR/openai.json" --requests "$TTFB_REQUESTS" --warmup "$TTFB_WARMUP" \
          --expect-suffix 'data: [DONE]\n\n' 2>&1) || { FAILED=1; echo "  ERROR: $out"; continue; }
      fi
      read -r c0b s0b < <(cpu_jiffies "$SERVER_CPU")
      busy=$(busy_pct "$c0a" "$s0a" "$c0b" "$s0b")
      echo "  round $round, $target (CPU$SERVER_CPU $busy% busy during the run):"
      sed 's/^/    | /' <<<"$out" | grep -v '| summary:'
      grep '^summary:' <<<"$out" | sed "s/^summary:/$target $round/" >>"$WORKDIR/ttfb.tsv"
    done
  done
  stop_pair
  echo "  layout '$layout', medians over rounds (µs)  direct  ringgate    added"
  python3 - "$WORKDIR/ttfb.tsv" <<'EOF'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    f = line.split()
    for kv in f[2:]:
        k, v = kv.split("=")
        vals.setdefault((f[0], k), []).append(float(v))
names = {"fb_p50": "first byte, median", "fb_p99": "first byte, p99",
         "fe_p50": "first event, median", "fe_p99": "first event, p99",
         "done_p50": "complete, median", "done_p99": "complete, p99"}
for k, name in names.items():
    d, r = vals.get(("direct", k)), vals.get(("ringgate", k))
    if d and r:
        d, r = statistics.median(d), statistics.median(r)
        print(f"  {name:<38} {d:9.1f} {r:9.1f} {r - d:8.1f}")
EOF
}

echo "ringgate streaming benchmarks; $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)," \
     "kernel $(uname -r); $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'); ringgate $RINGGATE_BIN;" \
     "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
raise_nofile 65536
echo "  open files limit: $(ulimit -n)"
(( $(ulimit -n) >= 2 * STREAMS + 100 )) || echo "  WARNING: ulimit -n $(ulimit -n) is low for $STREAMS streams"
for mode in "${MODES[@]}"; do
  "mode_$mode"
done

if (( FAILED )); then echo; echo "SOME CHECKS FAILED (see ERRORS above)"; exit 2; fi
if (( NOISY )); then echo; echo "some runs shared CPU $SERVER_CPU with other load; rerun on a quieter machine"; exit 3; fi
