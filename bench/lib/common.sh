# shellcheck shell=bash
# Shared helpers for the bench/ scripts (sourced, never run). Bash, `set -euo pipefail` in callers.
#
# Results go to $BENCH_RESULTS (TSV) so that compare.sh can combine several scripts of one run:
#   W <key> <label> <threads> <req/s> <p50 ms> <p99 ms> <errors> <load1>   one wrk run
#   M <key> <value> <unit> <note>                                          any other figure

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
NETNS_RUN="$REPO_DIR/tests/support/netns-run"
: "${BENCH_BIN:=$REPO_DIR/build-bench/bench-bin}"   # where the scripts compile their small tools
: "${WRK_DURATION:=10s}"
: "${WRK_WARMUP:=3s}"

# Re-exec the calling script inside a private loopback-only network namespace (DESIGN.md §10).
bench_enter_netns() {
  if [ "${SESSIOND_IN_NETNS:-}" != 1 ]; then
    exec "$NETNS_RUN" "$0" "$@"
  fi
  # Only loopback may exist here.
  if ip -o link show | grep -qv ' lo:'; then
    echo "refusing to run: a non-loopback interface is present" >&2
    exit 1
  fi
}

bench_init_results() {
  if [ -z "${BENCH_RESULTS:-}" ]; then
    BENCH_RESULTS=$(mktemp /tmp/sessiond-bench-results.XXXXXX)
  fi
  export BENCH_RESULTS
}

# Processes we started; killed by PID on exit.
BENCH_PIDS=()
BENCH_WORK=""
bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${BENCH_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ -n "$BENCH_WORK" ] && [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$BENCH_WORK"; fi
}
bench_track() { BENCH_PIDS+=("$1"); }
bench_stop() {  # PID: stop one process we started, and forget it
  local p=$1
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  local keep=() q
  for q in "${BENCH_PIDS[@]:-}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  BENCH_PIDS=("${keep[@]:-}")
}
# The run's scratch directory (removed on exit unless BENCH_KEEP=1). Call in the main shell.
bench_workdir() {
  BENCH_WORK=$(mktemp -d /tmp/sessiond-bench.XXXXXX)
  export BENCH_WORK
}

bench_load() { cut -d' ' -f1 /proc/loadavg; }

bench_raise_nofile() { ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; }

# Every benchmark's start once inside its namespace: the results file, the scratch directory, the
# cleanup on exit and the open-file limit. Call in the main shell (it sets the EXIT trap).
bench_begin() {
  bench_init_results
  bench_workdir
  trap bench_cleanup EXIT
  bench_raise_nofile
}

# wait_http URL [seconds]: until the URL answers with any HTTP status
wait_http() {
  local url=$1 limit=${2:-30}
  for _ in $(seq 1 $((limit * 20))); do
    if curl -s -o /dev/null -m 1 "$url"; then return 0; fi
    sleep 0.05
  done
  echo "timeout waiting for $url" >&2
  return 1
}

# Converts wrk's latency figure (e.g. 512.00us, 1.23ms, 2.01s) to milliseconds.
wrk_to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
    printf "%.2f", n }'
}

# bench_wrk KEY LABEL THREADS URL [extra wrk args...]
# A short warm-up run, then `wrk -t1 -c16 -d$WRK_DURATION --latency`; records a W row.
bench_wrk() {
  local key=$1 label=$2 threads=$3 url=$4
  shift 4
  local raw=$BENCH_WORK/wrk-$key.txt
  if [ "${WRK_WARMUP}" != 0 ]; then
    wrk -t1 -c16 -d"$WRK_WARMUP" "$@" "$url" >/dev/null 2>&1 || true
  fi
  local load
  load=$(bench_load)
  wrk -t1 -c16 -d"$WRK_DURATION" --latency "$@" "$url" >"$raw" 2>&1 || true
  if [ -n "${BENCH_RAW_DIR:-}" ]; then
    mkdir -p "$BENCH_RAW_DIR"
    { echo "## $key: wrk -t1 -c16 -d$WRK_DURATION --latency $* $url  (load $load)"; cat "$raw"; } \
      >"$BENCH_RAW_DIR/$key.txt"
  fi
  local rps p50 p99 non2xx errs
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$raw")
  p50=$(awk '$1 == "50%" {print $2}' "$raw")
  p99=$(awk '$1 == "99%" {print $2}' "$raw")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$raw")
  errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$raw")
  errs=$(( ${non2xx:-0} + ${errs:-0} ))
  [ -n "$rps" ] || { echo "wrk failed for $key:" >&2; cat "$raw" >&2; rps=0; }
  p50=$(wrk_to_ms "${p50:-0}")
  p99=$(wrk_to_ms "${p99:-0}")
  printf 'W\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$label" "$threads" "$rps" "$p50" "$p99" \
    "$errs" "$load" >>"$BENCH_RESULTS"
  printf '  %-28s %8s req/s  p50 %6s ms  p99 %7s ms  errors %s  (load %s)\n' "$key" "$rps" "$p50" \
    "$p99" "$errs" "$load" >&2
}

bench_metric() {  # KEY VALUE UNIT NOTE
  printf 'M\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$BENCH_RESULTS"
  printf '  %-28s %s %s  %s\n' "$1" "$2" "$3" "${4:-}" >&2
}

# Lookups in $BENCH_RESULTS (the last row for a key wins).
res_w() {  # KEY FIELD(rps|p50|p99|errors|load|label|threads)
  awk -F'\t' -v k="$1" -v f="$2" '
    BEGIN { i["label"]=3; i["threads"]=4; i["rps"]=5; i["p50"]=6; i["p99"]=7; i["errors"]=8; i["load"]=9 }
    $1 == "W" && $2 == k { v = $(i[f]) } END { print v }' "$BENCH_RESULTS"
}
res_m() {  # KEY -> value
  awk -F'\t' -v k="$1" '$1 == "M" && $2 == k { v = $3 } END { print v }' "$BENCH_RESULTS"
}

# Compiles the small C++ tools and servers of bench/ into $BENCH_BIN (skips up-to-date ones).
bench_cxx() {  # OUT SRC [extra flags...]
  local out=$BENCH_BIN/$1 src=$BENCH_DIR/$2
  shift 2
  mkdir -p "$BENCH_BIN"
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    echo "compiling $out" >&2
    g++ -std=c++20 -O2 -Wall -pthread "$src" -o "$out" "$@"
  fi
}

# nginx with one worker, given the server{} body; sets NGINX_PID. Config and logs under DIR.
bench_nginx_start() {  # DIR SERVER_BODY
  local dir=$1 body=$2
  mkdir -p "$dir/logs" "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
user root;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 20000; }
worker_rlimit_nofile 40000;
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { text/plain txt; application/json json; text/html html; }
  default_type application/octet-stream;
  server {
$body
  }
}
EOF
  nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/logs/stdout.log" 2>&1 &
  NGINX_PID=$!
  bench_track "$NGINX_PID"
}

# --- sessiond -------------------------------------------------------------------------------------

# The binary: $SESSIOND_BIN, else build-bench/daemon/sessiond (our Release build), else
# build/daemon/sessiond (the developers' RelWithDebInfo build, rebuilt by others at any time).
bench_find_sessiond() {
  if [ -n "${SESSIOND_BIN:-}" ]; then [ -x "$SESSIOND_BIN" ] && return 0; return 1; fi
  local c
  for c in "$REPO_DIR/build-bench/daemon/sessiond" "$REPO_DIR/build/daemon/sessiond"; do
    if [ -x "$c" ]; then
      SESSIOND_BIN=$c
      export SESSIOND_BIN
      return 0
    fi
  done
  return 1
}

# A base dir with webapps/myapp (the bench app: distributable, c50.json, 1k.txt).
bench_sessiond_base() {  # DIR
  local dir=$1
  rm -rf "$dir"
  mkdir -p "$dir/webapps"
  cp -r "$BENCH_DIR/app/myapp" "$dir/webapps/myapp"
}

# Starts sessiond on BASE (fresh data dir inside it); sets SESSIOND_PID; waits until it serves.
bench_sessiond_start() {  # BASE [ADDRESS] [PORT] [ADMIN_PORT]
  local base=$1 addr=${2:-127.0.0.1} port=${3:-8080} aport=${4:-8099}
  "$SESSIOND_BIN" --base-dir "$base" --http-address "$addr" --http-port "$port" \
    --admin-port "$aport" --log-level warn >"$base/sessiond.log" 2>&1 &
  SESSIOND_PID=$!
  bench_track "$SESSIOND_PID"
  if ! wait_http "http://$addr:$port/myapp/c50.json" 20; then
    echo "sessiond did not start; its log:" >&2
    cat "$base/sessiond.log" >&2
    return 1
  fi
}

# Prints "JSESSIONID=..." for a new session made by GET URL.
bench_new_cookie() {  # URL
  curl -s -o /dev/null -c - "$1" | awk '$6 == "JSESSIONID" { print "JSESSIONID=" $7 }'
}

proc_status() {  # PID FIELD -> value (kB for Vm*)
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# Folds the rows KEY#1..KEY#n (rounds) into one row KEY: median req/s, p50, p99; mean load;
# errors summed.
bench_aggregate() {  # KEY
  awk -F'\t' -v k="$1" '
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    $1 == "W" && index($2, k "#") == 1 && substr($2, length(k) + 2) ~ /^[0-9]+$/ {
      n++; label = $3; thr = $4; r[n] = $5; p5[n] = $6; p9[n] = $7; err += $8; load += $9 }
    END {
      if (n == 0) exit
      printf "W\t%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t%d\t%.2f\n", k, label, thr, median(r, n), median(p5, n), median(p9, n), err, load / n
    }' "$BENCH_RESULTS" >>"$BENCH_RESULTS.agg"
  cat "$BENCH_RESULTS.agg" >>"$BENCH_RESULTS"
  rm -f "$BENCH_RESULTS.agg"
}
