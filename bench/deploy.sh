#!/usr/bin/env bash
# Farm deploy (issue 5's Benchmark): three seed-style nodes (bench/cluster_lib.sh: nodeA/B/C on
# 127.0.0.2-4) in a private namespace; for each size in SIZES_MB, TRIALS times: a WAR of that size
# (one incompressible payload entry + index.html naming the trial) is deployed with
# `sessctl deploy --wait` through nodeA's endpoint, then nodeC is asked for the new index.html.
# Reports per size: the wall time of `sessctl deploy --wait` (upload, validate, unpack, store on
# A; every member pulls, verifies, unpacks and reports back) and of deploy -> served on nodeC,
# median / max, beside Tomcat FarmWarDeployer's 14 s drop -> served on the second node (10 MB).
#
#   bench/deploy.sh     SESSIOND_BIN=... SIZES_MB="1 10 50" TRIALS=3
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_enter_netns "$@"
source "$BENCH_DIR/cluster_lib.sh"
bench_begin
bench_find_sessiond || { echo "no sessiond binary: set SESSIOND_BIN" >&2; exit 1; }
: "${SESSCTL_BIN:=$(dirname "$SESSIOND_BIN")/../ctl/sessctl}"
: "${SIZES_MB:=1 10 50}"
: "${TRIALS:=3}"
cluster_init

echo "sessiond: $SESSIOND_BIN; 3 nodes; sizes $SIZES_MB MB; $TRIALS trials; $(date -u +%FT%TZ);" \
  "uptime: $(uptime)" >&2
for i in 1 2 3; do cluster_start "$i"; done
for i in 1 2 3; do cluster_wait_up "$i"; done
cluster_wait 60 cluster_all_alive 1 3 || { echo "the cluster did not form" >&2; exit 1; }

sessctl_a() { SESSCTL_TOKEN_FILE=$CLUSTER_TOKEN_FILE "$SESSCTL_BIN" --timeout 120s -e "http://$(node_ip 1):8099" "$@"; }
make_war() {  # OUT SIZE_MB MARK
  python3 - "$@" <<'PY'
import os, sys, zipfile
out, size_mb, mark = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
    z.writestr("index.html", "<p>" + mark + "</p>\n")
    z.writestr("payload.bin", os.urandom(size_mb << 20))
PY
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { sort -n | tail -1; }

declare -A DEPLOY=() SERVED=() FAILS=()
for mb in $SIZES_MB; do
  deploy_ms=() served_ms=() fails=0
  for t in $(seq 1 "$TRIALS"); do
    mark="size-$mb-trial-$t-$RANDOM"
    war=$BENCH_WORK/farmbench.war
    make_war "$war" "$mb" "$mark"
    t0=$(now_ms)
    if ! sessctl_a deploy "$war" --wait --wait-timeout 120s >"$BENCH_WORK/deploy-$mb-$t.txt" 2>&1; then
      fails=$((fails + 1))
      cat "$BENCH_WORK/deploy-$mb-$t.txt" >&2
    fi
    deploy_ms+=($(($(now_ms) - t0)))
    until curl -s -m 2 "http://$(node_ip 3):8080/farmbench/index.html" | grep -q "$mark"; do
      (( $(now_ms) - t0 > 120000 )) && { fails=$((fails + 1)); break; }
      sleep 0.01
    done
    served_ms+=($(($(now_ms) - t0)))
    echo "  $mb MB trial $t: deploy --wait ${deploy_ms[-1]} ms, served on nodeC ${served_ms[-1]} ms (load $(bench_load))" >&2
  done
  DEPLOY[$mb]="$(printf '%s\n' "${deploy_ms[@]}" | median) / $(printf '%s\n' "${deploy_ms[@]}" | maxof)"
  SERVED[$mb]="$(printf '%s\n' "${served_ms[@]}" | median) / $(printf '%s\n' "${served_ms[@]}" | maxof)"
  FAILS[$mb]=$fails
done

echo
echo "Farm deploy to 3 nodes, $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-28s %-28s %-8s %-22s %s\n' size "deploy --wait ms (med/max)" "served on nodeC ms (med/max)" failed target Tomcat
for mb in $SIZES_MB; do
  tgt=-; [ "$mb" = 10 ] && tgt="< 1000 ms"; [ "$mb" = 50 ] && tgt="< 2000 ms"
  tc=-; [ "$mb" = 10 ] && tc="14 s drop -> served (B)"
  printf '%-8s %-28s %-28s %-8s %-22s %s\n' "${mb} MB" "${DEPLOY[$mb]}" "${SERVED[$mb]}" "${FAILS[$mb]}" "$tgt" "$tc"
done
