#!/usr/bin/env bash
# with-infra.sh CMD [ARG…]: run CMD against the local Kafka and FerretDB.
#
# With KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL both set, CMD runs against
# those and nothing is started. Otherwise, when the local infrastructure is
# already up (make infra-up / make up) CMD uses it and it is left running;
# when it is not, it is started for CMD and stopped afterwards, whatever
# CMD's outcome. CMD's exit status is this script's.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] && [ -n "${MONGODB_URL:-}" ]; then
  exec "$@"
fi

started=0
if [ "$("$here/infra.sh" status | grep -cE '^(kafka|ferretdb): running')" != 2 ]; then
  started=1
  trap '"$here/infra.sh" down' EXIT
  "$here/infra.sh" up || exit 1
fi
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${PARTNERHUB_KAFKA_PORT:-9092}"
export MONGODB_URL="mongodb://127.0.0.1:${PARTNERHUB_MONGO_PORT:-27017}"
[ $started = 1 ] || echo "[infra] using the local infrastructure that is already running" >&2
"$@"
