#!/usr/bin/env bash
# The data-plane server, measured (DESIGN.md §3): the same constant 50-byte JSON reply from
# nginx (1 worker), a minimal Boost.Beast async server on 1 and 2 threads in three forms
# (textbook tcp_stream + message; plain socket + message; Beast parser + pre-serialized bytes),
# cpp-httplib
# (TCP_NODELAY on, 8 and 16 pool threads; and its defaults), and — when built — sessiond's own
# connector on a 50-byte static file and on GET /myapp/.session with a cookie.
# `wrk -t1 -c16 -d8s --latency` against each, one after another, in one private namespace.
#
#   bench/connector.sh                 all servers
#   SERVERS="nginx beast1" bench/connector.sh
#   WRK_DURATION=8s WRK_WARMUP=2s      (defaults)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_enter_netns "$@"
WRK_DURATION=${CONNECTOR_DURATION:-8s}
WRK_WARMUP=${CONNECTOR_WARMUP:-2s}
: "${SERVERS:=nginx beast1 beast2 beast1-sock beast2-sock beast1-raw beast2-raw httplib8 httplib16 httplib-default sessiond-static sessiond-session}"
bench_init_results
bench_workdir
trap bench_cleanup EXIT
bench_raise_nofile

bench_cxx beast_server connector/beast_server.cc
# shellcheck disable=SC2046
bench_cxx httplib_server connector/httplib_server.cc $(pkg-config --cflags --libs cpp-httplib)

BODY='{"status":"ok","node":"bench1","value":1234567890}'
A=127.0.0.1

run_server() {  # NAME
  local name=$1 pid
  case $name in
    nginx)
      bench_nginx_start "$BENCH_WORK/nginx" "    listen $A:8180;
    location / { default_type application/json; return 200 '$BODY'; }"
      wait_http "http://$A:8180/" 10
      bench_wrk connector.nginx "nginx 1.22 (1 worker)" 1 "http://$A:8180/"
      bench_stop "$NGINX_PID" ;;
    beast1|beast2|beast1-sock|beast2-sock|beast1-raw|beast2-raw)
      local n=${name#beast} mode=msg label="Beast: tcp_stream + http::async_write"
      case $n in
        *-sock) mode=sock; label="Beast: tcp::socket + http::async_write" ;;
        *-raw) mode=raw; label="Beast: parser + pre-serialized reply" ;;
      esac
      n=${n%%-*}
      "$BENCH_BIN/beast_server" $A 8181 "$n" $mode & pid=$!; bench_track $pid
      wait_http "http://$A:8181/" 10
      bench_wrk "connector.$name" "$label" "$n" "http://$A:8181/"
      bench_stop $pid ;;
    httplib8|httplib16)
      local n=${name#httplib}
      "$BENCH_BIN/httplib_server" $A 8182 "$n" 1 & pid=$!; bench_track $pid
      wait_http "http://$A:8182/" 10
      bench_wrk "connector.$name" "cpp-httplib 0.11.4, TCP_NODELAY" "$n" "http://$A:8182/"
      bench_stop $pid ;;
    httplib-default)
      "$BENCH_BIN/httplib_server" $A 8183 8 0 & pid=$!; bench_track $pid
      wait_http "http://$A:8183/" 10
      bench_wrk "connector.$name" "cpp-httplib 0.11.4, defaults (Nagle)" 8 "http://$A:8183/"
      bench_stop $pid ;;
    sessiond-static|sessiond-session)
      if ! bench_find_sessiond; then
        echo "  $name: skipped (no sessiond binary yet)" >&2
        return 0
      fi
      local base=$BENCH_WORK/sessiond
      bench_sessiond_base "$base"
      bench_sessiond_start "$base" $A 8184 8199
      local threads
      threads=$(proc_status "$SESSIOND_PID" Threads)
      if [ "$name" = sessiond-static ]; then
        bench_wrk "connector.$name" "sessiond: 50-byte static file" "$threads" \
          "http://$A:8184/myapp/c50.json"
      else
        local cookie
        cookie=$(bench_new_cookie "http://$A:8184/myapp/.session")
        bench_wrk "connector.$name" "sessiond: GET .session, cookie" "$threads" \
          "http://$A:8184/myapp/.session" -H "Cookie: $cookie"
      fi
      bench_stop "$SESSIOND_PID" ;;
    *) echo "unknown server $name" >&2; exit 2 ;;
  esac
}

echo "connector comparison: wrk -t1 -c16 -d$WRK_DURATION --latency (warm-up $WRK_WARMUP), $(nproc) cores, $(date -u +%FT%TZ)" >&2
for s in $SERVERS; do run_server "$s"; done

ngx=$(res_w connector.nginx rps)
{
  printf 'server\tthreads\treq/s\tp50 ms\tp99 ms\terrors\tvs nginx\tload1\n'
  awk -F'\t' -v ngx="${ngx:-0}" '$1 == "W" && $2 ~ /^connector\./ {
    r = (ngx > 0) ? sprintf("%.0f%%", 100 * $5 / ngx) : "-"
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $3, $4, $5, $6, $7, $8, r, $9 }' "$BENCH_RESULTS"
} | column -t -s $'\t'
