#!/usr/bin/env bash
# Prints the issue-2 table from $BENCH_RESULTS (written by node.sh, and tomcat.sh when
# compare.sh ran both): our figure, the reference, the target, met or not.
set -euo pipefail
source "$(dirname "$0")/common.sh"
: "${BENCH_RESULTS:?}"

row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
verdict() {  # VALUE OP LIMIT  -> met / NOT met / ?
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "" || v == "-" || v == "?") { print "?"; exit }
    ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 < l + 0); print ok ? "met" : "NOT met" }'
}
fmt() { awk -v v="$1" 'BEGIN { if (v == "") { print "-"; exit } s = sprintf("%d", v); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }

declare -A anchor=([a]="25,500-30,800 (anchors 2c touch.jsp, other day)" [b]="25,500-30,800 (anchors 2c, other day)" [d]="24,200-29,300 (anchors 2d, other day)")
{
  row "measure" "sessiond" "p99 ms" "reference" "target" "result"
  for w in a b d; do
    ours=$(res_w node.$w rps)
    tc=$(res_w tomcat.$w rps)
    label=$(res_w node.$w label)
    if [ -n "$tc" ]; then
      r=$(ratio "$ours" "$tc")
      row "$label, req/s" "$(fmt "$ours")" "$(res_w node.$w p99)" "Tomcat $(fmt "$tc") (p99 $(res_w tomcat.$w p99)), same run" \
        ">= 1.5x Tomcat" "${r}x $(verdict "$r" '>=' 1.5)"
    else
      row "$label, req/s" "$(fmt "$ours")" "$(res_w node.$w p99)" "Tomcat ${anchor[$w]}" ">= 1.5x Tomcat" "run compare.sh"
    fi
  done
  ours=$(res_w node.c rps); ngx=$(res_w nginx.c rps); r=$(ratio "$ours" "$ngx")
  row "(c) 1 KB static file, req/s" "$(fmt "$ours")" "$(res_w node.c p99)" "nginx $(fmt "$ngx") (p99 $(res_w nginx.c p99)), same run" \
    ">= 80% of nginx" "$(awk -v r="$r" 'BEGIN { if (r == "-") print "-"; else printf "%.0f%%", 100 * r }') $(verdict "$r" '>=' 0.8)"
  ours=$(res_w node.const rps); ngx=$(res_w nginx.const rps); r=$(ratio "$ours" "$ngx")
  row "connector: 50-byte file vs constant reply" "$(fmt "$ours")" "$(res_w node.const p99)" "nginx return 200 $(fmt "$ngx"), same run" \
    ">= 60% of nginx" "$(awk -v r="$r" 'BEGIN { if (r == "-") print "-"; else printf "%.0f%%", 100 * r }') $(verdict "$r" '>=' 0.6)"
  ours=$(res_w node.a_idle rps); base=$(res_w node.a_noidle rps); r=$(ratio "$ours" "$base")
  row "(a) with $(res_m idle.open_at_end) idle conns open, req/s" "$(fmt "$ours")" "$(res_w node.a_idle p99)" "(a) just before, without them: $(fmt "$base")" \
    "-" "$(awk -v r="$r" 'BEGIN { if (r == "-") print "-"; else printf "%.0f%% of (a)", 100 * r }')"
  t0=$(res_w node.a_noidle threads); t1=$(res_m idle.threads)
  row "threads with the idle conns" "$t1" "" "without them: $t0" "no thread per connection" \
    "$(awk -v a="$t1" -v b="$t0" 'BEGIN { if (a == "" || b == "") print "?"; else print (a + 0 <= b + 0) ? "met" : "NOT met" }')"
  v=$(res_m idle.rss_mb)
  row "RSS with the idle conns, MB" "$v" "" "opening them added $(res_m idle.rss_delta_mb) MB" "< 100 MB" "$(verdict "$v" '<' 100)"
  v=$(res_m mem.bytes_per_session)
  row "RSS per ~1 KB session, bytes" "$(fmt "$v")" "" "Tomcat 4.3 KB (anchors, other day)" "< 1.5 KB (1536 B)" "$(verdict "$v" '<' 1536)"
  v=$(res_m startup.ms); tc=$(res_m tomcat.startup_ms)
  if [ -n "$tc" ]; then ref="Tomcat $(fmt "$tc") ms (same run; curl poll)"; else ref="Tomcat 1,800-4,500 ms (anchors)"; fi
  row "start-up to serving, ms" "$v" "" "$ref" "< 100 ms" "$(verdict "$v" '<' 100)"
} | column -t -s $'\t'
