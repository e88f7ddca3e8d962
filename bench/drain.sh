#!/usr/bin/env bash
# Drain (issue 5's Benchmark: "time from `drain` to `drained` under load"). Three seed-style nodes
# (bench/cluster_lib.sh: nodeA/B/C on 127.0.0.2-4, frequency 500 ms, the bench app) behind nginx
# (examples/nginx-3node.conf as shipped) in a private namespace. For each grace in GRACES, TRIALS
# times: wrk -t1 -c16 through nginx on GET /myapp/.session with no cookie (a new session per
# request: every request is a write that replicates), and 2 s into it
# `sessctl drain nodeB --grace G --wait` from nodeA's endpoint; then undrain and settle.
# Reports per grace:
#   node       nodeB's own measure, command -> drained (sessiond_drain_duration_seconds): the
#              grace + waiting for running requests + the acknowledged replication flush;
#   over grace that minus the grace: what draining itself costs under load;
#   forward    how long nodeA's endpoint took to answer the drain and the undrain command (each
#              forwarded to nodeB over the cluster and answered by it: while the cluster
#              replicates the load, this is what a control message waits behind);
#   sessctl    the wall time from the drain command to `sessctl drain --wait` returning on nodeA
#              (adds heartbeat propagation: nodeA learns the mode from nodeB's next heartbeat,
#              up to `frequency`);
#   failed     drain commands that failed (sessctl's exit code; the trial is then drained again
#              without --grace), and wrk's non-2xx answers + socket errors over every trial
#              (the target is 0).
#
#   bench/drain.sh     SESSIOND_BIN=... GRACES="0s 1s 5s" TRIALS=5 WRK_LOAD_S=8
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_enter_netns "$@"
source "$BENCH_DIR/cluster_lib.sh"
bench_begin
bench_find_sessiond || { echo "no sessiond binary: set SESSIOND_BIN" >&2; exit 1; }
: "${SESSCTL_BIN:=$(dirname "$SESSIOND_BIN")/../ctl/sessctl}"
: "${GRACES:=0s 1s 5s}"
: "${TRIALS:=5}"
: "${WRK_LOAD_S:=8}"
cluster_init

echo "sessiond: $SESSIOND_BIN; 3 nodes behind nginx; graces $GRACES; $TRIALS trials;" \
  "$(date -u +%FT%TZ); uptime: $(uptime)" >&2
CLUSTER_APP=1
for i in 1 2 3; do cluster_start "$i"; done
for i in 1 2 3; do cluster_wait_up "$i"; done
cluster_wait 60 cluster_all_alive 1 3 || { echo "the cluster did not form" >&2; exit 1; }

NGX=$BENCH_WORK/nginx
mkdir -p "$NGX/logs" "$NGX/temp"
nginx -p "$NGX/" -c "$REPO_DIR/examples/nginx-3node.conf" -e logs/error.log \
  -g 'daemon off; master_process off;' >"$NGX/logs/stdout.log" 2>&1 &
bench_track $!
wait_http "http://127.0.0.1:8089/myapp/c50.json" 10 || { cat "$NGX/logs/error.log" >&2; exit 1; }

sessctl_a() { SESSCTL_TOKEN_FILE=$CLUSTER_TOKEN_FILE "$SESSCTL_BIN" --timeout 60s -e "http://$(node_ip 1):8099" "$@"; }
drain_metric() {
  { curl -s -m 10 "http://$(node_ip 2):8099/metrics" || true; } | awk '/^sessiond_drain_duration_seconds / { print $2 * 1000 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { sort -n | tail -1; }
# The non-empty values, one a line; nothing (not a failure: set -e, pipefail) when every trial of
# a grace failed.
values() { printf '%s\n' "$@" | grep . || true; }

declare -A NODE_MS=() WAIT_MS=() FWD_MS=() FAILED=() LOADS=() CMD_ERRORS=()
for grace in $GRACES; do
  node_ms=() wait_ms=() fwd_ms=() failed=0 cmd_errors=0
  for t in $(seq 1 "$TRIALS"); do
    raw=$BENCH_WORK/wrk-$grace-$t.txt
    wrk -t1 -c16 -d"${WRK_LOAD_S}s" http://127.0.0.1:8089/myapp/.session >"$raw" 2>&1 &
    wrk_pid=$!
    sleep 2
    t0=$(now_ms)
    # The command alone (answered once nodeB took it), then a second one that waits: already
    # draining, it changes nothing and polls nodeA's member table until nodeB is drained.
    if sessctl_a drain nodeB --grace "$grace" >/dev/null; then
      fwd_ms+=($(($(now_ms) - t0)))
      sessctl_a drain nodeB --wait >/dev/null && wait_ms+=($(($(now_ms) - t0)))
    else
      cmd_errors=$((cmd_errors + 1))  # e.g. the forwarded command timed out behind a lagging loop
      sessctl_a drain nodeB --wait >/dev/null 2>&1 || true
    fi
    node_ms+=("$(drain_metric)")
    LOADS[$grace]="${LOADS[$grace]:-} $(bench_load)"
    wait "$wrk_pid" || true
    n=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$raw")
    e=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$raw")
    failed=$((failed + ${n:-0} + ${e:-0}))
    t0=$(now_ms)
    if sessctl_a undrain nodeB >/dev/null; then  # its error, if any, on stderr like the drain's
      fwd_ms+=($(($(now_ms) - t0)))
    else
      cmd_errors=$((cmd_errors + 1))
      until sessctl_a undrain nodeB >/dev/null 2>&1; do sleep 1; done
    fi
    sleep 1
  done
  g_ms=$(awk -v g="$grace" 'BEGIN { n = g + 0; if (g ~ /ms$/) print n; else print n * 1000 }')
  NODE_MS[$grace]="$(printf '%s\n' "${node_ms[@]}" | median) / $(printf '%s\n' "${node_ms[@]}" | maxof)"
  over=() ; for v in "${node_ms[@]}"; do over+=($(awk -v v="$v" -v g="$g_ms" 'BEGIN { printf "%.0f", v - g }')); done
  NODE_MS[$grace]+=" | $(printf '%s\n' "${over[@]}" | median) / $(printf '%s\n' "${over[@]}" | maxof)"
  WAIT_MS[$grace]="$(values "${wait_ms[@]}" | median) / $(values "${wait_ms[@]}" | maxof)"
  FWD_MS[$grace]="$(values "${fwd_ms[@]}" | median) / $(values "${fwd_ms[@]}" | maxof)"
  FAILED[$grace]=$failed
  CMD_ERRORS[$grace]=$cmd_errors
  bench_metric "drain_${grace}_node_ms" "$(printf '%s\n' "${node_ms[@]}" | median)" ms "median of $TRIALS"
  bench_metric "drain_${grace}_forward_ms" "$(values "${fwd_ms[@]}" | median)" ms "drain + undrain commands, median"
done

echo
echo "| grace | node: command -> drained, median / max (ms) | over the grace, median / max (ms) | forward: drain/undrain answered, median / max (ms) | sessctl drain --wait, median / max (ms) | drain commands that failed | failed client requests | load1 |"
echo "|---|---|---|---|---|---|---|---|"
for grace in $GRACES; do
  IFS='|' read -r node over <<<"${NODE_MS[$grace]}"
  echo "| $grace | ${node% } | ${over# } | ${FWD_MS[$grace]} | ${WAIT_MS[$grace]} | ${CMD_ERRORS[$grace]} | ${FAILED[$grace]} | ${LOADS[$grace]# } |"
done
