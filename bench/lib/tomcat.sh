# shellcheck shell=bash
# Tomcat 10 single node for the bench scripts (sourced after common.sh, inside the namespace).
CATALINA_HOME=/usr/share/tomcat10

tomcat_install_if_missing() {  # outside the namespace (needs the network for apt)
  if [ ! -x "$CATALINA_HOME/bin/catalina.sh" ] && [ "${SESSIOND_IN_NETNS:-}" != 1 ]; then
    echo "installing tomcat10 (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y tomcat10 >/dev/null
    # The package starts a system service where systemd runs; we only want the files.
    systemctl stop tomcat10 2>/dev/null || true
    systemctl disable tomcat10 2>/dev/null || true
  fi
}

# Private CATALINA_BASE under $BENCH_WORK/tomcat, catalina run in the background; sets
# TOMCAT_PID and TOMCAT_URL (.../myapp), records tomcat.startup_ms; waits until it serves.
tomcat_start() {  # [IP] [PORT]
  local ip=${1:-127.0.0.42} port=${2:-8080} route=tomcatA
  local b=$BENCH_WORK/tomcat
  mkdir -p "$b"/{conf,logs,temp,work,webapps}
  cp "$CATALINA_HOME"/etc/{catalina.properties,context.xml,logging.properties,web.xml,tomcat-users.xml,jaspic-providers.xml} "$b/conf/"
  cp -r "$BENCH_DIR/tomcat/myapp" "$b/myapp"
  sed -e "s#@IP@#$ip#g" -e "s#@PORT@#$port#g" -e "s#@ROUTE@#$route#g" -e "s#@APPDIR@#$b/myapp#g" \
      -e "s#@APPBASE@#$b/webapps#g" "$BENCH_DIR/tomcat/server-single.xml.tmpl" >"$b/conf/server.xml"
  local version
  version=$("$CATALINA_HOME/bin/version.sh" 2>/dev/null | awk -F': *' '/Server number/ {print $2}' || true)
  echo "Tomcat ${version:-10} single node on $ip:$port, $(java -version 2>&1 | head -1)" >&2
  local t0
  t0=$(date +%s%N)
  env CATALINA_HOME="$CATALINA_HOME" CATALINA_BASE="$b" CATALINA_TMPDIR="$b/temp" \
    CATALINA_OPTS="-Dnode.name=$route -Djava.net.preferIPv4Stack=true ${TOMCAT_OPTS:-}" \
    "$CATALINA_HOME/bin/catalina.sh" run >"$b/logs/catalina.out" 2>&1 &
  TOMCAT_PID=$!
  bench_track "$TOMCAT_PID"
  TOMCAT_URL=http://$ip:$port/myapp
  if ! wait_http "$TOMCAT_URL/session.jsp" 120; then
    tail -30 "$b/logs/catalina.out" >&2
    return 1
  fi
  bench_metric tomcat.startup_ms $(( ($(date +%s%N) - t0) / 1000000 )) ms "exec to first served request (coarse: curl poll every 50 ms)"
}
