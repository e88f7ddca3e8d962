#!/usr/bin/env bash
# Cluster membership timings (issue 3's Benchmark), seed-style nodes in a private namespace:
#   formation of a 3-node and a 9-node cluster: from the start of the last node to every node
#     counting all N alive in /metrics (polled: an upper bound by one polling round, ~10 ms a
#     node);
#   kill -9 of nodeC with no open connection to it: until nodeA (and nodeB) log it dead;
#   kill -9 with an open connection: nodeA also lists nodeC as a static member (its PINGs keep
#     a pooled transport connection open), nodeB does not;
#   SIGSTOP of nodeC: until nodeA (and nodeB) log it dead; SIGCONT, then back to alive.
# Detection runs use the seed's settings (frequency 500 ms, dropTime 3000 ms); each measurement
# is repeated ROUNDS times (default 3). Prints a table beside Tomcat's figures (anchors/tomcat).
#
#   bench/cluster.sh      SESSIOND_BIN=... ROUNDS=3 CLUSTER_FREQ=500 CLUSTER_DROP=3000
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_enter_netns "$@"
source "$BENCH_DIR/cluster_lib.sh"
bench_begin
: "${ROUNDS:=3}"

if ! bench_find_sessiond; then
  echo "no sessiond binary: set SESSIOND_BIN or build build-bench/daemon/sessiond" >&2
  exit 1
fi
for t in jq curl; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
cluster_init
echo "sessiond: $SESSIOND_BIN ($(stat -c %y "$SESSIOND_BIN" | cut -d. -f1)); $(nproc) cores;" \
  "$(date -u +%FT%TZ); frequency $CLUSTER_FREQ ms, dropTime $CLUSTER_DROP ms; load $(bench_load)" >&2

declare -A RES=()   # key -> "v1 v2 v3" (ms)
add() { RES[$1]="${RES[$1]:-} $2"; echo "  $1: $2 ms (load $(bench_load))" >&2; }

# Starts nodes 1..N-1, waits until they see each other, then starts node N and times formation.
formation() {  # N
  local n=$1 i t0
  for i in $(seq 1 $((n - 1))); do cluster_start "$i"; done
  for i in $(seq 1 $((n - 1))); do cluster_wait_up "$i"; done
  cluster_wait 30 cluster_all_alive 1 $((n - 1)) || { echo "the first $((n - 1)) nodes did not form" >&2; return 1; }
  t0=$(now_ms)
  cluster_start "$n"
  cluster_wait 30 cluster_all_alive 1 "$n" || { echo "$n nodes did not form" >&2; return 1; }
  add "form$n" $(( $(now_ms) - t0 ))
  cluster_stop_all
}

# Signals node 3 and waits until nodes 1 and 2 log it dead; records both detection times.
detect() {  # KEY SIGNAL
  local key=$1 sig=$2 t0 a b
  t0=$(now_ms)
  kill -"$sig" "${NODE_PID[3]}"
  dead_on() { [ -n "$(cluster_time_of "$1" nodeC dead "$t0")" ]; }
  cluster_wait $((CLUSTER_DROP / 1000 + 30)) dead_on 1 || { echo "$key: nodeA never saw nodeC dead" >&2; return 1; }
  cluster_wait $((CLUSTER_DROP / 1000 + 30)) dead_on 2 || { echo "$key: nodeB never saw nodeC dead" >&2; return 1; }
  a=$(cluster_time_of 1 nodeC dead "$t0")
  b=$(cluster_time_of 2 nodeC dead "$t0")
  add "$key.A" $((a - t0))
  add "$key.B" $((b - t0))
}
c_alive() { cluster_view 1 | grep -qx 'nodeC alive' && cluster_view 2 | grep -qx 'nodeC alive' && cluster_all_alive 1 3; }

three_nodes() {  # [flags for node A...]
  cluster_start 1 "$@"
  cluster_start 2
  cluster_start 3
  for i in 1 2 3; do cluster_wait_up "$i"; done
  cluster_wait 30 cluster_all_alive 1 3
}

echo "formation, 3 nodes" >&2
for r in $(seq 1 "$ROUNDS"); do formation 3; done
echo "formation, 9 nodes" >&2
for r in $(seq 1 "$ROUNDS"); do formation 9; done

echo "kill -9, no open connection" >&2
three_nodes
for r in $(seq 1 "$ROUNDS"); do
  detect kill 9
  wait "${NODE_PID[3]}" 2>/dev/null || true
  KEEP=1 cluster_start 3; cluster_wait_up 3; cluster_wait 30 c_alive
done
cluster_stop_all

echo "kill -9, nodeA holds an open connection to nodeC" >&2
three_nodes --member 127.0.0.4:4000 --mcast-port 45564
for r in $(seq 1 "$ROUNDS"); do
  sleep 1   # a couple of PINGs over A's pooled connection to C
  detect killconn 9
  wait "${NODE_PID[3]}" 2>/dev/null || true
  KEEP=1 cluster_start 3; cluster_wait_up 3; cluster_wait 30 c_alive
done
cluster_stop_all

echo "SIGSTOP" >&2
three_nodes
for r in $(seq 1 "$ROUNDS"); do
  detect stop STOP
  t1=$(now_ms)
  kill -CONT "${NODE_PID[3]}"
  cluster_wait 30 c_alive
  add cont $(( $(cluster_time_of 1 nodeC alive "$t1") - t1 ))
done
cluster_stop_all

# --- the table ----------------------------------------------------------------------------------
fmt() {  # KEY -> "a / b / c s" (seconds, 2 decimals)
  local v out=""
  for v in ${RES[$1]:-}; do out+="${out:+ / }$(awk -v x="$v" 'BEGIN { printf "%.2f", x / 1000 }')"; done
  echo "${out:-n/a} s"
}
drop_s=$(awk -v d="$CLUSTER_DROP" 'BEGIN { printf "%.1f", d / 1000 }')
cat <<EOF

Cluster membership, $SESSIOND_BIN, $(date -u +%F), load $(bench_load) at the end; frequency $CLUSTER_FREQ ms, dropTime $CLUSTER_DROP ms; $ROUNDS rounds each
| measurement | sessiond (rounds) | Tomcat 10 (anchors) | target |
|---|---|---|---|
| formation, 3 nodes (last start -> all alive everywhere) | $(fmt form3) | ~1 s (2 nodes) | - |
| formation, 9 nodes | $(fmt form9) | - | - |
| kill -9, no open connection: found dead on A | $(fmt kill.A) | 2.76 / 3.36 / 2.83 s | < dropTime + 0.5 s ($drop_s + 0.5) |
| kill -9, no open connection: on B | $(fmt kill.B) | - | same |
| kill -9, A holds an open connection: on A | $(fmt killconn.A) | - | < 0.5 s |
| kill -9, same run: on B (no connection) | $(fmt killconn.B) | - | < dropTime + 0.5 s |
| SIGSTOP: found dead on A | $(fmt stop.A) | 254.8 / 255.1 / 255.4 s | < dropTime + 1 s ($drop_s + 1) |
| SIGSTOP: on B | $(fmt stop.B) | - | same |
| SIGCONT: alive again on A | $(fmt cont) | - | - |
EOF
