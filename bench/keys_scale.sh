#!/usr/bin/env bash
# Throughput of the non-stream chat path with 1 key against 5,000 keys (KEYS), in one run:
# the key pool must cost the same per request whatever its size. Alternates 1-key and N-key
# runs (ROUNDS), each a fresh fake-gemini and ringgate, ringgate --threads 1 on CPU 0, the fake
# and wrk -t1 -c64 on CPU 1. Prints req/s and ringgate CPU µs/request per run and the ratios.
#
#   bench/keys_scale.sh                 # KEYS=5000 ROUNDS=2 DURATION=8s
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

KEYS=${KEYS:-5000}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-8s}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
RINGGATE_BIN=${RINGGATE_BIN:-build/ringgate}
FAKE_BIN=${FAKE_BIN:-build/fake-gemini}
CLK_TCK=$(getconf CLK_TCK)
require_tools wrk taskset curl python3

work=$(mktemp -d)
FAKE_PID="" RG_PID=""
cleanup() {
  [[ -n "$RG_PID" ]] && stop_pid "$RG_PID"
  [[ -n "$FAKE_PID" ]] && stop_pid "$FAKE_PID"
  rm -rf "$work"
}
trap cleanup EXIT

# N distinct keys of Google's shape (AIzaSy + 33 characters), split over GEMINI_API_KEYS and
# GEMINI_API_KEYS_1.. (one environment string may not exceed 128 KiB), one NAME=VALUE a line.
python3 - "$KEYS" >"$work/keys" <<'PY'
import sys
n = int(sys.argv[1])
keys = ["AIzaSy" + format(i, "033d") for i in range(n)]
for chunk, start in enumerate(range(0, n, 2000)):
    name = "GEMINI_API_KEYS" if chunk == 0 else f"GEMINI_API_KEYS_{chunk}"
    print(name + "=" + ",".join(keys[start:start + 2000]))
PY
printf '%s' '{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Say something short."}]}' >"$work/body.json"

run() {  # keys_file label
  start_fake "$FAKE_BIN" "$CLIENT_CPU" "$work/fake.out"
  local -a key_env
  mapfile -t key_env <"$1"
  start_ringgate_chat "$RINGGATE_BIN" "$SERVER_CPU" "$FAKE_PORT" "$work/rg.out" \
    "${key_env[@]}" SKIP_CHECK_API_KEY=true NONSTREAM_KEEPALIVE_ENABLED=false
  for _ in $(seq 50); do
    curl -sf -o /dev/null -H "Authorization: Bearer $RG_PASSWORD" \
      "http://127.0.0.1:$RG_PORT/v1/models" && break
    sleep 0.1
  done
  export WRK_BODY_FILE="$work/body.json" WRK_HEADERS="Authorization: Bearer $RG_PASSWORD"
  run_wrk "$work/warm" -t1 -c64 -d2s -s bench/wrk/post.lua \
    "http://127.0.0.1:$RG_PORT/v1/chat/completions"
  local before after
  before=$(proc_ticks "$RG_PID" | cut -d' ' -f1)
  run_wrk "$work/wrk" -t1 -c64 -d"$DURATION" --latency \
    -s bench/wrk/post.lua "http://127.0.0.1:$RG_PORT/v1/chat/completions"
  after=$(proc_ticks "$RG_PID" | cut -d' ' -f1)
  wrk_fields "$work/wrk"
  [[ -z "$WRK_ERRORS" ]] || die "$2: $WRK_ERRORS"
  local cpu
  cpu=$(cpu_us_per $((after - before)) "$WRK_REQUESTS")
  printf '  %-10s %9.0f req/s  %6s CPU us/req\n' "$2" "$WRK_RPS" "$cpu"
  echo "$2 $WRK_RPS $cpu" >>"$work/results"
  stop_pid "$RG_PID"; RG_PID=""
  stop_pid "$FAKE_PID"; FAKE_PID=""
}

echo "GEMINI_API_KEYS=AIzaSy$(printf 'k%.0s' $(seq 1 33))" >"$work/one"
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  run "$work/one" "1 key"
  run "$work/keys" "$KEYS keys"
done
python3 - "$work/results" "$KEYS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
one = [r for r in rows if r[1] == "key"]
many = [r for r in rows if r[1] == "keys"]
rps1 = statistics.median(float(r[2]) for r in one); rpsn = statistics.median(float(r[2]) for r in many)
cpu1 = statistics.median(float(r[3]) for r in one); cpun = statistics.median(float(r[3]) for r in many)
print(f"medians: 1 key {rps1:.0f} req/s {cpu1:.2f} us/req; {sys.argv[2]} keys {rpsn:.0f} req/s {cpun:.2f} us/req")
print(f"ratios ({sys.argv[2]} keys / 1 key): req/s {rpsn / rps1:.3f}, CPU/req {cpun / cpu1:.3f}")
PY
