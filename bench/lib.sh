# Shell helpers shared by the load scripts (bench/load_vs_nginx.sh, bench/chat_vs_nginx.sh,
# bench/stream_load.sh). Source it; it defines functions only, no side effects.
#
# Globals the functions read (the sourcing script sets them):
#   SERVER_CPU, CLIENT_CPU   CPUs the server and the client run on
#   QUIET_WAIT, TIME_BUDGET  see wait_quiet
#   RESULTS                  TSV file read by stat_of
# Globals the functions set: WRK_PID (run_wrk, while wrk runs).

die() { echo "error: $*" >&2; exit 1; }

# Prints the leading comment block of a script (its usage text).
usage_of() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$1"; }

require_tools() {  # tool...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "'$tool' not found (Debian: apt-get install wrk util-linux curl libc-bin gawk python3 nghttp2-client)"
  done
}

# Runs wrk on CLIENT_CPU in the background and waits for it, so that a signal is handled at
# once (bash runs traps only between foreground commands). Output goes to the file $1.
run_wrk() {  # outfile wrk-args...
  local outfile=$1 rc=0
  shift
  taskset -c "$CLIENT_CPU" wrk "$@" >"$outfile" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  return "$rc"
}

# SIGTERM one process we started, wait up to 5 s, then SIGKILL. Only ever a PID, never a name.
stop_pid() {  # pid
  local pid=$1
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "warning: pid $pid ignored SIGTERM, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

free_port() {
  local port
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  for _ in $(seq 1 100); do
    port=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free port found"
}

# utime + stime of a whole process (all its threads, live and exited), in clock ticks, as
# "total utime". The command name in field 2 may contain spaces, so split after the last ')'.
# Fields 14 (utime) and 15 (stime) are the 12th and 13th after it.
proc_ticks() {
  local stat
  stat=$(<"/proc/$1/stat") || return 1
  stat=${stat##*) }
  awk '{ print $12 + $13, $12 }' <<<"$stat"
}

# "busy total" jiffies of one CPU from /proc/stat: busy = user+nice+system+irq+softirq,
# total adds idle, iowait and steal (time the hypervisor gave to someone else).
cpu_jiffies() {
  awk -v cpu="cpu$1" '$1 == cpu { t = 0; for (i = 2; i <= 9; i++) t += $i;
                                    print t - $5 - $6 - $9, t }' /proc/stat
}

# Waits (up to QUIET_WAIT s) until neither CPU is more than 10% busy over a 1 s sample, so a
# run does not start while another job is loading the machine. Does nothing once SECONDS has
# passed TIME_BUDGET.
wait_quiet() {
  local waited=0 a0 t0 a1 t1 b0 u0 b1 u1 busy0 busy1
  (( SECONDS < TIME_BUDGET )) || return 0
  while :; do
    read -r a0 t0 < <(cpu_jiffies "$SERVER_CPU")
    read -r a1 t1 < <(cpu_jiffies "$CLIENT_CPU")
    sleep 1
    read -r b0 u0 < <(cpu_jiffies "$SERVER_CPU")
    read -r b1 u1 < <(cpu_jiffies "$CLIENT_CPU")
    busy0=$(( (u0 - t0) > 0 ? 100 * (b0 - a0) / (u0 - t0) : 0 ))
    busy1=$(( (u1 - t1) > 0 ? 100 * (b1 - a1) / (u1 - t1) : 0 ))
    (( busy0 <= 10 && busy1 <= 10 )) && return 0
    waited=$((waited + 1))
    if (( waited >= QUIET_WAIT || SECONDS >= TIME_BUDGET )); then
      echo "  note: machine still busy (CPU$SERVER_CPU $busy0%, CPU$CLIENT_CPU $busy1%) after" \
           "${waited}s; measuring anyway"
      return 0
    fi
    (( waited == 1 )) &&
      echo "  waiting for the machine to go quiet (CPU$SERVER_CPU $busy0%, CPU$CLIENT_CPU $busy1%)..."
  done
}

wait_listening() {  # pid port: true once the port accepts TCP connections
  for _ in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Converts wrk's latency strings (e.g. 412.00us, 3.81ms, 1.02s) to microseconds.
to_us() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v + 0 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 }
    else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000000 }
    else print "nan" }'
}

# Fields of a wrk --latency report: "requests rps p50_us p99_us errors" (errors is a
# ';'-separated description, or empty). Reads the report from the file $1.
wrk_fields() {  # file
  local out requests rps p50 p99 errors=""
  out=$(<"$1")
  requests=$(awk '/requests in/ { print $1; exit }' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ { print $2; exit }' <<<"$out")
  p50=$(to_us "$(awk '$1 == "50%" { print $2; exit }' <<<"$out")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2; exit }' <<<"$out")")
  if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
    errors+="$(grep 'Non-2xx or 3xx responses' <<<"$out" | sed 's/^ *//'); "
  fi
  if grep -q 'Socket errors' <<<"$out"; then
    errors+="$(grep 'Socket errors' <<<"$out" | sed 's/^ *//'); "
  fi
  if [[ -z "$requests" || -z "$rps" ]]; then
    errors+="could not parse wrk output; "
    requests=0; rps=0
  elif [[ "$requests" == 0 ]]; then
    errors+="no request completed; "
  fi
  WRK_REQUESTS=$requests WRK_RPS=$rps WRK_P50=$p50 WRK_P99=$p99 WRK_ERRORS=$errors
}

# Busy % of a CPU between two cpu_jiffies samples.
# Open-loop load: h2load (Debian nghttp2-client) on CLIENT_CPU, `connections` HTTP/1.1 clients
# sending `rate` POSTs/s in all whatever the answers' pace, for `seconds`. Both sides of a
# comparison then do the same work per second, so CPU per request compares without a closed
# loop's batching feedback.
run_h2load() {  # outfile seconds rate connections body_file url [h2load header args...]
  local outfile=$1 seconds=$2 rate=$3 connections=$4 body=$5 url=$6
  shift 6
  taskset -c "$CLIENT_CPU" h2load --h1 -t1 -c"$connections" -m1 --rps "$((rate / connections))" \
    -D "$seconds" -d "$body" -H "Content-Type: application/json" "$@" "$url" >"$outfile" 2>&1
}

# Sets WRK_RPS, WRK_REQUESTS and WRK_ERRORS from h2load's output, as wrk_fields does from wrk's
# (WRK_P50 and WRK_P99: h2load prints no percentiles, 0).
h2load_fields() {  # file
  WRK_RPS=$(awk '/^finished in/ { print $4 + 0 }' "$1")
  # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
  WRK_REQUESTS=$(awk '/^requests:/ { print $8 + 0 }' "$1")
  WRK_ERRORS=$(awk '/^requests:/ && ($10 + 0 > 0 || $12 + 0 > 0 || $14 + 0 > 0) { print }
                    /^status codes:/ && ($5 + 0 > 0 || $7 + 0 > 0 || $9 + 0 > 0) { print }' "$1")
  WRK_P50=0 WRK_P99=0
  [[ -n "$WRK_REQUESTS" && "$WRK_REQUESTS" -gt 0 ]] || WRK_ERRORS="no request succeeded"
}

busy_pct() {  # busy_before total_before busy_after total_after
  awk -v b=$(($3 - $1)) -v t=$(($4 - $2)) 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }'
}

# Process CPU µs per unit of work from a proc_ticks delta.
cpu_us_per() {  # ticks units
  awk -v d="$1" -v hz="$CLK_TCK" -v n="$2" \
    'BEGIN { if (n > 0) printf "%.2f", d * 1e6 / hz / n; else print "nan" }'
}

# "name=CPUs" of every thread of a process, to show the pinning held.
thread_cpus() {  # pid
  local task aff=""
  for task in /proc/"$1"/task/*; do
    aff+=" $(<"$task/comm")=$(awk '/Cpus_allowed_list/ { print $2 }' "$task/status")"
  done
  echo "${aff# }"
}

# median and mean of one column of RESULTS for the rows whose first column is `name`
stat_of() {  # name column
  awk -F'\t' -v n="$1" -v c="$2" '$1 == n { print $c }' "$RESULTS" | sort -g |
    awk '{ v[NR] = $1; s += $1 }
         END { if (NR == 0) { print "nan nan"; exit }
               m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
               printf "%.2f %.2f\n", m, s / NR }'
}

# Raises the soft open-files limit (1,000 wrk connections need ~1,000 fds in wrk and ~2,000
# in a proxy) as far as the hard limit allows.
raise_nofile() {  # wanted
  local hard
  hard=$(ulimit -Hn)
  if [[ $hard == unlimited ]] || (( hard >= $1 )); then ulimit -n "$1"; else ulimit -n "$hard"; fi
}

# A fresh fake-gemini on CPU `cpu`, no request recording. Sets FAKE_PID and FAKE_PORT.
start_fake() {  # binary cpu logfile [extra args...]
  local bin=$1 cpu=$2 log=$3
  shift 3
  FAKE_PORT=$(free_port)
  taskset -c "$cpu" "$bin" --listen "127.0.0.1:$FAKE_PORT" --record 0 "$@" >"$log" 2>&1 &
  FAKE_PID=$!
  if ! wait_listening "$FAKE_PID" "$FAKE_PORT"; then
    echo "error: fake-gemini did not start on 127.0.0.1:$FAKE_PORT; its output:" >&2
    cat "$log" >&2 || true
    exit 1
  fi
}

# ringgate in front of a fake on 127.0.0.1:fake_port, one reactor thread on `cpu`, password
# "secret", one 39-character key; extra environment (e.g. FAKE_STREAMING=false) as NAME=VALUE
# arguments. Sets RG_PID and RG_PORT.
RG_PASSWORD=secret
RG_API_KEY="AIzaSy$(printf 'k%.0s' $(seq 1 33))"   # 39 characters, the shape of a Google key
start_ringgate_chat() {  # binary cpu fake_port logfile [NAME=VALUE...]
  local bin=$1 cpu=$2 fake_port=$3 log=$4
  shift 4
  RG_PORT=$(free_port)
  # Load comes from one IP: HAJIMI's per-IP limits (30 a minute) would answer nearly all 429.
  # The load is identical requests at once: PUBLIC_MODE=true, or coalescing would answer most of
  # them from one upstream call (a caller's PUBLIC_MODE=false wins).
  env GEMINI_BASE_URL="http://127.0.0.1:$fake_port" GEMINI_API_KEYS="$RG_API_KEY" \
    PASSWORD="$RG_PASSWORD" MAX_REQUESTS_PER_MINUTE=1000000000 \
    MAX_REQUESTS_PER_DAY_PER_IP=1000000000 PUBLIC_MODE=true "$@" \
    taskset -c "$cpu" "$bin" --threads 1 --listen "127.0.0.1:$RG_PORT" >"$log" 2>&1 &
  RG_PID=$!
  wait_listening "$RG_PID" "$RG_PORT" ||
    { cat "$log" >&2; die "ringgate did not start on 127.0.0.1:$RG_PORT"; }
}

# Sends the OpenAI body in file `openai` to a ringgate in front of a recording fake and writes
# the Gemini body ringgate sent upstream to file `out`, so a direct or nginx client can send
# exactly the same upstream request. Starts and stops its own fake and ringgate.
capture_upstream_body() {  # ringgate_bin fake_bin workdir openai_file out_file upstream_path [NAME=VALUE...]
  local rg=$1 fake=$2 dir=$3 openai=$4 out=$5 path=$6
  shift 6
  start_fake "$fake" "${FAKE_CPU:-$CLIENT_CPU}" "$dir/fake-capture.out" --record 10
  start_ringgate_chat "$rg" "$SERVER_CPU" "$FAKE_PORT" "$dir/ringgate-capture.out" "$@"
  curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$RG_PORT/v1/chat/completions" \
    -H "Authorization: Bearer $RG_PASSWORD" -H 'Content-Type: application/json' \
    --data-binary @"$openai" || die "capture: the chat request through ringgate failed"
  curl -sf --max-time 5 "http://127.0.0.1:$FAKE_PORT/_fake/requests" >"$dir/recorded.json" ||
    die "capture: GET /_fake/requests failed"
  stop_pid "$RG_PID"; RG_PID=""
  stop_pid "$FAKE_PID"; FAKE_PID=""
  python3 - "$dir/recorded.json" "$out" "$path" <<'PY' || die "capture: unexpected upstream request"
import json, sys
reqs = [r for r in json.load(open(sys.argv[1]))["requests"] if r["method"] == "POST"]
assert len(reqs) == 1 and reqs[0]["path"] == sys.argv[3], [(r["method"], r["path"]) for r in reqs]
open(sys.argv[2], "w").write(reqs[0]["body"])
PY
}

# The part of an nginx config both nginx comparisons share: one process (master_process off,
# pinned with taskset by the caller), no access log, effectively unlimited keep-alive, every
# path under `dir`. Prints up to and including "http {"; the caller adds its blocks and "}".
nginx_conf_head() {  # dir generator-name
  local dir=$1
  cat <<EOF
# Generated by $2. One process (master_process off) pinned with taskset.
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
EOF
}
