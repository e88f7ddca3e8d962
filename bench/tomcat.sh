#!/usr/bin/env bash
# Tomcat 10 single node (no <Cluster>), the same session workloads as bench/node.sh, with JSPs
# doing what sessiond's session API does (bench/tomcat/myapp):
#   (a) GET  session.jsp with an existing session cookie   (sessiond: GET /myapp/.session)
#   (b) POST set.jsp on that session, small JSON body      (sessiond: PUT /myapp/.session/attributes/x)
#   (d) GET  session.jsp with no cookie: a new session each (sessiond: GET /myapp/.session, no cookie)
#   (2c) GET touch.jsp with the cookie: the anchors' own single-node workload, for continuity
# A 10 s JVM warm-up run precedes every measured `wrk -t1 -c16 -d10s --latency`.
# Installs tomcat10 with apt-get if missing (and keeps its system service stopped); runs catalina
# from a private CATALINA_BASE inside a private network namespace on 127.0.0.42.
#
#   bench/tomcat.sh            WRK_DURATION=10s TOMCAT_WARMUP=10s (defaults)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

source "$(dirname "$0")/lib/tomcat.sh"
tomcat_install_if_missing
bench_enter_netns "$@"
bench_begin
WRK_WARMUP=${TOMCAT_WARMUP:-10s}

tomcat_start 127.0.0.42 8080
U=$TOMCAT_URL
cookie=$(bench_new_cookie "$U/session.jsp")
[ -n "$cookie" ] || { echo "no JSESSIONID from Tomcat" >&2; exit 1; }
echo "session cookie $cookie; warm-up ${WRK_WARMUP} before each run" >&2
bench_wrk tomcat.a "(a) GET session.jsp, cookie" - "$U/session.jsp" -H "Cookie: $cookie"
BENCH_METHOD=POST bench_wrk tomcat.b "(b) POST set.jsp (set x), cookie" - "$U/set.jsp" \
  -H "Cookie: $cookie" -s "$BENCH_DIR/lua/set_x.lua"
bench_wrk tomcat.2c "(2c) GET touch.jsp, cookie" - "$U/touch.jsp" -H "Cookie: $cookie"
bench_wrk tomcat.d "(d) GET session.jsp, no cookie" - "$U/session.jsp"
bench_metric tomcat.threads "$(proc_status "$TOMCAT_PID" Threads)" threads "after the runs"
bench_metric tomcat.rss_mb $(( $(proc_status "$TOMCAT_PID" VmRSS) / 1024 )) MB "after the runs (sessions of (d) included)"
curl -s -H "Cookie: $cookie" "$U/session.jsp" | head -c 300 >&2; echo >&2

if [ -z "${BENCH_NO_TABLE:-}" ]; then
  {
    printf 'workload\treq/s\tp50 ms\tp99 ms\terrors\tload1\n'
    awk -F'\t' '$1 == "W" && $2 ~ /^tomcat\./ { printf "%s\t%s\t%s\t%s\t%s\t%s\n", $3, $5, $6, $7, $8, $9 }' "$BENCH_RESULTS"
  } | column -t -s $'\t'
  echo "start-up to serving: $(res_m tomcat.startup_ms) ms; threads: $(res_m tomcat.threads); RSS after: $(res_m tomcat.rss_mb) MB"
fi
