#!/usr/bin/env bash
# One run, one namespace, ratios that survive a shared machine: Tomcat 10 single node, sessiond
# and nginx run side by side, and every pair that a target compares is measured in alternating
# slices — ROUNDS rounds of `wrk -t1 -c16 -d$SLICE --latency`, the order flipped every round
# (A B, B A, A B, ...) — so a load change from other users hits both sides alike. The figure per
# workload is the median over the rounds. Pairs:
#   (a) sessiond GET /myapp/.session, cookie     vs Tomcat GET session.jsp, cookie
#   (b) sessiond PUT .session/attributes/x       vs Tomcat POST set.jsp
#   (c) sessiond 1 KB static file                vs nginx, same file
#   connector: sessiond 50-byte static file      vs nginx `return 200` 50 bytes
#   (d) sessiond GET .session, no cookie         vs Tomcat session.jsp, no cookie (last: it fills memory)
# Warm-up first: Tomcat 10 s per JSP workload (JIT), sessiond and nginx 3 s each. Then
# bench/node.sh for the rest (idle connections, RSS per session, start-up); CONNECTOR=1 adds
# bench/connector.sh. Prints the per-round figures and the issue-2 table.
#
#   bench/compare.sh          ROUNDS=4 SLICE=4s TOMCAT_WARMUP=10s CONNECTOR=1 BENCH_RAW_DIR=DIR
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/tomcat.sh"
tomcat_install_if_missing
bench_enter_netns "$@"
bench_begin
: "${ROUNDS:=4}"
: "${SLICE:=4s}"
: "${TOMCAT_WARMUP:=10s}"
export BENCH_NO_TABLE=1
if ! bench_find_sessiond; then
  echo "no sessiond binary yet; build it first (see bench/README.md)" >&2
  exit 1
fi
echo "== compare: $(date -u +%FT%TZ), $(nproc) cores, load at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "== sessiond: $SESSIOND_BIN ($(stat -c %y "$SESSIOND_BIN" | cut -d. -f1))" >&2

# --- the three servers ---------------------------------------------------------------------------
tomcat_start 127.0.0.42 8080
TC=$TOMCAT_URL
SD_BASE=$BENCH_WORK/node
bench_sessiond_base "$SD_BASE"
bench_sessiond_start "$SD_BASE" 127.0.0.1 8080 8099
SD=http://127.0.0.1:8080/myapp
SD_THREADS=$(proc_status "$SESSIOND_PID" Threads)
NGX=127.0.0.41:8180
bench_nginx_start "$BENCH_WORK/nginx" "    listen $NGX;
    root $SD_BASE/webapps;
    # nginx's fastest setting for a 1 KB file here (measured: +30% over Debian's sendfile on)
    open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s; sendfile off;
    location = /const { default_type application/json; return 200 '$(cat "$BENCH_DIR/app/myapp/c50.json")'; }"
wait_http "http://$NGX/myapp/1k.txt" 10
tc_cookie=$(bench_new_cookie "$TC/session.jsp")
sd_cookie=$(bench_new_cookie "$SD/.session")
[ -n "$tc_cookie" ] && [ -n "$sd_cookie" ] || { echo "no session cookie (tomcat '$tc_cookie', sessiond '$sd_cookie')" >&2; exit 1; }

# --- the workloads: run_<key> SUFFIX -----------------------------------------------------------
SET_X=$BENCH_DIR/lua/set_x.lua
run_tomcat.a() { bench_wrk "tomcat.a$1" "(a) Tomcat GET session.jsp, cookie" - "$TC/session.jsp" -H "Cookie: $tc_cookie"; }
run_node.a() { bench_wrk "node.a$1" "(a) GET .session, cookie" "$SD_THREADS" "$SD/.session" -H "Cookie: $sd_cookie"; }
run_tomcat.b() { BENCH_METHOD=POST bench_wrk "tomcat.b$1" "(b) Tomcat POST set.jsp, cookie" - "$TC/set.jsp" -H "Cookie: $tc_cookie" -s "$SET_X"; }
run_node.b() { BENCH_METHOD=PUT bench_wrk "node.b$1" "(b) PUT .session/attributes/x" "$SD_THREADS" "$SD/.session/attributes/x" -H "Cookie: $sd_cookie" -s "$SET_X"; }
run_nginx.c() { bench_wrk "nginx.c$1" "nginx: same 1 KB file" 1 "http://$NGX/myapp/1k.txt"; }
run_node.c() { bench_wrk "node.c$1" "(c) 1 KB static file" "$SD_THREADS" "$SD/1k.txt"; }
run_nginx.const() { bench_wrk "nginx.const$1" "nginx: constant 50-byte reply" 1 "http://$NGX/const"; }
run_node.const() { bench_wrk "node.const$1" "50-byte static file" "$SD_THREADS" "$SD/c50.json"; }
run_tomcat.d() { bench_wrk "tomcat.d$1" "(d) Tomcat GET session.jsp, no cookie" - "$TC/session.jsp"; }
run_node.d() { bench_wrk "node.d$1" "(d) GET .session, no cookie" "$SD_THREADS" "$SD/.session"; }

warm() {  # SECONDS KEY...
  local d=$1 k
  shift
  for k in "$@"; do WRK_DURATION=$d WRK_WARMUP=0 "run_$k" "#warm" 2>/dev/null; done
}
interleave() {  # KEY_A KEY_B
  local r
  echo "-- $1 vs $2: $ROUNDS rounds of $SLICE, alternating" >&2
  for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
      WRK_DURATION=$SLICE WRK_WARMUP=0 "run_$1" "#$r"; WRK_DURATION=$SLICE WRK_WARMUP=0 "run_$2" "#$r"
    else
      WRK_DURATION=$SLICE WRK_WARMUP=0 "run_$2" "#$r"; WRK_DURATION=$SLICE WRK_WARMUP=0 "run_$1" "#$r"
    fi
  done
  bench_aggregate "$1"
  bench_aggregate "$2"
}

echo "-- warm-up: Tomcat $TOMCAT_WARMUP per JSP workload, sessiond and nginx 3 s each" >&2
warm "$TOMCAT_WARMUP" tomcat.a tomcat.b
warm 3s node.a node.b node.c node.const nginx.c nginx.const
interleave node.a tomcat.a
interleave node.b tomcat.b
interleave node.c nginx.c
interleave node.const nginx.const
warm "$TOMCAT_WARMUP" tomcat.d
warm 3s node.d
interleave node.d tomcat.d
tomcat_rss=$(( $(proc_status "$TOMCAT_PID" VmRSS) / 1024 ))
bench_metric tomcat.threads "$(proc_status "$TOMCAT_PID" Threads)" threads "after the runs"
bench_stop "$TOMCAT_PID"
bench_stop "$SESSIOND_PID"
bench_stop "$NGINX_PID"

# --- the rest, one after another ---------------------------------------------------------------
echo "== sessiond: idle connections, RSS per session, start-up" >&2
NODE_PARTS="idle mem startup" "$BENCH_DIR/node.sh"
if [ -n "${CONNECTOR:-}" ]; then
  echo "== connector comparison (sequential)" >&2
  "$BENCH_DIR/connector.sh" >"$BENCH_WORK/connector.txt"
fi

# --- tables --------------------------------------------------------------------------------------
echo
echo "Per round, req/s (p99 ms); rounds alternate the order of each pair:"
{
  printf 'workload'; for r in $(seq 1 "$ROUNDS"); do printf '\tround %s' "$r"; done; printf '\tmedian\tload1\n'
  for k in node.a tomcat.a node.b tomcat.b node.c nginx.c node.const nginx.const node.d tomcat.d; do
    printf '%s' "$(res_w "$k" label)"
    for r in $(seq 1 "$ROUNDS"); do printf '\t%s (%s)' "$(res_w "$k#$r" rps)" "$(res_w "$k#$r" p99)"; done
    printf '\t%s (%s)\t%s\n' "$(res_w "$k" rps)" "$(res_w "$k" p99)" "$(res_w "$k" load)"
  done
} | column -t -s $'\t'
echo
echo "Issue 2 targets (Tomcat RSS after the runs: $tomcat_rss MB, threads $(res_m tomcat.threads)):"
"$BENCH_DIR/lib/node_table.sh"
if [ -n "${CONNECTOR:-}" ]; then
  echo
  echo "Connector comparison (all side by side, median of alternating rounds):"
  cat "$BENCH_WORK/connector.txt"
fi
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
