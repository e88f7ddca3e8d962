#!/usr/bin/env bash
# One run, one namespace: Tomcat 10 single node (bench/tomcat.sh), then sessiond (bench/node.sh),
# then the issue-2 table with ratios measured in this run. Figures move ±15% from run to run on
# this shared 2-core machine, so only ratios from one run mean anything.
#
#   bench/compare.sh                 CONNECTOR=1 also runs bench/connector.sh at the end
#   BENCH_RAW_DIR=DIR                keeps every wrk transcript
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_enter_netns "$@"
bench_init_results
export BENCH_NO_TABLE=1
if ! bench_find_sessiond; then
  echo "no sessiond binary yet; build it first (see bench/README.md)" >&2
  exit 1
fi
echo "== compare: $(date -u +%FT%TZ), $(nproc) cores, load at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "== Tomcat 10 single node" >&2
"$BENCH_DIR/tomcat.sh"
echo "== sessiond single node" >&2
"$BENCH_DIR/node.sh"
if [ -n "${CONNECTOR:-}" ]; then
  echo "== connector comparison" >&2
  "$BENCH_DIR/connector.sh"
fi
echo
echo "Tomcat 10 single node (same run):"
{
  printf 'workload\treq/s\tp50 ms\tp99 ms\terrors\tload1\n'
  awk -F'\t' '$1 == "W" && $2 ~ /^tomcat\./ { printf "%s\t%s\t%s\t%s\t%s\t%s\n", $3, $5, $6, $7, $8, $9 }' "$BENCH_RESULTS"
} | column -t -s $'\t'
echo
echo "sessiond single node (same run):"
{
  printf 'workload\tthreads\treq/s\tp50 ms\tp99 ms\terrors\tload1\n'
  awk -F'\t' '$1 == "W" && ($2 ~ /^node\./ || $2 ~ /^nginx\./) { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $3, $4, $5, $6, $7, $8, $9 }' "$BENCH_RESULTS"
} | column -t -s $'\t'
echo
echo "Issue 2 targets:"
"$BENCH_DIR/lib/node_table.sh"
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg); results: $BENCH_RESULTS"
