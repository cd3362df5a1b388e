#!/usr/bin/env bash
# The embedded default infrastructure: a single-node Apache Kafka broker
# (KRaft), FerretDB (MongoDB wire protocol, SQLite storage), an OpenID Connect
# provider (people's sign-in), Mailpit (an SMTP server with a web inbox) and
# Prometheus (scraping the services, with the alert rules) as plain processes
# on 127.0.0.1, no Docker.
#
#   infra.sh fetch   resolve the Kafka jars (Maven), build FerretDB, the OIDC provider and Mailpit (Go, npm), cached
#   infra.sh up      start all five (fetching first if needed); returns when they serve
#   infra.sh down    stop exactly the processes `up` started (by their recorded pids)
#   infra.sh status  say what runs
#   infra.sh stop  kafka|ferretdb|oidc|mailpit|prometheus   stop one (fault tests: a broker, store, issuer or mail outage)
#   infra.sh start kafka|ferretdb|oidc|mailpit|prometheus   start it again on its data; returns when it serves
#   infra.sh env     print the instance's settings (PARTNERHUB_STATE, the ports, the OIDC issuer as PARTNERHUB_OIDC_ISSUER,
#                    PARTNERHUB_SMTP_URL and PARTNERHUB_MAIL_INBOX_URL) as NAME=value lines
#   infra.sh wipe    delete the instance's Kafka, FerretDB and Mailpit data (refused while they run)
#
# PARTNERHUB_INSTANCE picks an instance. Unset, it is the platform's own (`make up`,
# `make demo`): data in <repo>/.local, Kafka on 9092, FerretDB on 27017, the
# OIDC provider on 5556, Mailpit's SMTP on 1025 and its inbox on 8025,
# Prometheus on 9090. `test` (`make test`) and `bench`
# (`make bench`) are separate instances with their data in .local/<instance>
# and every port moved up by 10 000 (test) or 20 000 (bench), so that neither
# puts its events into the platform's topics or reads its data, and each can
# run beside it.
#
# The OIDC provider (deploy/local/oidc, zitadel's OIDC library) is the issuer
# http://127.0.0.1:<port>. It reads its clients and people from
# $PARTNERHUB_STATE/oidc/realm.json at every lookup; others write that file
# (this script never does), and until they have, it knows no one. Its RSA
# signing key, $PARTNERHUB_STATE/oidc/signing-key.pem, is made on its first
# start and kept, so tokens stay valid across restarts.
#
# Mailpit (github.com/axllent/mailpit, MAILPIT_VERSION below) accepts any mail
# on smtp://127.0.0.1:<SMTP port> (no TLS; any AUTH username and password, or
# none), keeps it in $PARTNERHUB_STATE/mailpit/mailpit.db and shows it at
# http://127.0.0.1:<mail HTTP port>/, whose /api/v1 the tests read
# (docs/operations.md, "Email locally: Mailpit"). It relays nothing.
#
# Prometheus is Debian's `prometheus` package (the binary on PATH); without it
# `up` says so and starts the other four.
#
# Cached downloads and builds live in $PARTNERHUB_CACHE (~/.cache/partnerhub),
# so a second clone on the same machine starts in seconds. Data, logs and pid
# files live in $PARTNERHUB_STATE (<repo>/.local, git-ignored).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
FERRETDB_VERSION=$(sed -n 's:^require github.com/FerretDB/FerretDB \(v[0-9.]*\)$:\1:p' "$here/ferretdb/go.mod")
# The oidc module has more than one direct requirement: its require line is inside a block.
OIDC_VERSION=$(sed -n 's:^[[:space:]]*\(require[[:space:]]\{1,\}\)\{0,1\}github.com/zitadel/oidc/v3 \(v[0-9.]*\)$:\2:p' "$here/oidc/go.mod")
# Mailpit is built from its Go module's source (see fetch_mailpit).
MAILPIT_VERSION=v1.33.1
CACHE=${PARTNERHUB_CACHE:-$HOME/.cache/partnerhub}
INSTANCE=${PARTNERHUB_INSTANCE:-}
case "$INSTANCE" in
  "") offset=0 default_state="$repo/.local" ;;
  test) offset=10000 default_state="$repo/.local/test" ;;
  bench) offset=20000 default_state="$repo/.local/bench" ;;
  *) echo "[infra] error: PARTNERHUB_INSTANCE is '$INSTANCE'; it must be test, bench or unset (the platform's)" >&2; exit 2 ;;
esac
STATE=${PARTNERHUB_STATE:-$default_state}
KAFKA_PORT=${PARTNERHUB_KAFKA_PORT:-$((9092 + offset))}
KAFKA_CONTROLLER_PORT=${PARTNERHUB_KAFKA_CONTROLLER_PORT:-$((9093 + offset))}
# A SASL_PLAINTEXT listener with SCRAM, and its one user (local, 127.0.0.1 only).
KAFKA_SASL_PORT=${PARTNERHUB_KAFKA_SASL_PORT:-$((9094 + offset))}
KAFKA_SCRAM_USER=${PARTNERHUB_KAFKA_SCRAM_USER:-partnerhub}
KAFKA_SCRAM_PASSWORD=${PARTNERHUB_KAFKA_SCRAM_PASSWORD:-partnerhub-local}
# FerretDB counts down from 27017 (test 17017, bench 7017): up would land in the kernel's
# ephemeral range (32768 and over), where an outgoing connection can hold the port.
MONGO_PORT=${PARTNERHUB_MONGO_PORT:-$((27017 - offset))}
OIDC_PORT=${PARTNERHUB_OIDC_PORT:-$((5556 + offset))}
PROMETHEUS_PORT=${PARTNERHUB_PROMETHEUS_PORT:-$((9090 + offset))}
SMTP_PORT=${PARTNERHUB_SMTP_PORT:-$((1025 + offset))}
MAIL_HTTP_PORT=${PARTNERHUB_MAIL_HTTP_PORT:-$((8025 + offset))}
TOPIC_PARTITIONS=${PARTNERHUB_TOPIC_PARTITIONS:-6}
KAFKA_HEAP=${PARTNERHUB_KAFKA_HEAP:-512m}
PYTHON=${PYTHON:-$repo/.venv/bin/python}

kafka_lib="$CACHE/kafka-$KAFKA_VERSION/lib"
# A Go binary's cache key includes a hash of our program (every file), so a change to it rebuilds.
ferretdb_bin="$CACHE/ferretdb-$FERRETDB_VERSION-$(cat "$here"/ferretdb/*.go "$here/ferretdb/go.sum" | cksum | cut -d' ' -f1)/ferretdb"
oidc_bin="$CACHE/oidc-$OIDC_VERSION-$(cat "$here"/oidc/*.go "$here/oidc/go.sum" | cksum | cut -d' ' -f1)/oidc"
oidc_issuer="http://127.0.0.1:$OIDC_PORT"
mailpit_bin="$CACHE/mailpit-$MAILPIT_VERSION/mailpit"
smtp_url="smtp://127.0.0.1:$SMTP_PORT"
mail_inbox_url="http://127.0.0.1:$MAIL_HTTP_PORT/"
pids="$STATE/pids"
logs="$STATE/logs"

log() { printf '[infra] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

fetch_kafka() {
  [ -f "$kafka_lib/.complete" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Apache Kafka $KAFKA_VERSION"
  command -v java >/dev/null || die "Java 17+ is needed to run Apache Kafka $KAFKA_VERSION"
  log "fetching Apache Kafka $KAFKA_VERSION and its dependencies with Maven (first run only)"
  local tmp="$kafka_lib.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$logs"
  mvn -B -Dstyle.color=never -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" >"$logs/kafka-fetch.log" 2>&1 \
    || { tail -n 40 "$logs/kafka-fetch.log" >&2; die "Maven could not fetch Apache Kafka (log: $logs/kafka-fetch.log)"; }
  touch "$tmp/.complete"
  rm -rf "$kafka_lib"
  mkdir -p "$(dirname "$kafka_lib")"
  mv "$tmp" "$kafka_lib"
}

fetch_ferretdb() {
  [ -x "$ferretdb_bin" ] && return 0
  command -v go >/dev/null || die "Go is needed to build FerretDB $FERRETDB_VERSION"
  log "building FerretDB $FERRETDB_VERSION (embedded, SQLite storage) with Go (first run only, about a minute)"
  mkdir -p "$(dirname "$ferretdb_bin")"
  (cd "$here/ferretdb" && go build -trimpath -o "$ferretdb_bin.tmp.$$" .) >&2
  mv "$ferretdb_bin.tmp.$$" "$ferretdb_bin"
}

fetch_oidc() {
  [ -x "$oidc_bin" ] && return 0
  command -v go >/dev/null || die "Go is needed to build the OIDC provider (zitadel/oidc $OIDC_VERSION)"
  log "building the OIDC provider (zitadel/oidc $OIDC_VERSION) with Go (first run only)"
  mkdir -p "$(dirname "$oidc_bin")"
  (cd "$here/oidc" && go build -trimpath -o "$oidc_bin.tmp.$$" .) >&2
  mv "$oidc_bin.tmp.$$" "$oidc_bin"
}

# Mailpit's Go module holds the sources of its web inbox but not the bundle the
# binary embeds (server/ui/dist), so `go install` of it gives a server whose
# inbox page stays blank. We build it as Mailpit's Dockerfile does: the bundle
# with npm from the module's own package-lock.json, then the binary with Go.
# Two things are left out, as neither is on every npm registry at its locked
# version and the inbox needs neither: the API reference page's bundle
# (docs.js, the rapidoc package; /api/v1/ itself serves) and the packages that
# are only peers (sass-embedded: the Sass plugin compiles with `sass`).
fetch_mailpit() {
  [ -x "$mailpit_bin" ] && return 0
  command -v go >/dev/null || die "Go is needed to build Mailpit $MAILPIT_VERSION"
  command -v npm >/dev/null || die "Node.js and npm are needed to build Mailpit $MAILPIT_VERSION's web inbox"
  log "building Mailpit $MAILPIT_VERSION (its web inbox with npm, the server with Go; first run only, about a minute)"
  mkdir -p "$logs"
  local build="$CACHE/mailpit-$MAILPIT_VERSION.build.$$" fetch_log="$logs/mailpit-fetch.log" module
  rm -rf "$build"
  mkdir -p "$build"
  : > "$fetch_log"
  # Outside any Go module (the build directory), so the download is the module alone.
  module=$(cd "$build" && go mod download -json "github.com/axllent/mailpit@$MAILPIT_VERSION" 2>>"$fetch_log" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [ -z "$module" ] || [ ! -f "$module/go.mod" ]; then
    tail -n 20 "$fetch_log" >&2; rm -rf "$build"
    die "Go could not download the Mailpit $MAILPIT_VERSION module (log: $fetch_log)"
  fi
  # Every step joined by &&: errexit does not apply inside a list's subshell.
  (
    cp -R "$module/." "$build/src" && chmod -R u+w "$build/src" &&
    cd "$build/src" &&
    sed -i.orig 's#, "server/ui-src/docs.js"##' esbuild.config.mjs &&
    ! grep -q 'ui-src/docs.js' esbuild.config.mjs &&
    npm uninstall rapidoc --package-lock-only --no-audit --no-fund &&
    npm ci --omit=peer --no-audit --no-fund &&
    npm run build &&
    test -s server/ui/dist/app.js &&
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/axllent/mailpit/config.Version=$MAILPIT_VERSION" -o "$build/mailpit" .
  ) >>"$fetch_log" 2>&1 \
    || { tail -n 40 "$fetch_log" >&2; rm -rf "$build"; die "building Mailpit $MAILPIT_VERSION failed (log: $fetch_log)"; }
  mkdir -p "$(dirname "$mailpit_bin")"
  mv "$build/mailpit" "$mailpit_bin"
  rm -rf "$build"
}

alive() { # alive NAME -> 0 if the recorded pid runs
  local f="$pids/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

port_open() { # port_open PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_port() { # wait_port NAME PORT SECONDS
  local name=$1 port=$2 deadline=$((SECONDS + $3))
  until port_open "$port"; do
    alive "$name" || { tail -n 30 "$logs/$name.log" >&2 || true; die "$name exited during start-up (log: $logs/$name.log)"; }
    [ $SECONDS -lt $deadline ] || die "$name did not accept connections on 127.0.0.1:$port within $3 s (log: $logs/$name.log)"
    sleep 0.3
  done
}

wait_mailpit() { # both of Mailpit's ports, then its readiness (the database open)
  wait_port mailpit "$SMTP_PORT" 30
  wait_port mailpit "$MAIL_HTTP_PORT" 30
  local deadline=$((SECONDS + 30))
  until curl -fsS "${mail_inbox_url}readyz" >/dev/null 2>&1; do
    alive mailpit || { tail -n 30 "$logs/mailpit.log" >&2; die "mailpit exited during start-up"; }
    [ $SECONDS -lt $deadline ] || die "mailpit not ready within 30 s (log: $logs/mailpit.log)"
    sleep 0.3
  done
}

start_kafka() {
  if alive kafka; then log "kafka already running (pid $(cat "$pids/kafka.pid"))"; return 0; fi
  port_open "$KAFKA_PORT" && die "127.0.0.1:$KAFKA_PORT is taken by another process; stop it or set PARTNERHUB_KAFKA_PORT"
  local data="$STATE/kafka" conf="$STATE/kafka/server.properties"
  mkdir -p "$data/logs"
  sed -e "s|@LOG_DIR@|$data/logs|" -e "s|@PARTITIONS@|$TOPIC_PARTITIONS|" \
      -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@SASL_PORT@|$KAFKA_SASL_PORT|g" \
      "$here/kafka/server.properties.in" > "$conf"
  local java_opts=(-Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
                   -Dlog4j2.configurationFile="$here/kafka/log4j2.properties")
  if [ ! -f "$data/logs/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$kafka_lib/*" "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
    java -cp "$kafka_lib/*" "${java_opts[@]}" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$conf" >"$logs/kafka-format.log" 2>&1 \
      || { cat "$logs/kafka-format.log" >&2; die "formatting Kafka storage failed"; }
  fi
  log "starting Apache Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  : > "$logs/kafka.log"
  python3 "$here/spawn.py" "$logs/kafka.log" java -cp "$kafka_lib/*" "${java_opts[@]}" kafka.Kafka "$conf" \
    > "$pids/kafka.pid"
}

add_scram_user() { # the SCRAM user of the SASL listener (idempotent; one mechanism a request)
  local mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    java -cp "$kafka_lib/*" -Dlog4j2.configurationFile="$here/kafka/log4j2.properties" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$KAFKA_SCRAM_USER" \
      --add-config "$mechanism=[password=$KAFKA_SCRAM_PASSWORD]" >"$logs/kafka-scram.log" 2>&1 \
      || { cat "$logs/kafka-scram.log" >&2; die "could not create the Kafka SCRAM user ($mechanism)"; }
  done
}

start_ferretdb() {
  if alive ferretdb; then log "ferretdb already running (pid $(cat "$pids/ferretdb.pid"))"; return 0; fi
  port_open "$MONGO_PORT" && die "127.0.0.1:$MONGO_PORT is taken by another process; stop it or set PARTNERHUB_MONGO_PORT"
  mkdir -p "$STATE/ferretdb"
  log "starting FerretDB $FERRETDB_VERSION on 127.0.0.1:$MONGO_PORT"
  : > "$logs/ferretdb.log"
  # Go collects only when FerretDB's heap reaches the memory limit, not at every
  # doubling of its small live heap (docs/performance.md).
  GOGC=${PARTNERHUB_FERRETDB_GOGC:-off} GOMEMLIMIT=${PARTNERHUB_FERRETDB_MEMORY:-1GiB} \
  python3 "$here/spawn.py" "$logs/ferretdb.log" "$ferretdb_bin" -listen "127.0.0.1:$MONGO_PORT" \
    -data-dir "$STATE/ferretdb" -log-level "${PARTNERHUB_FERRETDB_LOG_LEVEL:-error}" ${PARTNERHUB_FERRETDB_DEBUG_ADDR:+-debug-addr "$PARTNERHUB_FERRETDB_DEBUG_ADDR"} > "$pids/ferretdb.pid"
}

start_oidc() {
  if alive oidc; then log "oidc already running (pid $(cat "$pids/oidc.pid"))"; return 0; fi
  port_open "$OIDC_PORT" && die "127.0.0.1:$OIDC_PORT is taken by another process; stop it or set PARTNERHUB_OIDC_PORT"
  mkdir -p "$STATE/oidc"
  local realm="$STATE/oidc/realm.json"
  [ -f "$realm" ] || log "no $realm yet: the OIDC provider knows no clients or people until it is written"
  log "starting the OIDC provider (zitadel/oidc $OIDC_VERSION) on 127.0.0.1:$OIDC_PORT"
  : > "$logs/oidc.log"
  python3 "$here/spawn.py" "$logs/oidc.log" "$oidc_bin" -addr "127.0.0.1:$OIDC_PORT" -issuer "$oidc_issuer" \
    -realm "$realm" -key "$STATE/oidc/signing-key.pem" > "$pids/oidc.pid"
}

start_mailpit() {
  if alive mailpit; then log "mailpit already running (pid $(cat "$pids/mailpit.pid"))"; return 0; fi
  port_open "$SMTP_PORT" && die "127.0.0.1:$SMTP_PORT is taken by another process; stop it or set PARTNERHUB_SMTP_PORT"
  port_open "$MAIL_HTTP_PORT" && die "127.0.0.1:$MAIL_HTTP_PORT is taken by another process; stop it or set PARTNERHUB_MAIL_HTTP_PORT"
  mkdir -p "$STATE/mailpit"
  log "starting Mailpit $MAILPIT_VERSION: SMTP on 127.0.0.1:$SMTP_PORT, inbox $mail_inbox_url"
  : > "$logs/mailpit.log"
  # Any AUTH (or none) over plain SMTP, as a service configured for a real relay
  # sends; no reverse DNS and no release check (offline); the newest 10 000 kept.
  python3 "$here/spawn.py" "$logs/mailpit.log" "$mailpit_bin" --smtp "127.0.0.1:$SMTP_PORT" \
    --listen "127.0.0.1:$MAIL_HTTP_PORT" --database "$STATE/mailpit/mailpit.db" --max 10000 \
    --smtp-auth-accept-any --smtp-auth-allow-insecure --smtp-disable-rdns --disable-version-check \
    --label "partnerhub${INSTANCE:+ $INSTANCE}" > "$pids/mailpit.pid"
}

prometheus_targets="$STATE/prometheus/targets"

start_prometheus() {
  if alive prometheus; then log "prometheus already running (pid $(cat "$pids/prometheus.pid"))"; return 0; fi
  if ! command -v prometheus >/dev/null; then
    log "Prometheus not found on PATH (Debian package 'prometheus'): starting without it"
    return 0
  fi
  port_open "$PROMETHEUS_PORT" && die "127.0.0.1:$PROMETHEUS_PORT is taken by another process; stop it or set PARTNERHUB_PROMETHEUS_PORT"
  mkdir -p "$prometheus_targets" "$STATE/prometheus/data"
  sed -e "s|@TARGETS@|$prometheus_targets|g" -e "s|@ALERTS@|$repo/deploy/prometheus/alerts.yml|" \
    "$here/prometheus/prometheus.yml.in" > "$STATE/prometheus/prometheus.yml"
  # The platform's instance scrapes the services `make up` runs, on their default ports;
  # the others only what is dropped into the targets directory (the tests' services).
  if [ -z "$INSTANCE" ]; then
    cat > "$prometheus_targets/local.json" <<JSON
[
  {"targets": ["127.0.0.1:8001"], "labels": {"service": "onboarding"}},
  {"targets": ["127.0.0.1:8002"], "labels": {"service": "enablement"}},
  {"targets": ["127.0.0.1:8003"], "labels": {"service": "incentives"}},
  {"targets": ["127.0.0.1:8004"], "labels": {"service": "reporting"}},
  {"targets": ["127.0.0.1:8005"], "labels": {"service": "notifications"}}
]
JSON
  fi
  log "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT (targets: $prometheus_targets/*.json)"
  : > "$logs/prometheus.log"
  python3 "$here/spawn.py" "$logs/prometheus.log" prometheus \
    --config.file="$STATE/prometheus/prometheus.yml" --storage.tsdb.path="$STATE/prometheus/data" \
    --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    > "$pids/prometheus.pid"
}

wait_prometheus() {
  [ -f "$pids/prometheus.pid" ] || return 0
  wait_port prometheus "$PROMETHEUS_PORT" 60
  local deadline=$((SECONDS + 60))
  until curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; do
    alive prometheus || { tail -n 30 "$logs/prometheus.log" >&2; die "prometheus exited during start-up"; }
    [ $SECONDS -lt $deadline ] || die "prometheus not ready within 60 s (log: $logs/prometheus.log)"
    sleep 0.5
  done
}

stop() { # stop NAME: TERM, wait, then KILL; only the recorded pid
  local name=$1 f="$pids/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop within 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

cmd_up() {
  mkdir -p "$pids" "$logs"
  fetch_kafka
  fetch_ferretdb
  fetch_oidc
  fetch_mailpit
  start_kafka
  start_ferretdb
  start_oidc
  start_mailpit
  start_prometheus
  wait_port ferretdb "$MONGO_PORT" 60
  wait_port oidc "$OIDC_PORT" 30
  wait_mailpit
  wait_port kafka "$KAFKA_PORT" 120
  wait_prometheus
  [ -x "$PYTHON" ] || die "$PYTHON not found: run 'make venv' first"
  # Creates the contract's topics and their .dlq twins, and waits until the
  # broker serves metadata and MongoDB answers a ping.
  (cd "$repo" && KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" MONGODB_URL="mongodb://127.0.0.1:$MONGO_PORT" \
    TOPIC_PARTITIONS="$TOPIC_PARTITIONS" "$PYTHON" -m shared.infra ready --create-topics) \
    || die "infrastructure started but did not become ready (logs: $logs)"
  add_scram_user
  local with_prometheus=""
  alive prometheus && with_prometheus=", Prometheus http://127.0.0.1:$PROMETHEUS_PORT"
  log "ready: Kafka 127.0.0.1:$KAFKA_PORT (SCRAM: $KAFKA_SASL_PORT), MongoDB protocol (FerretDB) 127.0.0.1:$MONGO_PORT, OIDC issuer $oidc_issuer, SMTP $smtp_url (inbox $mail_inbox_url)$with_prometheus; data and logs under $STATE"
}

component() { # component NAME: refuse anything but the ones we run
  case "${1:-}" in
    kafka|ferretdb|oidc|mailpit|prometheus) ;;
    *) echo "usage: $0 stop|start kafka|ferretdb|oidc|mailpit|prometheus" >&2; exit 2 ;;
  esac
}

cmd_start() { # start one component again (after `stop NAME`) and wait until it serves
  component "${1:-}"
  mkdir -p "$pids" "$logs"
  case "$1" in
    kafka) fetch_kafka; start_kafka; wait_port kafka "$KAFKA_PORT" 120 ;;
    ferretdb) fetch_ferretdb; start_ferretdb; wait_port ferretdb "$MONGO_PORT" 60 ;;
    oidc) fetch_oidc; start_oidc; wait_port oidc "$OIDC_PORT" 30; log "oidc serves again"; return 0 ;;
    mailpit) fetch_mailpit; start_mailpit; wait_mailpit; log "mailpit serves again"; return 0 ;;
    prometheus) start_prometheus; wait_prometheus; log "prometheus serves again"; return 0 ;;
  esac
  [ -x "$PYTHON" ] || die "$PYTHON not found: run 'make venv' first"
  (cd "$repo" && KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" MONGODB_URL="mongodb://127.0.0.1:$MONGO_PORT" \
    "$PYTHON" -m shared.infra ready) || die "$1 started but the infrastructure did not become ready (logs: $logs)"
  [ "$1" = kafka ] && add_scram_user
  log "$1 serves again"
}

cmd_down() {
  stop prometheus
  stop mailpit
  stop oidc
  stop kafka
  stop ferretdb
}

cmd_env() {
  printf '%s=%s\n' PARTNERHUB_STATE "$STATE" PARTNERHUB_KAFKA_PORT "$KAFKA_PORT" \
    PARTNERHUB_KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT" PARTNERHUB_KAFKA_SASL_PORT "$KAFKA_SASL_PORT" \
    PARTNERHUB_MONGO_PORT "$MONGO_PORT" PARTNERHUB_OIDC_PORT "$OIDC_PORT" PARTNERHUB_OIDC_ISSUER "$oidc_issuer" \
    PARTNERHUB_PROMETHEUS_PORT "$PROMETHEUS_PORT" PARTNERHUB_SMTP_PORT "$SMTP_PORT" \
    PARTNERHUB_MAIL_HTTP_PORT "$MAIL_HTTP_PORT" PARTNERHUB_SMTP_URL "$smtp_url" \
    PARTNERHUB_MAIL_INBOX_URL "$mail_inbox_url"
}

cmd_wipe() {
  if alive kafka || alive ferretdb || alive mailpit; then
    die "the instance's Kafka, FerretDB or Mailpit runs (data under $STATE): stop it first"
  fi
  log "deleting the Kafka, FerretDB and Mailpit data under $STATE"
  rm -rf "$STATE/kafka" "$STATE/ferretdb" "$STATE/mailpit"
}

cmd_status() {
  local name
  for name in kafka ferretdb oidc mailpit prometheus; do
    if alive "$name"; then echo "$name: running (pid $(cat "$pids/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  fetch) fetch_kafka; fetch_ferretdb; fetch_oidc; fetch_mailpit ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  wipe) cmd_wipe ;;
  stop) component "${2:-}"; stop "$2" ;;
  start) cmd_start "${2:-}" ;;
  *) echo "usage: $0 fetch|up|down|status|env|wipe|stop NAME|start NAME" >&2; exit 2 ;;
esac
