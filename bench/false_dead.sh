#!/usr/bin/env bash
# False `dead` under load (issue 3's target: zero over a 10-minute run of 9 nodes with the
# machine loaded). Nine seed-style nodes (frequency 500 ms, dropTime 3000 ms unless CLUSTER_FREQ /
# CLUSTER_DROP say otherwise) in a private namespace; for M minutes the machine runs two busy
# shell loops and `wrk -t1 -c16` against nodeA's GET /myapp/.session (with a session cookie).
# No node is ever killed, so every `dead` transition in any node's event log at the end is false.
# Prints false_dead=N, plus suspects (suspect transitions that recovered) and the largest
# heartbeat lag any node saw.
#
#   bench/false_dead.sh [--minutes M]     SESSIOND_BIN=... NODES=9
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_enter_netns "$@"
source "$BENCH_DIR/cluster_lib.sh"
MINUTES=10
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes M]" >&2; exit 2 ;;
  esac
done
: "${NODES:=9}"
bench_begin
bench_find_sessiond || { echo "no sessiond binary: set SESSIOND_BIN" >&2; exit 1; }
cluster_init

echo "sessiond: $SESSIOND_BIN; $NODES nodes, frequency $CLUSTER_FREQ ms, dropTime $CLUSTER_DROP ms;" \
  "$MINUTES min; $(date -u +%FT%TZ); uptime: $(uptime)" >&2
CLUSTER_APP=1
for i in $(seq 1 "$NODES"); do cluster_start "$i"; done
for i in $(seq 1 "$NODES"); do cluster_wait_up "$i"; done
cluster_wait 60 cluster_all_alive 1 "$NODES" || { echo "the cluster did not form" >&2; exit 1; }
t0=$(now_ms)
echo "formed; loading the machine for $MINUTES min" >&2

for _ in 1 2; do
  bash -c 'while :; do :; done' &
  bench_track $!
done
url="http://$(node_ip 1):8080/myapp/.session"
cookie=$(bench_new_cookie "$url")
wrk -t1 -c16 -d"${MINUTES}m" -H "Cookie: $cookie" "$url" >"$BENCH_WORK/wrk.txt" 2>&1 &
WRK_PID=$!
bench_track $WRK_PID
loads=()
end=$(( $(now_ms) + MINUTES * 60000 ))
while (( $(now_ms) < end )); do
  sleep 30
  loads+=("$(bench_load)")
  echo "  $(date -u +%T) load $(bench_load)" >&2
done
wait "$WRK_PID" 2>/dev/null || true
for p in "${BENCH_PIDS[@]}"; do
  case " ${NODE_PID[*]} " in *" $p "*) ;; *) kill "$p" 2>/dev/null || true ;; esac
done

dead=0 suspect=0 lag=0
for i in $(seq 1 "$NODES"); do
  kill -0 "${NODE_PID[$i]}" 2>/dev/null || echo "warning: $(node_name "$i") is not running" >&2
  tr=$(cluster_transitions "$i" | awk -v a="$t0" '$1 >= a')
  d=$(awk '$3 == "dead"' <<<"$tr" | grep -c . || true)
  s=$(awk '$3 == "suspect"' <<<"$tr" | grep -c . || true)
  [ "$d" -eq 0 ] || { echo "$(node_name "$i") logged dead:" >&2; awk '$3 == "dead"' <<<"$tr" >&2; }
  dead=$((dead + d)); suspect=$((suspect + s))
  l=$(curl -s "http://$(node_ip "$i"):8099/metrics" | awk '/^sessiond_heartbeat_lag_seconds/ { print $2 }')
  lag=$(awk -v a="$lag" -v b="${l:-0}" 'BEGIN { print (b > a) ? b : a }')
done
rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$BENCH_WORK/wrk.txt")
echo "load1 during the run: ${loads[*]}" >&2
echo "wrk on nodeA: ${rps:-?} req/s" >&2
echo "suspect_transitions=$suspect max_heartbeat_lag_s=$lag"
echo "false_dead=$dead"
