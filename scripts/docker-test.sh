#!/usr/bin/env bash
# Builds the images and runs them as a user would (`make docker-test`), with Docker or
# Podman and no registry needed (scripts/docker-base.sh makes a base image when none
# can be pulled):
#
#   1. the all-in-one on a named volume: a user, a thing, a channel and a message; the
#      container is stopped (SIGTERM must end it cleanly) and recreated on the same
#      volume, and everything is still there; `make cleandocker` removes the container
#      and the image and keeps the volume; `make cleandocker pv=true` removes the volume;
#   2. the microservice images on the host network, against this machine's PostgreSQL
#      (fresh databases, dropped afterwards) and a NATS and a Redis of their own:
#      publish over HTTP, MQTT and CoAP, the writer stores, the reader serves; a bootstrap
#      config for the thing, fetched by the device with its external id and key and
#      activated; a gateway provisioned (POST /mapping) that bootstraps; the web console
#      serves its login page; every service stops cleanly on SIGTERM.
#
# Every container runs under this script's cgroup (--cgroup-parent) and is removed on
# exit, as are the test's tags, volumes, databases and servers. Prints the time of each
# step. Needs PostgreSQL with the `mainflux` role, nats-server, redis-server,
# mosquitto_pub and libcoap's coap-client (scripts/services.sh installs them); without
# Docker or Podman, installs Podman (with runc and debootstrap) from apt.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; } &&
  ! command -v podman >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "docker-test: installing podman, runc and debootstrap"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq podman runc debootstrap >/dev/null
fi
eval "$(scripts/container-engine.sh)"
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
probe() { "$PY" scripts/docker_probe.py "$@"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
free_ports() {  # free_ports N: N distinct free ports (all held open until all are chosen)
  "$PY" -c 'import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}
binary() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } ||
  { echo "docker-test: $1 is missing (scripts/services.sh installs it)" >&2; exit 1; }; }
NATS_SERVER=$(binary nats-server)
REDIS_SERVER=$(binary redis-server)
MOSQUITTO_PUB=$(binary mosquitto_pub)
COAP_CLIENT=$(command -v coap-client-notls || command -v coap-client || binary coap-client-notls)
export PGPASSWORD=${PGPASSWORD:-mainflux}
psql_admin() { psql -qtAX -h 127.0.0.1 -U mainflux -d postgres "$@"; }

id=$(date +%s)$$
prefix=mftest-$id       # containers and volumes of this run
repo=mftest-$id         # image tags of this run (make cleandocker removes them)
work=$(mktemp -d "${TMPDIR:-/tmp}/mainflux-docker-test.XXXXXX")
started=$SECONDS
step=$SECONDS
timing() { echo "docker-test: $1 ($((SECONDS - step)) s)"; step=$SECONDS; }

# Containers join a child of this process's cgroup, so none can outlive the test's.
own_cgroup=$(awk -F: '$2 == "memory" || $1 == "0" {print $3; exit}' /proc/self/cgroup)
cgroup_parent=()
if [ -n "$own_cgroup" ] && [ "$own_cgroup" != / ]; then
  cgroup_parent=(--cgroup-parent "$own_cgroup/$prefix")
fi

pids=()
databases=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  mapfile -t left < <("$ENGINE" ps -a --filter "name=^$prefix-" --format '{{.Names}}')
  if [ "$rc" -ne 0 ]; then
    for name in "${left[@]}"; do
      echo "--- logs of $name" >&2; "$ENGINE" logs --tail 30 "$name" >&2 || true
    done
  fi
  [ ${#left[@]} -eq 0 ] || "$ENGINE" rm -f "${left[@]}" >/dev/null 2>&1 || true
  mapfile -t tags < <("$ENGINE" images --format '{{.Repository}}:{{.Tag}}' | grep -E "^(localhost/)?$repo/" || true)
  [ ${#tags[@]} -eq 0 ] || "$ENGINE" rmi "${tags[@]}" >/dev/null 2>&1 || true
  mapfile -t vols < <("$ENGINE" volume ls --format '{{.Name}}' | grep -E "^$prefix-" || true)
  [ ${#vols[@]} -eq 0 ] || "$ENGINE" volume rm -f "${vols[@]}" >/dev/null 2>&1 || true
  [ ${#pids[@]} -eq 0 ] || { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
  for db in "${databases[@]}"; do psql_admin -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  if [ ${#cgroup_parent[@]} -gt 0 ]; then
    for dir in /sys/fs/cgroup/*/"${own_cgroup#/}/$prefix" "/sys/fs/cgroup/${own_cgroup#/}/$prefix"; do
      [ -d "$dir" ] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  fi
  rm -rf "$work"
  if [ "$rc" -eq 0 ]; then echo "docker-test: passed in $((SECONDS - started)) s"; else echo "docker-test: FAILED" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run() {  # run NAME IMAGE ARGS...: a detached container named $prefix-NAME
  local name=$1 image=$2; shift 2
  "$ENGINE" run -d --name "$prefix-$name" "${cgroup_parent[@]}" "$@" "$image" >/dev/null
}
stop_cleanly() {  # stop_cleanly NAME...: SIGTERM must end each one with status 0
  local name code names=()
  for name in "$@"; do names+=("$prefix-$name"); done
  "$ENGINE" stop -t 30 "${names[@]}" >/dev/null  # all at once: the engine stops them in parallel
  for name in "$@"; do
    code=$("$ENGINE" inspect -f '{{.State.ExitCode}}' "$prefix-$name")
    [ "$code" = 0 ] || { echo "docker-test: $name exited with $code on SIGTERM" >&2; exit 1; }
  done
}
gone() { ! "$ENGINE" "$@" >/dev/null 2>&1; }

SERVICES=(users authn things http ws mqtt coap postgres-writer postgres-reader bootstrap provision ui)
scripts/docker-build.sh allinone "${SERVICES[@]}"
timing "images built: $repo tags of mainflux/allinone and mainflux/<service>"
for name in allinone "${SERVICES[@]}"; do
  "$ENGINE" tag "${MF_DOCKER_REPO:-mainflux}/$name:${MF_RELEASE_TAG:-latest}" "$repo/$name:latest"
done

# 1. The all-in-one on a named volume ------------------------------------------------
gw=$(free_port)
mqtt=$(free_port)
G=http://127.0.0.1:$gw
volume=$prefix-data
"$ENGINE" volume create "$volume" >/dev/null
allinone() {
  run allinone "$repo/allinone:latest" --network host -v "$volume:/var/lib/mainflux" \
    -e MF_GATEWAY_PORT="$gw" -e MF_MQTT_ADAPTER_MQTT_PORT="$mqtt"
  probe wait "$G/health"
}
allinone
read -r token thing key channel < <(probe provision "$G" "$G")
probe publish "$G/http" "$channel" "$key" 21.5
probe read "$G" "$channel" "$key" 21.5
timing "all-in-one: started, provisioned, published and read"
stop_cleanly allinone
"$ENGINE" rm "$prefix-allinone" >/dev/null
allinone
probe thing "$G" "$token" "$thing" "$key"
probe read "$G" "$channel" "$key" 21.5
timing "all-in-one: recreated on its volume, the token, thing and message are still there"
MF_DOCKER_PREFIX=$prefix MF_DOCKER_REPO=$repo make -s cleandocker >/dev/null
gone container inspect "$prefix-allinone" || { echo "docker-test: cleandocker left the container" >&2; exit 1; }
gone image inspect "$repo/allinone:latest" || { echo "docker-test: cleandocker left the image" >&2; exit 1; }
"$ENGINE" volume inspect "$volume" >/dev/null || { echo "docker-test: cleandocker removed the volume" >&2; exit 1; }
MF_DOCKER_PREFIX=$prefix MF_DOCKER_REPO=$repo make -s cleandocker pv=true >/dev/null
gone volume inspect "$volume" || { echo "docker-test: cleandocker pv=true kept the volume" >&2; exit 1; }
timing "cleandocker kept the volume, cleandocker pv=true removed it"

# 2. The microservices on the host network --------------------------------------------
for name in "${SERVICES[@]}"; do
  "$ENGINE" tag "${MF_DOCKER_REPO:-mainflux}/$name:${MF_RELEASE_TAG:-latest}" "$repo/$name:latest"
done
nats_port=$(free_port)
redis_port=$(free_port)
mkdir -p "$work/nats"
"$NATS_SERVER" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" >"$work/nats.log" 2>&1 &
pids+=($!)
"$REDIS_SERVER" --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
db=mftest_$id
for store in users authn things messages bootstrap; do
  psql_admin -c "CREATE DATABASE ${db}_$store" >/dev/null
  databases+=("${db}_$store")
done
declare -A port
names=(users authn authn_grpc things things_auth things_grpc http ws mqtt mqtt_ws mqtt_tls coap
  writer reader bootstrap provision ui)
read -r -a numbers < <(free_ports ${#names[@]})
for i in "${!names[@]}"; do port[${names[$i]}]=${numbers[$i]}; done
nats=nats://127.0.0.1:$nats_port
redis=127.0.0.1:$redis_port
host=(--network host)
run authn "$repo/authn:latest" "${host[@]}" -e MF_AUTHN_HTTP_PORT="${port[authn]}" \
  -e MF_AUTHN_GRPC_PORT="${port[authn_grpc]}" -e MF_AUTHN_DB_HOST=127.0.0.1 \
  -e MF_AUTHN_DB="${db}_authn" -e MF_AUTHN_SECRET="$(head -c 32 /dev/urandom | base64 -w0)"
run users "$repo/users:latest" "${host[@]}" -e MF_USERS_HTTP_PORT="${port[users]}" \
  -e MF_USERS_DB_HOST=127.0.0.1 -e MF_USERS_DB="${db}_users" \
  -e MF_AUTHN_GRPC_URL="127.0.0.1:${port[authn_grpc]}"
run things "$repo/things:latest" "${host[@]}" -e MF_THINGS_HTTP_PORT="${port[things]}" \
  -e MF_THINGS_AUTH_HTTP_PORT="${port[things_auth]}" -e MF_THINGS_AUTH_GRPC_PORT="${port[things_grpc]}" \
  -e MF_THINGS_DB_HOST=127.0.0.1 -e MF_THINGS_DB="${db}_things" \
  -e MF_THINGS_CACHE_URL="$redis" -e MF_THINGS_ES_URL="$redis" \
  -e MF_AUTHN_GRPC_URL="127.0.0.1:${port[authn_grpc]}"
access=(-e MF_NATS_URL="$nats" -e MF_THINGS_AUTH_GRPC_URL="127.0.0.1:${port[things_grpc]}"
  -e MF_THINGS_ES_URL="$redis")
run http "$repo/http:latest" "${host[@]}" "${access[@]}" -e MF_HTTP_ADAPTER_PORT="${port[http]}"
run ws "$repo/ws:latest" "${host[@]}" "${access[@]}" -e MF_WS_ADAPTER_PORT="${port[ws]}"
run mqtt "$repo/mqtt:latest" "${host[@]}" "${access[@]}" -e MF_MQTT_ADAPTER_ES_URL="$redis" \
  -e MF_MQTT_ADAPTER_MQTT_PORT="${port[mqtt]}" -e MF_MQTT_ADAPTER_WS_PORT="${port[mqtt_ws]}" \
  -e MF_MQTT_ADAPTER_TLS_PORT="${port[mqtt_tls]}" -e MF_MQTT_ADAPTER_INSTANCE="$prefix-mqtt"
run coap "$repo/coap:latest" "${host[@]}" "${access[@]}" -e MF_COAP_ADAPTER_PORT="${port[coap]}"
run postgres-writer "$repo/postgres-writer:latest" "${host[@]}" -e MF_NATS_URL="$nats" \
  -e MF_POSTGRES_WRITER_PORT="${port[writer]}" -e MF_POSTGRES_WRITER_DB_HOST=127.0.0.1 \
  -e MF_POSTGRES_WRITER_DB="${db}_messages" -e MF_POSTGRES_WRITER_STREAM="MFTEST_$id" \
  -e MF_POSTGRES_WRITER_DURABLE="mftest-$id"
run postgres-reader "$repo/postgres-reader:latest" "${host[@]}" \
  -e MF_POSTGRES_READER_PORT="${port[reader]}" -e MF_POSTGRES_READER_DB_HOST=127.0.0.1 \
  -e MF_POSTGRES_READER_DB="${db}_messages" \
  -e MF_THINGS_AUTH_GRPC_URL="127.0.0.1:${port[things_grpc]}" \
  -e MF_THINGS_URL="http://127.0.0.1:${port[things]}"
run bootstrap "$repo/bootstrap:latest" "${host[@]}" -e MF_BOOTSTRAP_PORT="${port[bootstrap]}" \
  -e MF_BOOTSTRAP_DB_HOST=127.0.0.1 -e MF_BOOTSTRAP_DB="${db}_bootstrap" \
  -e MF_SDK_BASE_URL="http://127.0.0.1:${port[things]}" -e MF_THINGS_ES_URL="$redis" \
  -e MF_BOOTSTRAP_ES_URL="$redis" -e MF_AUTHN_GRPC_URL="127.0.0.1:${port[authn_grpc]}" \
  -e MF_BOOTSTRAP_ENCRYPT_KEY="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
run provision "$repo/provision:latest" "${host[@]}" \
  -e MF_PROVISION_HTTP_PORT="${port[provision]}" \
  -e MF_PROVISION_USERS_LOCATION="http://127.0.0.1:${port[users]}" \
  -e MF_PROVISION_THINGS_LOCATION="http://127.0.0.1:${port[things]}" \
  -e MF_PROVISION_BS_SVC_URL="http://127.0.0.1:${port[bootstrap]}/things"
run ui "$repo/ui:latest" "${host[@]}" -e MF_UI_PORT="${port[ui]}" \
  -e MF_UI_USERS_URL="http://127.0.0.1:${port[users]}" \
  -e MF_UI_THINGS_URL="http://127.0.0.1:${port[things]}" \
  -e MF_UI_AUTHN_URL="http://127.0.0.1:${port[authn]}" \
  -e MF_UI_READER_URL="http://127.0.0.1:${port[reader]}" \
  -e MF_UI_BOOTSTRAP_URL="http://127.0.0.1:${port[bootstrap]}"
for p in authn users things http ws mqtt_ws coap writer reader bootstrap provision ui; do
  probe wait "http://127.0.0.1:${port[$p]}/health"
done
timing "microservices: ${#SERVICES[@]} containers started and healthy"
read -r token thing key channel < <(probe provision "http://127.0.0.1:${port[users]}" "http://127.0.0.1:${port[things]}")
probe publish "http://127.0.0.1:${port[http]}" "$channel" "$key" 30.5
probe read "http://127.0.0.1:${port[reader]}" "$channel" "$key" 30.5
"$MOSQUITTO_PUB" -h 127.0.0.1 -p "${port[mqtt]}" -i "$prefix" -u "$thing" -P "$key" -q 1 \
  -t "channels/$channel/messages/room" -m '[{"bn":"docker-test:","n":"temperature","v":31.5}]'
probe read "http://127.0.0.1:${port[reader]}" "$channel" "$key" 31.5
# -t 110: application/senml+json
"$COAP_CLIENT" -m post -t 110 -B 10 \
  -e '[{"bn":"docker-test:","n":"temperature","v":32.5}]' \
  "coap://127.0.0.1:${port[coap]}/channels/$channel/messages/room?authorization=$key"
probe read "http://127.0.0.1:${port[reader]}" "$channel" "$key" 32.5
timing "microservices: HTTP, MQTT and CoAP messages stored by the writer and served by the reader"
probe bootstrap "http://127.0.0.1:${port[bootstrap]}" "$token" "$thing" "$key" "$channel" "$prefix"
probe mapping "http://127.0.0.1:${port[provision]}" "http://127.0.0.1:${port[bootstrap]}" \
  "$token" "$prefix-gateway"
timing "microservices: a bootstrap config fetched by its device and activated; a gateway provisioned"
probe page "http://127.0.0.1:${port[ui]}/"
timing "microservices: the web console leads to its login page"
stop_cleanly "${SERVICES[@]}"
timing "microservices: every service stopped cleanly on SIGTERM"
