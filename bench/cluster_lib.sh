# Helpers for bench/cluster.sh and bench/false_dead.sh (sourced after lib/common.sh, inside the
# namespace): seed-style nodes on 127.0.0.x and what their event logs say.
#
# Node i (1-based) is node<letter> on 127.0.0.$((i+1)): nodeA 127.0.0.2, nodeB .3, ... nodeI .10.
# Each is made from tests/data/seed-server-fixed.xml as the e2e tests make theirs: jvmRoute,
# Receiver address, <Sessiond adminAddress tokenFile>, the tutorial's Context removed, Deployer
# dirs under the base dir, Membership frequency/dropTime as asked and `bind` empty.
# Times are read from the nodes' event logs (each transition's timestamp), so the 50 ms polling
# does not add to them.

SEED_XML="$REPO_DIR/tests/data/seed-server-fixed.xml"
: "${CLUSTER_FREQ:=500}"
: "${CLUSTER_DROP:=3000}"
declare -A NODE_PID=()

node_name() { local l=ABCDEFGHIJKLMNOPQRSTUVWXYZ; echo "node${l:$(($1 - 1)):1}"; }   # 1 -> nodeA
node_ip() { echo "127.0.0.$(($1 + 1))"; }
now_ms() { date +%s%3N; }

cluster_init() {  # shared token for every node's admin endpoint
  CLUSTER_TOKEN_FILE=$BENCH_WORK/admin.token
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CLUSTER_TOKEN_FILE"
  chmod 600 "$CLUSTER_TOKEN_FILE"
  CLUSTER_TOKEN=$(cat "$CLUSTER_TOKEN_FILE")
}

# Writes BASE/conf/server.xml for node I with the current CLUSTER_FREQ/CLUSTER_DROP.
cluster_node_xml() {  # I BASE
  local i=$1 base=$2 name ip
  name=$(node_name "$i")
  ip=$(node_ip "$i")
  mkdir -p "$base/conf" "$base/webapps"
  sed -e "s|<Server port=\"8005\" shutdown=\"SHUTDOWN\">|&\n<Sessiond adminAddress=\"$ip\" tokenFile=\"$CLUSTER_TOKEN_FILE\" logLevel=\"info\"/>|" \
      -e "s|jvmRoute=\"tomcatA\"|jvmRoute=\"$name\"|" \
      -e '\|<Context path="/myapp"|d' \
      -e "s|^frequency=\"500\"|frequency=\"$CLUSTER_FREQ\"|" \
      -e "s|^dropTime=\"3000\"/>|dropTime=\"$CLUSTER_DROP\"\nbind=\"\"/>|" \
      -e "s|address=\"192.168.0.42\"|address=\"$ip\"|" \
      -e 's|"/tmp/war-\([a-z]*\)/"|"war-\1/"|' \
      "$SEED_XML" >"$base/conf/server.xml"
  grep -q "jvmRoute=\"$name\"" "$base/conf/server.xml" && grep -q "dropTime=\"$CLUSTER_DROP\"" "$base/conf/server.xml" ||
    { echo "cluster_node_xml: the seed changed; fix the sed" >&2; return 1; }
}

# Starts node I on a fresh (or, with KEEP=1, its existing) base dir; extra sessiond flags after.
# Returns at once; cluster_wait_up waits for its admin endpoint.
cluster_start() {  # I [flags...]
  local i=$1 base=$BENCH_WORK/$(node_name "$1")
  shift
  if [ -z "${KEEP:-}" ]; then
    rm -rf "$base"
    cluster_node_xml "$i" "$base"
    [ -z "${CLUSTER_APP:-}" ] || cp -r "$BENCH_DIR/app/myapp" "$base/webapps/myapp"
  fi
  "$SESSIOND_BIN" --config "$base/conf/server.xml" --base-dir "$base" \
    --http-address "$(node_ip "$i")" "$@" >>"$base/sessiond.log" 2>&1 &
  NODE_PID[$i]=$!
  bench_track "${NODE_PID[$i]}"
}
cluster_wait_up() {  # I
  wait_http "http://$(node_ip "$1"):8099/healthz" 20 || { tail -20 "$BENCH_WORK/$(node_name "$1")/sessiond.log" >&2; return 1; }
}
cluster_stop_all() {
  local i
  for i in "${!NODE_PID[@]}"; do bench_stop "${NODE_PID[$i]}"; done
  NODE_PID=()
}

# Every event of node I, one compact JSON object per line, oldest first.
cluster_events() {  # I
  local ip since=0 page next
  ip=$(node_ip "$1")
  while :; do
    page=$(curl -s -m 5 -H "Authorization: Bearer $CLUSTER_TOKEN" \
      "http://$ip:8099/v1/events?limit=1000&since=$since") || return 0
    jq -c '.items[]?' <<<"$page"
    next=$(jq -r '.next_since // 0' <<<"$page")
    if [ "$(jq '.items | length' <<<"$page")" -lt 1000 ] || [ "$next" -le "$since" ]; then return 0; fi
    since=$next
  done
}

# Membership events of node I as "TIME_MS MEMBER STATE" lines.
cluster_transitions() {  # I
  cluster_events "$1" | jq -r 'select(.kind == "membership") |
    "\((.time | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) * 1000 + (.time | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber)) \(.node) \(.fields.state)"'
}

# Each member's latest state on node I: "MEMBER STATE" lines.
cluster_view() {  # I
  cluster_transitions "$1" | awk '{ s[$2] = $3 } END { for (m in s) print m, s[m] }'
}

# The first time (ms) at or after AFTER that node I saw MEMBER enter STATE; empty if never.
cluster_time_of() {  # I MEMBER STATE AFTER
  cluster_transitions "$1" | awk -v m="$2" -v s="$3" -v a="$4" '$2 == m && $3 == s && $1 >= a { print $1; exit }'
}

# sessiond_members{state="alive"} of node I (itself included), from /metrics: the membership
# table's own count. (A node's event log can miss a member that joined while the node was still
# starting, so views built from events are not used to decide formation.)
cluster_alive_count() {  # I
  curl -s -m 2 "http://$(node_ip "$1"):8099/metrics" |
    awk '/^sessiond_members\{state="alive"\}/ { print $2; found = 1 } END { if (!found) print -1 }'
}

# True when each of nodes FIRST..LAST counts LAST-FIRST+1 alive (no other nodes run then).
cluster_all_alive() {  # FIRST LAST
  local k want=$(($2 - $1 + 1))
  for k in $(seq "$1" "$2"); do
    [ "$(cluster_alive_count "$k")" = "$want" ] || return 1
  done
}

# Waits (polling every 50 ms, up to SECONDS) until CMD... succeeds.
cluster_wait() {  # SECONDS CMD...
  local limit=$1 start
  shift
  start=$(now_ms)
  until "$@"; do
    (( $(now_ms) - start > limit * 1000 )) && return 1
    sleep 0.05
  done
}
