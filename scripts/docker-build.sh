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

# The wheel of --dev; without --dev none, so a stale one cannot change the source build.
rm -rf build/docker-wheel
if [ "$install" = wheel ]; then
  "$PYTHON" -m pip wheel --quiet --no-deps -w build/docker-wheel .
fi

# Service images differ only in their command: the Dockerfile's runtime stage is built
# once, and each service adds the Dockerfile's `service` stage to it, spelled out for that
# service (seconds, where a cached build of the whole Dockerfile takes many).
mkdir -p build/docker-logs
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
build() {  # build LOG ARGS...
  local log=$1; shift
  "$ENGINE" build --build-arg "BASE_IMAGE=$base" --build-arg "INSTALL=$install" \
    --build-arg "MF_PIP_INDEX_URL=$index" --build-arg "MF_PIP_EXTRA_INDEX_URL=$extra" \
    "$@" >"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "build failed; log: $log" >&2; exit 1; }
}
runtime=""
for name in "$@"; do
  log=build/docker-logs/$name.log
  echo "building $REPO/$name:$TAG (base $base, log $log)"
  if [ "$name" = allinone ]; then
    build "$log" -f docker/Dockerfile --target allinone -t "$REPO/$name:$TAG" .
    continue
  fi
  if [ -z "$runtime" ]; then
    build build/docker-logs/runtime.log -f docker/Dockerfile --target runtime \
      --iidfile "$empty/.runtime" .
    runtime=$(cat "$empty/.runtime")
    rm -f "$empty/.runtime"
  fi
  printf '%s\n' "FROM $runtime" \
    "RUN ln -s /opt/mainflux/bin/mainflux-$name /usr/local/bin/mainflux-service" \
    "USER mainflux" 'CMD ["mainflux-service"]' >"$empty/Dockerfile"
  build "$log" -f "$empty/Dockerfile" -t "$REPO/$name:$TAG" "$empty"
done
