#!/usr/bin/env bash
# with-infra.sh [--fresh] CMD [ARG…]: run CMD against the local Kafka and FerretDB.
#
# With KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL both set, CMD runs against
# those and nothing is started. Otherwise CMD runs against the instance of
# the local infrastructure that PARTNERHUB_INSTANCE names (see infra.sh;
# `make test` uses `test`, `make bench` uses `bench`), with the instance's
# PARTNERHUB_* settings exported. When that instance is already up, CMD uses
# it and it is left running; when it is not, it is started for CMD (on fresh
# data with --fresh) and stopped afterwards, whatever CMD's outcome. CMD's
# exit status is this script's.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fresh=0
if [ "${1:-}" = --fresh ]; then fresh=1; shift; fi

if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] && [ -n "${MONGODB_URL:-}" ]; then
  exec "$@"
fi

settings=$("$here/infra.sh" env) || exit 1
while IFS='=' read -r name value; do export "$name=$value"; done <<<"$settings"

started=0
if [ "$("$here/infra.sh" status | grep -cE '^(kafka|ferretdb): running')" != 2 ]; then
  started=1
  trap '"$here/infra.sh" down' EXIT
  if [ $fresh = 1 ]; then "$here/infra.sh" wipe || exit 1; fi
  "$here/infra.sh" up || exit 1
fi
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$PARTNERHUB_KAFKA_PORT"
export MONGODB_URL="mongodb://127.0.0.1:$PARTNERHUB_MONGO_PORT"
[ $started = 1 ] || echo "[infra] using the local infrastructure already running (${PARTNERHUB_INSTANCE:-the platform} instance, data under $PARTNERHUB_STATE)" >&2
"$@"
