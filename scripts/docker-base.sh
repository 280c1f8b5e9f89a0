#!/usr/bin/env bash
# Prints the base image the Mainflux images build on, making it first when needed.
#
#   1. $MF_DOCKER_BASE when set (any image with python3 >= 3.11 and its venv module);
#   2. docker.io/library/python:3.11-slim-bookworm when present or pullable;
#   3. otherwise (no registry: an air-gapped machine) localhost/mainflux-base:bookworm,
#      made once from Debian packages with `debootstrap --variant=minbase bookworm`
#      and imported into the engine. It stays in the engine's image store, so later
#      runs reuse it; MF_DOCKER_REBASE=1 makes it again.
#
# Behind a TLS-intercepting proxy (the package index's certificate does not verify
# against the public roots), the host's CA bundle is copied into that local base so
# pip can reach the index during image builds. The bundle only ever goes into the local
# image, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/container-engine.sh)"
PULLED=docker.io/library/python:3.11-slim-bookworm
LOCAL=localhost/mainflux-base:bookworm
MIRROR=${MF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=${MF_HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if [ -n "${MF_DOCKER_BASE:-}" ]; then echo "$MF_DOCKER_BASE"; exit 0; fi
exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }
if exists "$PULLED" || "$ENGINE" pull -q "$PULLED" >/dev/null 2>&1; then
  echo "$PULLED"; exit 0
fi
if exists "$LOCAL" && [ "${MF_DOCKER_REBASE:-0}" != 1 ]; then echo "$LOCAL"; exit 0; fi

# Does the package index's certificate verify against the base's own (public) roots?
index_host() {
  local url=${PIP_INDEX_URL:-$(python3 -m pip config get global.index-url 2>/dev/null || true)}
  url=${url:-https://pypi.org/simple}
  url=${url#*://}; url=${url#*@}; echo "${url%%/*}"
}
verifies() {  # verifies HOST CAFILE
  python3 - "$1" "$2" <<'PY' 2>/dev/null
import socket, ssl, sys
host, cafile = sys.argv[1], sys.argv[2]
name, _, port = host.partition(":")
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection((name, int(port or 443)), timeout=10) as raw:
    ctx.wrap_socket(raw, server_hostname=name).close()
PY
}

command -v debootstrap >/dev/null 2>&1 || {
  echo "no base image: $PULLED cannot be pulled and debootstrap is missing" \
       "(apt-get install debootstrap, or set MF_DOCKER_BASE)" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || { echo "making the local base image needs root (debootstrap)" >&2; exit 1; }
echo "no registry: making $LOCAL with debootstrap (about a minute)" >&2
root=$(mktemp -d /var/tmp/mainflux-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || {
  echo "debootstrap failed; its log: $root.log" >&2; exit 1; }
rm -f "$root.log"
host=$(index_host)
if ! verifies "$host" "$root/etc/ssl/certs/ca-certificates.crt" && [ -f "$HOST_CA" ] &&
  verifies "$host" "$HOST_CA"; then
  echo "the package index is behind a TLS-intercepting proxy: copying $HOST_CA into $LOCAL" >&2
  cp "$HOST_CA" "$root/etc/ssl/certs/ca-certificates.crt"
fi
# What an image needs no more: package lists, caches, docs.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -c . | "$ENGINE" import -q \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$LOCAL" >/dev/null
echo "$LOCAL"
