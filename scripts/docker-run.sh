#!/usr/bin/env bash
# `make rundocker`: brings up docker/docker-compose.yml (plus any override files given as
# arguments) with docker compose, docker-compose or podman-compose, whichever is installed.
# Unless MF_AUTHN_SECRET is set, a signing secret is generated once (32 random bytes) into
# build/docker/authn.secret, readable by you only, so tokens stay valid across runs; and
# unless MF_BOOTSTRAP_ENCRYPT_KEY is set, an AES key for secure bootstrap (16 random bytes,
# hex) into build/docker/bootstrap.key, so devices' keys stay valid too.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/container-engine.sh)"
[ -n "$COMPOSE" ] || { echo "no compose tool: install docker compose (or docker-compose) or podman-compose" >&2; exit 1; }
if [ -z "${MF_AUTHN_SECRET:-}" ]; then
  secret=build/docker/authn.secret
  umask 077
  mkdir -p "$(dirname "$secret")"
  [ -s "$secret" ] || head -c 32 /dev/urandom | base64 -w0 >"$secret"
  MF_AUTHN_SECRET=$(cat "$secret")
  export MF_AUTHN_SECRET
fi
if [ -z "${MF_BOOTSTRAP_ENCRYPT_KEY:-}" ]; then
  key=build/docker/bootstrap.key
  umask 077
  mkdir -p "$(dirname "$key")"
  [ -s "$key" ] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$key"
  MF_BOOTSTRAP_ENCRYPT_KEY=$(cat "$key")
  export MF_BOOTSTRAP_ENCRYPT_KEY
fi
files=(-f docker/docker-compose.yml)
for file in "$@"; do files+=(-f "$file"); done
# shellcheck disable=SC2086 # COMPOSE may be two words (docker compose)
exec $COMPOSE "${files[@]}" up -d
