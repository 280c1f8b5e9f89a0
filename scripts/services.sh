#!/usr/bin/env bash
# Installs (apt) and starts the servers the tests and `make rundev` use:
# PostgreSQL (with a `mainflux` role, password `mainflux`), Redis, NATS with JetStream,
# the mosquitto clients, libcoap's coap-client, openssl (test certificates) and Chromium
# (the console's browser tests). Does nothing for what is already installed and running.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/bin/chromium ] || need+=(chromium)
# libcoap's coap-client: the CoAP tests' independent client.
compgen -c coap-client | grep -q . || need+=(libcoap3-bin)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL: start the cluster when it is down, make sure the mainflux role exists.
version=$(ls /etc/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
runpg() { (cd / && $SUDO runuser -u postgres -- psql -qtAX "$@"); }
if [ "$(runpg -c "SELECT 1 FROM pg_roles WHERE rolname='mainflux'")" != "1" ]; then
  runpg -c "CREATE ROLE mainflux LOGIN CREATEDB PASSWORD 'mainflux'"
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Redis and NATS for `make rundev` (the tests start private ones of their own).
if [ "${START_BROKERS:-1}" = 1 ]; then
  port_open 6379 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  if ! port_open 4222; then
    mkdir -p /tmp/mainflux-nats
    nohup "$(command -v nats-server || echo /usr/sbin/nats-server)" -a 127.0.0.1 -p 4222 -js \
      -sd /tmp/mainflux-nats >/tmp/mainflux-nats.log 2>&1 &
  fi
fi
echo "services ready: PostgreSQL $version, Redis, NATS"
