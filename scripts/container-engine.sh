#!/usr/bin/env bash
# Prints, for `eval`, the container engine and compose commands to use:
#   ENGINE=docker|podman
#   COMPOSE=<compose command>
#   export CONTAINERS_CONF=... (Podman only)
# Docker is chosen when its daemon answers, otherwise Podman; MF_ENGINE=docker|podman
# forces one. Compose: `docker compose` (v2) or `docker-compose` (v1) for Docker,
# `podman-compose` (also looked for next to the project's .venv) for Podman.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${MF_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    engine=docker
  elif command -v podman >/dev/null 2>&1; then
    engine=podman
  else
    echo "no container engine: install Docker (with its daemon running) or Podman" >&2
    exit 1
  fi
fi
compose=""
case "$engine" in
  docker)
    if docker compose version >/dev/null 2>&1; then
      compose="docker compose"
    elif command -v docker-compose >/dev/null 2>&1; then
      compose="docker-compose"
    fi ;;
  podman)
    if command -v podman-compose >/dev/null 2>&1; then
      compose="podman-compose"
    elif [ -x .venv/bin/podman-compose ]; then
      compose="$PWD/.venv/bin/podman-compose"
    fi ;;
  *) echo "MF_ENGINE: expected docker or podman, got $engine" >&2; exit 2 ;;
esac
echo "ENGINE=$engine"
echo "COMPOSE='$compose'"
if [ "$engine" = podman ]; then
  # Podman's default ulimits (nofile 1048576) exceed the hard limits of many CI
  # machines, where every container then fails to start: use the host's own hard
  # limits. runc rather than crun, which fails on hybrid (v1 + v2) cgroup hierarchies.
  conf=${MF_CONTAINERS_CONF:-$PWD/build/podman/containers.conf}
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] || [ "$nofile" -gt 1048576 ] && nofile=1048576
  [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
  mkdir -p "$(dirname "$conf")"
  {
    echo "[containers]"
    echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    if command -v runc >/dev/null 2>&1; then echo "[engine]"; echo 'runtime = "runc"'; fi
  } >"$conf.tmp"
  mv "$conf.tmp" "$conf"
  echo "export CONTAINERS_CONF='$conf'"
fi
