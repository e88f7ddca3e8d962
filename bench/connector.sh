#!/usr/bin/env bash
# The data-plane server, measured (DESIGN.md §3): the same constant 50-byte JSON reply from
# nginx (1 worker, `return 200`), a minimal Boost.Beast async server on 1 and 2 threads in three
# forms (textbook tcp_stream + http::async_write; plain tcp::socket + http::async_write; Beast's
# parser + a pre-serialized reply), cpp-httplib 0.11.4 (TCP_NODELAY on, 8 and 16 pool threads; and
# its defaults), and — when built — sessiond's own connector on a 50-byte static file and on
# GET /myapp/.session with a cookie.
# All servers run side by side in one private namespace; ROUNDS rounds visit every server with
# `wrk -t1 -c16 -d$SLICE --latency` (the order reversed every other round, so a load change from
# other users of the machine hits all alike); the figure is the median over the rounds.
#
#   bench/connector.sh                  ROUNDS=4 SLICE=4s (default); 1 s warm-up per server
#   SERVERS="nginx beast1" bench/connector.sh
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_enter_netns "$@"
: "${ROUNDS:=4}"
: "${SLICE:=4s}"
: "${SERVERS:=nginx beast1 beast2 beast1-sock beast2-sock beast1-raw beast2-raw httplib8 httplib16 httplib-default sessiond-static sessiond-session}"
bench_begin

bench_cxx beast_server connector/beast_server.cc
# shellcheck disable=SC2046
bench_cxx httplib_server connector/httplib_server.cc $(pkg-config --cflags --libs cpp-httplib)

BODY='{"status":"ok","node":"bench1","value":1234567890}'
A=127.0.0.1
declare -A URL LABEL THREADS HDR
port=8180
start_server() {  # NAME: starts it on the next port, fills URL/LABEL/THREADS
  local name=$1 pid n mode
  port=$((port + 1))
  case $name in
    nginx)
      bench_nginx_start "$BENCH_WORK/nginx" "    listen $A:$port;
    location / { default_type application/json; return 200 '$BODY'; }"
      URL[$name]=http://$A:$port/; LABEL[$name]="nginx 1.22 (1 worker)"; THREADS[$name]=1 ;;
    beast1|beast2|beast1-sock|beast2-sock|beast1-raw|beast2-raw)
      n=${name#beast}; mode=msg; LABEL[$name]="Beast: tcp_stream + http::async_write"
      case $n in
        *-sock) mode=sock; LABEL[$name]="Beast: tcp::socket + http::async_write" ;;
        *-raw) mode=raw; LABEL[$name]="Beast: parser + pre-serialized reply" ;;
      esac
      n=${n%%-*}
      "$BENCH_BIN/beast_server" $A $port "$n" $mode & pid=$!; bench_track $pid
      URL[$name]=http://$A:$port/; THREADS[$name]=$n ;;
    httplib8|httplib16)
      n=${name#httplib}
      "$BENCH_BIN/httplib_server" $A $port "$n" 1 & pid=$!; bench_track $pid
      URL[$name]=http://$A:$port/; LABEL[$name]="cpp-httplib 0.11.4, TCP_NODELAY"; THREADS[$name]=$n ;;
    httplib-default)
      "$BENCH_BIN/httplib_server" $A $port 8 0 & pid=$!; bench_track $pid
      URL[$name]=http://$A:$port/; LABEL[$name]="cpp-httplib 0.11.4, defaults (Nagle)"; THREADS[$name]=8 ;;
    sessiond-static|sessiond-session)
      if ! bench_find_sessiond; then
        echo "  $name: skipped (no sessiond binary yet)" >&2
        return 0
      fi
      if [ -z "${SD_URL:-}" ]; then  # one sessiond serves both rows
        local base=$BENCH_WORK/sessiond
        bench_sessiond_base "$base"
        bench_sessiond_start "$base" $A $port 8199
        SD_URL=http://$A:$port/myapp
        SD_COOKIE=$(bench_new_cookie "$SD_URL/.session")
        echo "sessiond: $SESSIOND_BIN" >&2
      fi
      THREADS[$name]=$(proc_status "$SESSIOND_PID" Threads)
      if [ "$name" = sessiond-static ]; then
        URL[$name]=$SD_URL/c50.json; LABEL[$name]="sessiond: 50-byte static file"
      else
        URL[$name]=$SD_URL/.session; LABEL[$name]="sessiond: GET .session, cookie"
        HDR[$name]="Cookie: $SD_COOKIE"
      fi ;;
    *) echo "unknown server $name" >&2; exit 2 ;;
  esac
  wait_http "${URL[$name]}" 20
}

run() {  # NAME SUFFIX
  local name=$1
  if [ -n "${HDR[$name]:-}" ]; then
    bench_wrk "connector.$name$2" "${LABEL[$name]}" "${THREADS[$name]}" "${URL[$name]}" -H "${HDR[$name]}"
  else
    bench_wrk "connector.$name$2" "${LABEL[$name]}" "${THREADS[$name]}" "${URL[$name]}"
  fi
}

echo "connector comparison: $ROUNDS rounds of wrk -t1 -c16 -d$SLICE --latency per server, $(nproc) cores, $(date -u +%FT%TZ), load $(bench_load)" >&2
active=()
for s in $SERVERS; do
  start_server "$s"
  [ -n "${URL[$s]:-}" ] && active+=("$s")
done
for s in "${active[@]}"; do WRK_DURATION=1s WRK_WARMUP=0 run "$s" "#warm" 2>/dev/null; done
for r in $(seq 1 "$ROUNDS"); do
  order=("${active[@]}")
  if [ $((r % 2)) = 0 ]; then
    order=(); for ((i = ${#active[@]} - 1; i >= 0; i--)); do order+=("${active[$i]}"); done
  fi
  echo "-- round $r" >&2
  for s in "${order[@]}"; do WRK_DURATION=$SLICE WRK_WARMUP=0 run "$s" "#$r"; done
done
for s in "${active[@]}"; do bench_aggregate "connector.$s"; done

ngx=$(res_w connector.nginx rps)
{
  printf 'server\tthreads\treq/s\tp50 ms\tp99 ms\terrors\tvs nginx\tload1\n'
  for s in "${active[@]}"; do
    k=connector.$s
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(res_w "$k" label)" "$(res_w "$k" threads)" "$(res_w "$k" rps)" \
      "$(res_w "$k" p50)" "$(res_w "$k" p99)" "$(res_w "$k" errors)" \
      "$(awk -v a="$(res_w "$k" rps)" -v b="${ngx:-0}" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }')" \
      "$(res_w "$k" load)"
  done
} | column -t -s $'\t'
