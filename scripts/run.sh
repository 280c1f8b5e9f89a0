#!/usr/bin/env bash
# Runs every service as its own local process (like the Go binaries), against local
# PostgreSQL, Redis and NATS; scripts/services.sh installs and starts those when missing.
# Ctrl-C stops them all. Logs go to $MF_RUNDEV_LOGS (default ./build/rundev-logs); the
# signing secret is kept in $MF_RUNDEV_DATA (default ./build/rundev), readable by you only.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/services.sh >/dev/null
BIN=.venv/bin
LOGS=${MF_RUNDEV_LOGS:-build/rundev-logs}
DATA=${MF_RUNDEV_DATA:-build/rundev}
umask 077
mkdir -p "$LOGS" "$DATA"

# One database per service, as Mainflux has them.
for db in users authn things messages bootstrap; do
  PGPASSWORD=mainflux psql -qtAX -h 127.0.0.1 -U mainflux -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
    PGPASSWORD=mainflux psql -qtAX -h 127.0.0.1 -U mainflux -d postgres -c "CREATE DATABASE $db"
done

# authn signs tokens with MF_AUTHN_SECRET (32 bytes at least, no default). Unless it is
# set, 32 random bytes are generated once into $DATA/authn.secret (mode 0600), so tokens
# stay valid across runs.
SECRET_FILE=$DATA/authn.secret
if [ -z "${MF_AUTHN_SECRET:-}" ]; then
  if [ ! -s "$SECRET_FILE" ]; then
    head -c 32 /dev/urandom | base64 -w0 >"$SECRET_FILE.tmp"
    mv "$SECRET_FILE.tmp" "$SECRET_FILE"
  fi
  chmod 600 "$SECRET_FILE"
  MF_AUTHN_SECRET=$(cat "$SECRET_FILE")
  SECRET_FROM="$SECRET_FILE"
else
  SECRET_FROM="MF_AUTHN_SECRET"
fi
export MF_AUTHN_SECRET
export MF_NATS_URL=${MF_NATS_URL:-nats://localhost:4222}
export MF_LOG_LEVEL=${MF_LOG_LEVEL:-info}
export MF_AUTHN_GRPC_URL=${MF_AUTHN_GRPC_URL:-localhost:8181}
export MF_THINGS_AUTH_GRPC_URL=${MF_THINGS_AUTH_GRPC_URL:-localhost:8183}
export MF_THINGS_ES_URL=${MF_THINGS_ES_URL:-localhost:6379}
export MF_THINGS_URL=${MF_THINGS_URL:-http://localhost:8182}
export MF_MQTT_ADAPTER_MQTT_PORT=${MF_MQTT_ADAPTER_MQTT_PORT:-1883}
export MF_MQTT_ADAPTER_WS_PORT=${MF_MQTT_ADAPTER_WS_PORT:-8080}
export MF_MQTT_ADAPTER_INSTANCE=${MF_MQTT_ADAPTER_INSTANCE:-mqtt-adapter-1}
# bootstrap: things over HTTP with the user's token, authn over gRPC, its events and the
# things events it follows in Redis. provision: users, things and bootstrap over HTTP.
export MF_SDK_BASE_URL=${MF_SDK_BASE_URL:-http://localhost:8182}
export MF_BOOTSTRAP_ES_URL=${MF_BOOTSTRAP_ES_URL:-localhost:6379}
export MF_PROVISION_USERS_LOCATION=${MF_PROVISION_USERS_LOCATION:-http://localhost:8180}
export MF_PROVISION_THINGS_LOCATION=${MF_PROVISION_THINGS_LOCATION:-http://localhost:8182}
export MF_PROVISION_BS_SVC_URL=${MF_PROVISION_BS_SVC_URL:-http://localhost:8202/things}

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping ${#pids[@]} services"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

start() {
  local name=$1
  "$BIN/mainflux-$name" >"$LOGS/$name.log" 2>&1 &
  pids+=("$!")
  echo "started mainflux-$name (pid $!, log $LOGS/$name.log)"
}

start authn
sleep 1
start users
start things
sleep 1
start http
start ws
start mqtt
start coap
start postgres-writer
start postgres-reader
start bootstrap
start provision

cat <<MSG
Mainflux services (authn signing secret from $SECRET_FROM):
  users   http://localhost:8180      authn   http://localhost:8189 (gRPC 8181)
  things  http://localhost:8182      things auth http://localhost:8989 (gRPC 8183)
  http    http://localhost:8185      ws      ws://localhost:8186
  mqtt    mqtt://localhost:$MF_MQTT_ADAPTER_MQTT_PORT (ws :$MF_MQTT_ADAPTER_WS_PORT/mqtt)
  coap    coap://localhost:5683 (udp; /version, /metrics over http on tcp 5683)
  reader  http://localhost:9204      writer  http://localhost:9104
  bootstrap http://localhost:8202    provision http://localhost:8091
Ctrl-C stops them all.
MSG
# A service that dies is reported; the others keep running (restart it by hand with
# the same environment, e.g. after a change) until Ctrl-C.
running=("${pids[@]}")
while [ ${#running[@]} -gt 0 ]; do
  gone=""
  wait -n -p gone "${running[@]}" || true
  [ -n "$gone" ] || break
  echo "pid $gone exited; see $LOGS" >&2
  for i in "${!running[@]}"; do [ "${running[$i]}" = "$gone" ] && unset 'running[i]'; done
  running=("${running[@]}")
done
