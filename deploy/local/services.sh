#!/usr/bin/env bash
# The services as background processes on 127.0.0.1, for `make up` / `make down`.
#
#   services.sh up      start every service that exists (services/<name>/__main__.py),
#                       return once each answers GET /readyz (Kafka and MongoDB reachable)
#   services.sh down    stop exactly the processes `up` started (by recorded pid)
#   services.sh status  each service's state and how often it was restarted
#
# Each service runs under deploy/local/supervise.py, which starts it again when it
# dies (logging why and counting it in $STATE/pids/<name>.restarts), as Kubernetes
# would; the recorded pid is the supervisor's, and stopping it stops the service.
#
# Each service gets the admin key from .env (API_KEYS), the local OIDC provider
# (OIDC_ISSUER from .env), the local Kafka and FerretDB, its own MongoDB database
# and its port (docs/architecture.md); the portal also gets PORTAL_URL and
# PORTAL_SESSION_SECRET from .env; notifications gets SMTP_URL (the local
# Mailpit), NOTIFICATIONS_SECRET and NOTIFY_MANAGER_EMAILS from .env, and may
# call webhooks on 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE). Logs go to
# .local/logs/<service>.log.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
STATE=${PARTNERHUB_STATE:-$repo/.local}
PYTHON=${PYTHON:-$repo/.venv/bin/python}
pids="$STATE/pids"
logs="$STATE/logs"

# The services' ports, in start order.
SERVICES=(onboarding:8001 enablement:8002 incentives:8003 reporting:8004 notifications:8005 portal:8000)

log() { printf '[services] %s\n' "$*" >&2; }

alive() { local f="$pids/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

env_value() { # env_value NAME -> its value in .env (the first line naming it)
  sed -n "s/^$1=//p" "$repo/.env" 2>/dev/null | head -n 1
}

admin_key() { env_value PARTNERHUB_ADMIN_KEY; }

restarts() { cat "$pids/$1.restarts" 2>/dev/null || echo 0; }

service_env() { # service_env NAME -> the NAME=value settings of that service alone, one a line
  case $1 in
    notifications)
      echo "SMTP_URL=${SMTP_URL:-$(env_value SMTP_URL)}"
      echo "NOTIFICATIONS_SECRET=${NOTIFICATIONS_SECRET:-$(env_value NOTIFICATIONS_SECRET)}"
      echo "NOTIFY_MANAGER_EMAILS=${NOTIFY_MANAGER_EMAILS:-$(env_value NOTIFY_MANAGER_EMAILS)}"
      echo "WEBHOOK_ALLOW_PRIVATE=${WEBHOOK_ALLOW_PRIVATE:-true}"
      ;;
  esac
}

cmd_up() {
  mkdir -p "$pids" "$logs"
  local key started=() entry name port own
  key=$(admin_key)
  [ -n "$key" ] || { log "error: no PARTNERHUB_ADMIN_KEY in $repo/.env (make env-file writes one)"; exit 1; }
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    [ -f "$repo/services/$name/__main__.py" ] || continue
    if alive "$name"; then log "$name already running (pid $(cat "$pids/$name.pid"))"; continue; fi
    log "starting $name on 127.0.0.1:$port"
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
      log "error: something else already answers on 127.0.0.1:$port; stop it first"
      exit 1
    fi
    : > "$logs/$name.log"
    # A setting left empty (not in .env) is not passed: the service's default applies.
    mapfile -t own < <(service_env "$name" | grep -v '^[A-Z_]*=$' || true)
    (cd "$repo" && API_KEYS="${API_KEYS:-$key=admin}" HTTP_PORT="$port" \
      OIDC_ISSUER="${OIDC_ISSUER:-$(env_value OIDC_ISSUER)}" \
      PORTAL_URL="${PORTAL_URL:-$(env_value PORTAL_URL)}" \
      PORTAL_SESSION_SECRET="${PORTAL_SESSION_SECRET:-$(env_value PORTAL_SESSION_SECRET)}" \
      KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}" \
      MONGODB_URL="${MONGODB_URL:-mongodb://127.0.0.1:27017}" \
      env ${own[@]+"${own[@]}"} \
      "$PYTHON" "$here/spawn.py" "$logs/$name.log" \
        "$PYTHON" "$here/supervise.py" "$name" "$pids/$name.restarts" \
        "$PYTHON" -m "services.$name" > "$pids/$name.pid")
    started+=("$name:$port")
  done
  if [ ${#started[@]} -eq 0 ]; then
    log "no service to start (none of services/*/__main__.py exists yet, or all already run)"
    return 0
  fi
  for entry in "${started[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    local deadline=$((SECONDS + 90))
    until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
      if ! alive "$name" || [ "$(restarts "$name")" != 0 ]; then
        tail -n 30 "$logs/$name.log" >&2; log "error: $name exited during start-up (log: $logs/$name.log)"; exit 1
      fi
      [ $SECONDS -lt $deadline ] || { log "error: $name was not ready (/readyz) within 90 s (log: $logs/$name.log)"; exit 1; }
      sleep 0.3
    done
    log "$name ready: http://127.0.0.1:$port/docs"
  done
  log "admin key: PARTNERHUB_ADMIN_KEY in $repo/.env"
}

cmd_down() {
  local entry name f pid
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*} f="$pids/$name.pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f" "$pids/$name.restarts"
  done
}

cmd_status() {
  local entry name
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}
    if alive "$name"; then
      echo "$name: running (supervisor pid $(cat "$pids/$name.pid"), restarted $(restarts "$name") times)"
    else
      echo "$name: stopped"
    fi
  done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
