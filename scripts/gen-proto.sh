#!/usr/bin/env bash
# Regenerates the committed protobuf and gRPC modules from proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -m grpc_tools.protoc -I proto \
  --python_out=src --pyi_out=src --grpc_python_out=src \
  proto/mainflux/proto/authn.proto proto/mainflux/proto/authn_accounts.proto \
  proto/mainflux/proto/message.proto
rm -f src/mainflux/proto/message_pb2_grpc.py  # the envelope has no service
echo "generated: $(ls src/mainflux/proto/*_pb2* | tr '\n' ' ')"
