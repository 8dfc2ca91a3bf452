#!/usr/bin/env bash
# Throughput of the non-stream chat path with 1 key against 5,000 keys (KEYS), in one run:
# the key pool must cost the same per request whatever its size. Each round (ROUNDS) runs a 1-key
# and an N-key server back to back, in turn first (ABBA), each a fresh fake-gemini and ringgate,
# ringgate --threads 1 on CPU 0, the fake and wrk -t1 -c64 on CPU 1. Prints req/s and ringgate
# CPU µs/request per run and the ratios.
#
#   bench/keys_scale.sh                 # KEYS=5000 ROUNDS=2 DURATION=8s
#
# RATE=N (e.g. 60000) replaces wrk's closed loop by h2load sending N requests/s in all (open loop,
# needs h2load: apt-get install nghttp2-client): the figure to compare is then CPU per request.
#
# DAILY_LIMIT (API_KEY_DAILY_LIMIT, default 1000000000): at this load HAJIMI's default of 100
# calls a key a day would put the single key over its soft limit after 100 requests but the
# 5,000 keys only after 500,000, so the two sides would run different pick paths (the soft-limit
# draw against the shuffled stack). The default keeps every key under the limit, as in normal
# use; DAILY_LIMIT=1 puts every key over it from the first calls (the soft path on both sides).
#
# Also printed: the fake's CPU per request (it shares CPU 1 with wrk) and each round's own req/s
# ratio with their mean and standard error.
#
# CONTROL=1 runs each side twice a round (four servers; best in multiples of four rounds) and
# prints, beside the pooled ratio, each side's second run over its first: an A/A control taken
# in the same minutes as the comparison, so host drift hits both alike.
#
# With B_BIN set it compares two binaries instead, both with the KEYS keys: RINGGATE_BIN (A)
# against B_BIN (B, with the extra environment B_ENV, NAME=VALUE words), alternated the same way;
# the ratios are B / A. E.g. an old build against the current one:
#   B_BIN=build/ringgate RINGGATE_BIN=/tmp/ringgate-old ROUNDS=3 DURATION=6s bench/keys_scale.sh
#   KEYS=1 B_BIN=...                    # the same with one key
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

KEYS=${KEYS:-5000}
RATE=${RATE:-}
CONTROL=${CONTROL:-}
ROUNDS=${ROUNDS:-2}
DAILY_LIMIT=${DAILY_LIMIT:-1000000000}
DURATION=${DURATION:-8s}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
RINGGATE_BIN=${RINGGATE_BIN:-build/ringgate}
FAKE_BIN=${FAKE_BIN:-build/fake-gemini}
CLK_TCK=$(getconf CLK_TCK)
require_tools wrk taskset curl python3
[[ -z "$RATE" ]] || require_tools h2load

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

fixed_rate() {  # outfile seconds url
  run_h2load "$1" "$2" "$RATE" 64 "$work/body.json" "$3" -H "Authorization: Bearer $RG_PASSWORD"
}

run() {  # keys_file label group binary [NAME=VALUE...]
  start_fake "$FAKE_BIN" "$CLIENT_CPU" "$work/fake.out"
  local -a key_env
  mapfile -t key_env <"$1"
  local label=$2 group=$3 binary=$4
  shift 4
  start_ringgate_chat "$binary" "$SERVER_CPU" "$FAKE_PORT" "$work/rg.out" \
    "${key_env[@]}" SKIP_CHECK_API_KEY=true NONSTREAM_KEEPALIVE_ENABLED=false \
    API_KEY_DAILY_LIMIT="$DAILY_LIMIT" "$@"
  for _ in $(seq 50); do
    curl -sf -o /dev/null -H "Authorization: Bearer $RG_PASSWORD" \
      "http://127.0.0.1:$RG_PORT/v1/models" && break
    sleep 0.1
  done
  local url="http://127.0.0.1:$RG_PORT/v1/chat/completions"
  export WRK_BODY_FILE="$work/body.json" WRK_HEADERS="Authorization: Bearer $RG_PASSWORD"
  if [[ -n "$RATE" ]]; then
    fixed_rate "$work/warm" 2 "$url" || die "$label: warm-up: $(tail -3 "$work/warm")"
  else
    run_wrk "$work/warm" -t1 -c64 -d2s -s bench/wrk/post.lua "$url"
  fi
  local before after user_before user_after fake_before fake_after
  read -r before user_before < <(proc_ticks "$RG_PID")
  fake_before=$(proc_ticks "$FAKE_PID" | cut -d' ' -f1)
  if [[ -n "$RATE" ]]; then
    fixed_rate "$work/wrk" "${DURATION%s}" "$url" || die "$label: $(tail -3 "$work/wrk")"
  else
    run_wrk "$work/wrk" -t1 -c64 -d"$DURATION" --latency -s bench/wrk/post.lua "$url"
  fi
  read -r after user_after < <(proc_ticks "$RG_PID")
  fake_after=$(proc_ticks "$FAKE_PID" | cut -d' ' -f1)
  if [[ -n "$RATE" ]]; then
    h2load_fields "$work/wrk"
  else
    wrk_fields "$work/wrk"
  fi
  [[ -z "$WRK_ERRORS" ]] || die "$label: $WRK_ERRORS"
  local cpu user_cpu fake_cpu
  cpu=$(cpu_us_per $((after - before)) "$WRK_REQUESTS")
  # The key pool works in user space only; the kernel's share (two thirds: loopback TCP) moves
  # with how requests happen to batch, so the user part is the steadier view of the pool's cost.
  user_cpu=$(cpu_us_per $((user_after - user_before)) "$WRK_REQUESTS")
  # The fake shares CPU 1 with wrk, which is nearly saturated: if it worked harder for some keys,
  # req/s would fall (and ringgate's batches shrink) without ringgate being slower.
  fake_cpu=$(cpu_us_per $((fake_after - fake_before)) "$WRK_REQUESTS")
  printf '  %-10s %9.0f req/s  %6s CPU us/req (user %s)  (fake %s us/req)\n' "$label" \
    "$WRK_RPS" "$cpu" "$user_cpu" "$fake_cpu"
  echo "$group $WRK_RPS $cpu $fake_cpu $user_cpu $round" >>"$work/results"
  stop_pid "$RG_PID"; RG_PID=""
  stop_pid "$FAKE_PID"; FAKE_PID=""
}

echo "GEMINI_API_KEYS=AIzaSy$(printf 'k%.0s' $(seq 1 33))" >"$work/one"
read -r -a b_env <<<"${B_ENV:-}"
run_a() {  # [group]
  if [[ -n "${B_BIN:-}" ]]; then
    run "$work/keys" "A" "${1:-a}" "$RINGGATE_BIN"
  else
    run "$work/one" "1 key" "${1:-a}" "$RINGGATE_BIN"
  fi
}
run_b() {  # [group]
  if [[ -n "${B_BIN:-}" ]]; then
    run "$work/keys" "B" "${1:-b}" "$B_BIN" "${b_env[@]}"
  else
    run "$work/keys" "$KEYS keys" "${1:-b}" "$RINGGATE_BIN"
  fi
}
# Odd rounds run A first, even rounds B first: the second run of a pair pays a little more (the
# same binary against itself read 0.982 req/s with a fixed order), and alternating cancels that.
# With CONTROL the four runs go ABBA and BAAB in turn, and which of a side's two runs comes first
# changes every two rounds: over four rounds each run sits in every place alike.
orders=("b2 a2 a b" "a b b2 a2" "b a a2 b2" "a2 b2 b a")
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  if [[ -n "$CONTROL" ]]; then
    read -r -a order <<<"${orders[$((round % 4))]}"
    for group in "${order[@]}"; do
      if [[ $group == a* ]]; then run_a "$group"; else run_b "$group"; fi
    done
  elif ((round % 2 == 1)); then
    run_a
    run_b
  else
    run_b
    run_a
  fi
done
if [[ -n "${B_BIN:-}" ]]; then
  names=("A ($RINGGATE_BIN)" "B ($B_BIN ${B_ENV:-})")
else
  names=("1 key" "$KEYS keys")
fi
python3 - "$work/results" "${names[@]}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
a = [r for r in rows if r[0] in ("a", "a2")]
b = [r for r in rows if r[0] in ("b", "b2")]
rps_a = statistics.median(float(r[1]) for r in a); rps_b = statistics.median(float(r[1]) for r in b)
cpu_a = statistics.median(float(r[2]) for r in a); cpu_b = statistics.median(float(r[2]) for r in b)
name_a, name_b = sys.argv[2], sys.argv[3]
print(f"medians: {name_a} {rps_a:.0f} req/s {cpu_a:.2f} us/req; {name_b} {rps_b:.0f} req/s {cpu_b:.2f} us/req")
print(f"ratios ({name_b} / {name_a}): req/s {rps_b / rps_a:.3f}, CPU/req {cpu_b / cpu_a:.3f}")
fake_a = statistics.median(float(r[3]) for r in a); fake_b = statistics.median(float(r[3]) for r in b)
print(f"fake CPU/req medians: {name_a} {fake_a:.2f} us, {name_b} {fake_b:.2f} us (ratio {fake_b / fake_a:.3f})")
# Each round runs a and b back to back: each round's own ratio, and how much they scatter.
user_a = statistics.median(float(r[4]) for r in a); user_b = statistics.median(float(r[4]) for r in b)
print(f"ringgate user CPU/req medians: {name_a} {user_a:.2f} us, {name_b} {user_b:.2f} us (ratio {user_b / user_a:.3f})")
# With CONTROL, a round's ratio is the mean of its two b runs over the mean of its two a runs.
by_round = {}
for r in rows:
    by_round.setdefault(r[5], {})[r[0]] = r
def side(runs, names, column):
    return statistics.mean(float(runs[n][column]) for n in names if n in runs)
def summary(label, ratios):
    if len(ratios) >= 2:
        mean = statistics.mean(ratios)
        se = statistics.stdev(ratios) / len(ratios) ** 0.5
        print(f"{label}: " + " ".join(f"{r:.3f}" for r in ratios) +
              f"; mean {mean:.3f}, standard error {se:.3f}")
for column, what in ((1, "req/s"), (2, "CPU/req"), (4, "user CPU/req")):
    summary(f"per-round {what} ratios",
            [side(runs, ("b", "b2"), column) / side(runs, ("a", "a2"), column)
             for runs in by_round.values() if "a" in runs and "b" in runs])
controls = [runs for runs in by_round.values() if all(g in runs for g in ("a", "a2", "b", "b2"))]
if controls:
    for column, what in ((1, "req/s"), (2, "CPU/req"), (4, "user CPU/req")):
        summary(f"A/A control, {what}, each side's second run over its first",
                [float(runs[g + "2"][column]) / float(runs[g][column])
                 for runs in controls for g in ("a", "b")])
PY
