#!/usr/bin/env bash
# Builds Mainflux images with Docker or Podman (whichever scripts/container-engine.sh finds).
#
#   scripts/docker-build.sh [--dev] NAME...
#
# NAME is a service (users, things, http, ...: image $MF_DOCKER_REPO/<name>, running
# mainflux-<name>) or `allinone` ($MF_DOCKER_REPO/allinone, running `mainflux run`).
# --dev installs a wheel built here on the host instead of building the source inside
# the image (`make dockers_dev`). The base image comes from scripts/docker-base.sh, which
# makes one without a registry when none can be pulled. pip inside the build uses this
# host's package index (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL or pip's configuration;
# file:// indexes are host paths and are left out).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/container-engine.sh)"
REPO=${MF_DOCKER_REPO:-mainflux}
TAG=${MF_RELEASE_TAG:-latest}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
install=source
if [ "${1:-}" = --dev ]; then install=wheel; shift; fi
[ $# -gt 0 ] || { echo "usage: $0 [--dev] NAME..." >&2; exit 2; }
for name in "$@"; do
  [ "$name" = allinone ] || grep -q "^mainflux-$name = " pyproject.toml || {
    echo "unknown image: $name (allinone, or a service of [project.scripts] in pyproject.toml)" >&2
    exit 2
  }
done

base=$(scripts/docker-base.sh)
# BuildKit builds only the stages a target needs (the legacy builder would build all).
export DOCKER_BUILDKIT=1

# The host's index, when it is one a build container can reach (http or https).
pip_setting() {
  local env_name=$1 key=$2 value
  value=${!env_name:-$("$PYTHON" -m pip config get "global.$key" 2>/dev/null || true)}
  local kept=()
  for url in $value; do
    case "$url" in http://* | https://*) kept+=("$url") ;; esac
  done
  echo "${kept[*]:-}"
}
index=$(pip_setting PIP_INDEX_URL index-url)
extra=$(pip_setting PIP_EXTRA_INDEX_URL extra-index-url)

if [ "$install" = wheel ]; then
  rm -rf build/docker-wheel
  "$PYTHON" -m pip wheel --quiet --no-deps -w build/docker-wheel .
fi

# The Dockerfile builds the all-in-one and the first service; the other services differ
# from that one only in the command they run, so their images are derived from it
# (FROM it, one ENV), which takes seconds where a cached Dockerfile build takes many.
first_service=""
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
for name in "$@"; do
  if [ "$name" = allinone ]; then
    target=(--target allinone)
  else
    target=(--target service --build-arg "SERVICE=$name")
  fi
  log=build/docker-logs/$name.log
  mkdir -p build/docker-logs
  echo "building $REPO/$name:$TAG (base $base, log $log)"
  if [ "$name" != allinone ] && [ -n "$first_service" ]; then
    printf 'FROM %s\nENV MAINFLUX_COMMAND=mainflux-%s\n' "$first_service" "$name" |
      "$ENGINE" build -f - -t "$REPO/$name:$TAG" "$empty" >"$log" 2>&1
  else
    "$ENGINE" build -f docker/Dockerfile "${target[@]}" \
      --build-arg "BASE_IMAGE=$base" --build-arg "INSTALL=$install" \
      --build-arg "MF_PIP_INDEX_URL=$index" --build-arg "MF_PIP_EXTRA_INDEX_URL=$extra" \
      -t "$REPO/$name:$TAG" . >"$log" 2>&1
  fi || {
    tail -n 40 "$log" >&2; echo "building $REPO/$name:$TAG failed; log: $log" >&2; exit 1; }
  [ "$name" = allinone ] || [ -n "$first_service" ] || first_service=$REPO/$name:$TAG
done
