#!/usr/bin/env bash
# `make cleandocker`: stops and removes the Mainflux containers (named mainflux-*) and
# images ($MF_DOCKER_REPO/*), and keeps the data volumes (mainflux-*), so `make dockers`
# and `make rundocker` (or a new all-in-one container on the same volume) continue with
# the data. `make cleandocker pv=true` (MF_DOCKER_PV=true) removes the volumes too: all
# data is gone. MF_DOCKER_PREFIX changes the name prefix of containers and volumes.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/container-engine.sh)"
prefix=${MF_DOCKER_PREFIX:-mainflux}
repo=${MF_DOCKER_REPO:-mainflux}
case "${MF_DOCKER_PV:-}" in "" | false | 0 | no) pv=0 ;; *) pv=1 ;; esac

mapfile -t containers < <("$ENGINE" ps -a --filter "name=^$prefix-" --format '{{.Names}}')
if [ ${#containers[@]} -gt 0 ]; then
  "$ENGINE" rm -f "${containers[@]}" >/dev/null
  echo "removed containers: ${containers[*]}"
fi
# Podman shows a locally built mainflux/users as localhost/mainflux/users.
mapfile -t images < <("$ENGINE" images --format '{{.Repository}}:{{.Tag}}' |
  grep -E "^(localhost/)?$repo/[^:]+:" | grep -v ':<none>$' || true)
if [ ${#images[@]} -gt 0 ]; then
  "$ENGINE" rmi -f "${images[@]}" >/dev/null
  echo "removed images: ${images[*]}"
fi
mapfile -t volumes < <("$ENGINE" volume ls --format '{{.Name}}' | grep -E "^$prefix-" || true)
if [ $pv = 1 ]; then
  if [ ${#volumes[@]} -gt 0 ]; then
    "$ENGINE" volume rm -f "${volumes[@]}" >/dev/null
    echo "removed volumes: ${volumes[*]}"
  fi
elif [ ${#volumes[@]} -gt 0 ]; then
  echo "kept volumes (make cleandocker pv=true removes them): ${volumes[*]}"
fi
