#!/usr/bin/env bash
# Side-by-side load test: ringgate vs nginx on GET /healthz, same machine, same pinning.
#
#   bench/load_vs_nginx.sh                 # 2 rounds: nginx, ringgate, nginx, ringgate
#   DURATION=20s ROUNDS=3 bench/load_vs_nginx.sh
#
# Each server runs alone on CPU 0 (taskset -c 0, one thread / one worker); wrk runs on CPU 1
# (taskset -c 1 wrk -t1 -cN --latency). Each run: start the server, check it answers
# {"status":"ok"}, warm up for WARMUP, sample the server's utime+stime from /proc/PID/stat,
# run wrk for DURATION, sample again, stop the server.
#
# Reported per run: requests/s, p50 and p99 latency (wrk --latency), server CPU µs/request
# (process utime+stime delta ÷ requests wrk counted), and CPU0/CPU1 busy % from /proc/stat
# over the same window (CPU1 near 100% means wrk, not the server, was the bottleneck).
#
# Environment / flags:
#   DURATION      wrk duration of each measured run (default 10s)      --duration D
#   WARMUP        wrk warm-up before each measured run (default 2s)    --warmup D
#   CONNECTIONS   wrk connections (default 64)                         --connections N
#   ROUNDS        rounds of (nginx, ringgate) (default 2)              --rounds N
#   RINGGATE_BIN  server binary (default build/ringgate)               --ringgate-bin PATH
#   NGINX_BIN     nginx binary (default /usr/sbin/nginx)               --nginx-bin PATH
#   SERVER_CPU / CLIENT_CPU   CPUs to pin to (default 0 / 1)
#   QUIET_WAIT    before each run, wait up to this many seconds for both CPUs to be under 10%
#                 busy (default 10)
#   NOISY_RETRIES times a run is repeated when >10% of the server CPU's time went to other
#                 processes during it (default 1)
#   TIME_BUDGET   seconds after which no more quiet-waits or repeats are started (default 75),
#                 which keeps a default run under ~2 minutes even on a busy machine
# Exit status: 0 when every run was clean; 2 when a run saw non-2xx responses, socket errors,
# a server that died, or a wrong /healthz body; 3 when the only problem is that a kept run was
# disturbed by other load. The figures are printed in every case.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
RINGGATE_BIN=${RINGGATE_BIN:-build/ringgate}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
QUIET_WAIT=${QUIET_WAIT:-10}
NOISY_RETRIES=${NOISY_RETRIES:-1}
TIME_BUDGET=${TIME_BUDGET:-75}
EXPECTED_BODY='{"status":"ok"}'

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

usage() { usage_of "$0"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --connections|-c) CONNECTIONS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --ringgate-bin) RINGGATE_BIN=$2; shift 2 ;;
    --nginx-bin) NGINX_BIN=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
done

# ---- prerequisites --------------------------------------------------------------------------
for tool in wrk taskset curl getconf awk; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found (Debian: apt-get install wrk util-linux curl libc-bin gawk)"
done
if [[ ! -x "$NGINX_BIN" ]]; then
  die "nginx not found at $NGINX_BIN. Install it with: sudo apt-get install nginx-light" \
      "(or: sudo apt-get install nginx), or set NGINX_BIN"
fi
[[ -x "$RINGGATE_BIN" ]] ||
  die "ringgate binary not found at $RINGGATE_BIN (build it: meson setup build && ninja -C build)"
ncpu=$(nproc)
(( ncpu > SERVER_CPU && ncpu > CLIENT_CPU )) ||
  die "need CPUs $SERVER_CPU and $CLIENT_CPU, this machine has $ncpu"

CLK_TCK=$(getconf CLK_TCK)
WORKDIR=$(mktemp -d /tmp/ringgate-bench.XXXXXX)
SERVER_PID=""
WRK_PID=""

stop_server() {
  stop_pid "$SERVER_PID"
  SERVER_PID=""
}
cleanup() {
  if [[ -n "$WRK_PID" ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
  stop_server
  rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

write_nginx_conf() {  # port dir
  local dir=$2
  mkdir -p "$dir"
  {
    nginx_conf_head "$dir" "bench/load_vs_nginx.sh"
    cat <<EOF
    server {
        listen 127.0.0.1:$1;
        location = /healthz {
            default_type application/json;
            return 200 '$EXPECTED_BODY';
        }
    }
}
EOF
  } >"$dir/nginx.conf"
}

# Starts a server pinned to SERVER_CPU; sets SERVER_PID (the serving process) and PORT.
start_server() {  # name
  local name=$1 launcher_pid children
  PORT=$(free_port)
  case "$name" in
    nginx)
      write_nginx_conf "$PORT" "$WORKDIR/nginx"
      taskset -c "$SERVER_CPU" "$NGINX_BIN" -p "$WORKDIR/nginx" -e "$WORKDIR/nginx/error.log" \
        -c "$WORKDIR/nginx/nginx.conf" >"$WORKDIR/nginx.out" 2>&1 &
      ;;
    ringgate)
      taskset -c "$SERVER_CPU" "$RINGGATE_BIN" --threads 1 --listen "127.0.0.1:$PORT" \
        >"$WORKDIR/ringgate.out" 2>&1 &
      ;;
  esac
  launcher_pid=$!
  SERVER_PID=$launcher_pid  # taskset execs the server, so this is the server's PID
  if ! wait_listening "$SERVER_PID" "$PORT"; then
    echo "error: $name did not start on 127.0.0.1:$PORT; its output:" >&2
    cat "$WORKDIR/$name.out" >&2 || true
    [[ $name == nginx ]] && { cat "$WORKDIR/nginx/error.log" >&2 2>/dev/null || true; }
    exit 1
  fi
  # With master_process off nginx is one process. Should it ever fork (master + worker),
  # measure the worker: the process that serves the requests.
  children=$(cat /proc/"$launcher_pid"/task/*/children 2>/dev/null | tr -s ' \n' ' ' || true)
  if [[ -n "${children// /}" ]]; then
    # shellcheck disable=SC2086
    set -- $children
    echo "  note: $name pid $launcher_pid has children ($*); measuring child $1"
    MEASURE_PID=$1
  else
    MEASURE_PID=$launcher_pid
  fi
}

RESULTS="$WORKDIR/results.tsv"  # name round rps p50 p99 cpu_us/req cpu0% cpu1% other0% errors
: >"$RESULTS"
FAILED=0
NOISY_KEPT=0

# One measured run. Sets RUN_NOISY=1 when other processes took >10% of the server CPU; the
# result is recorded unless it is noisy and `final` is 0 (the caller will repeat it).
run_one() {  # name round final
  local name=$1 round=$2 final=$3 url out body t0 t1 c0a c0b c1a c1b t0_0 t0_1 t1_0 t1_1
  local requests rps p50 p99 errors u0 u1
  RUN_NOISY=0
  wait_quiet
  start_server "$name"
  url="http://127.0.0.1:$PORT/healthz"

  body=$(curl -s --max-time 2 "$url" || true)
  if [[ "$body" != "$EXPECTED_BODY" ]]; then
    echo "  WARNING: $name GET /healthz answered '$body', expected '$EXPECTED_BODY'"
    FAILED=1
  fi
  if [[ $round == 1 ]]; then
    local hdr
    hdr=$(curl -s -D - -o /dev/null --max-time 2 "$url" | tr -d '\r' | sed '/^$/d' || true)
    [[ -n "$hdr" ]] || hdr="(no response within 2 s)"
    echo "  $name response head ($(printf '%s\n' "$hdr" | wc -c) bytes + ${#EXPECTED_BODY} body):"
    printf '%s\n' "$hdr" | sed 's/^/    | /'
    local task aff=""
    for task in /proc/"$MEASURE_PID"/task/*; do
      aff+=" $(<"$task/comm")=$(awk '/Cpus_allowed_list/ { print $2 }' "$task/status")"
    done
    echo "  $name pid $MEASURE_PID, threads and their CPUs:$aff"
  fi

  run_wrk /dev/null -t1 -c"$CONNECTIONS" -d"$WARMUP" "$url" || true

  read -r c0a t0_0 < <(cpu_jiffies "$SERVER_CPU")
  read -r c1a t1_0 < <(cpu_jiffies "$CLIENT_CPU")
  read -r t0 u0 < <(proc_ticks "$MEASURE_PID")
  run_wrk "$WORKDIR/wrk-$name-$round.txt" -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$url" ||
    { echo "  WARNING: wrk exited with an error"; FAILED=1; }
  if ! read -r t1 u1 < <(proc_ticks "$MEASURE_PID" 2>/dev/null); then
    echo "  ERROR: $name (pid $MEASURE_PID) died during the run"
    t1=$t0 u1=$u0
    FAILED=1
  fi
  read -r c0b t0_1 < <(cpu_jiffies "$SERVER_CPU")
  read -r c1b t1_1 < <(cpu_jiffies "$CLIENT_CPU")
  out=$(<"$WORKDIR/wrk-$name-$round.txt")

  requests=$(awk '/requests in/ { print $1; exit }' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ { print $2; exit }' <<<"$out")
  p50=$(to_us "$(awk '$1 == "50%" { print $2; exit }' <<<"$out")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2; exit }' <<<"$out")")
  errors=""
  if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
    errors+="$(grep 'Non-2xx or 3xx responses' <<<"$out" | sed 's/^ *//'); "
  fi
  if grep -q 'Socket errors' <<<"$out"; then
    errors+="$(grep 'Socket errors' <<<"$out" | sed 's/^ *//'); "
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then errors+="server exited; "; fi
  if [[ -z "$requests" || -z "$rps" ]]; then
    errors+="could not parse wrk output; "
    requests=0; rps=0
  elif [[ "$requests" == 0 ]]; then
    errors+="no request completed; "
  fi
  [[ -n "$errors" ]] && FAILED=1

  local cpu_us cpu0 cpu1 other0
  cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$requests" \
    'BEGIN { if (n > 0) printf "%.2f", d * 1e6 / hz / n; else print "nan" }')
  cpu0=$(awk -v b=$((c0b - c0a)) -v t=$((t0_1 - t0_0)) 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }')
  cpu1=$(awk -v b=$((c1b - c1a)) -v t=$((t1_1 - t1_0)) 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }')
  # CPU0 time the server process was not charged for: other jobs on this shared machine (or
  # interrupt work that landed while the server slept). Large values make the run suspect.
  other0=$(awk -v b=$((c0b - c0a)) -v s=$((t1 - t0)) -v t=$((t0_1 - t0_0)) \
    'BEGIN { printf "%.0f", t ? 100 * (b - s) / t : 0 }')

  printf '  %-9s round %d: %8.0f req/s  p50 %6.0f us  p99 %6.0f us  %6s CPU us/req (%d ticks, %d%% user / %s req)  CPU%d %s%% busy (%s%% not the server)  CPU%d %s%% busy\n' \
    "$name" "$round" "$rps" "$p50" "$p99" "$cpu_us" $((t1 - t0)) \
    $(( t1 > t0 ? 100 * (u1 - u0) / (t1 - t0) : 0 )) "$requests" \
    "$SERVER_CPU" "$cpu0" "$other0" "$CLIENT_CPU" "$cpu1"
  if (( other0 > 10 )); then
    RUN_NOISY=1
    echo "  WARNING: $other0% of CPU $SERVER_CPU went to something other than the server during" \
         "this run (other jobs?); see 'ps -eo pid,psr,pcpu,args --sort=-pcpu'."
  fi
  if [[ -n "$errors" ]]; then
    echo "  ERRORS ($name round $round): $errors"
    sed 's/^/    wrk| /' "$WORKDIR/wrk-$name-$round.txt"
  fi
  stop_server
  if (( RUN_NOISY && ! final )); then
    echo "  (discarding this run and measuring $name again)"
    return 0
  fi
  (( RUN_NOISY )) && NOISY_KEPT=$((NOISY_KEPT + 1))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$rps" "$p50" "$p99" \
    "$cpu_us" "$cpu0" "$cpu1" "$other0" "${errors:-none}" >>"$RESULTS"
}

echo "ringgate vs nginx: GET /healthz, server on CPU $SERVER_CPU, wrk -t1 -c$CONNECTIONS" \
     "-d$DURATION on CPU $CLIENT_CPU (warm-up $WARMUP), $ROUNDS round(s)"
echo "  machine: $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)," \
     "kernel $(uname -r); $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //'); $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
echo "  ringgate: $RINGGATE_BIN; CLK_TCK=$CLK_TCK; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
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

# ---- summary --------------------------------------------------------------------------------
echo
echo "summary over $ROUNDS round(s)            median      mean"
for name in nginx ringgate; do
  for col in 3:req/s 4:p50_us 5:p99_us 6:cpu_us/req 7:cpu${SERVER_CPU}_busy% 9:cpu${SERVER_CPU}_not_server% \
             8:cpu${CLIENT_CPU}_busy%; do
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
  printf "  ringgate req/s   / nginx req/s   = %.2f   (goal >= 1.30: %s)\n", r, (r >= 1.3) ? "met" : "NOT met" }'
awk -v a="$rg_cpu" -v b="$ng_cpu" 'BEGIN { r = (b > 0) ? a / b : 0
  printf "  ringgate CPU/req / nginx CPU/req = %.2f   (goal <= 0.50: %s)\n", r, (r > 0 && r <= 0.5) ? "met" : "NOT met" }'
if (( FAILED || NOISY_KEPT )); then
  echo "  (some runs were disturbed or failed, see below: do not trust these ratios)"
fi
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
