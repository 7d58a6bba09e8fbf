#!/usr/bin/env bash
# bench/soak.sh: a long mixed run of the current build behind PgBouncer in
# transaction mode (as Neon's pooler is), with a PostgreSQL restart at 1/3
# of the run and a pooler restart at 2/3. Not part of CI; anyone can run it:
#
#   bench/soak.sh                      # 30 minutes, a row of samples a minute
#   SOAK_DURATION=3m bench/soak.sh     # a try: 3 minutes, a row every 10 s
#
# Needs what bench/run.sh needs (PostgreSQL on 127.0.0.1:5432, user postgres,
# trust; Go, psql) and PgBouncer (installed with apt-get when missing). It
# RESTARTS THE MACHINE'S POSTGRESQL CLUSTER once (SOAK_PG_RESTART, default
# `pg_ctlcluster --skip-systemctl-redirect <version> main restart` for the
# cluster on PGPORT): every other client of that server loses its
# connections for about a second. It drops and recreates SOAK_DB.
#
# What it does: builds the server and bench/soak (a Go program in its own
# module), creates SOAK_DB with the server's migrations, registers the bench
# user through the API, seeds 100,000 todos over 100 users (bench/seed.sql;
# the bench user owns every 10th, 10,000), starts a private pgbouncer on a
# free port (pool_mode = transaction) in front of 127.0.0.1:5432 and the
# server with DATABASE_URL pointing at it (DATABASE_URL_UNPOOLED direct, for
# migrations; DB_QUERY_EXEC_MODE=exec, as the service picks on a Neon
# -pooler host). Then `soak load` offers SOAK_RATE requests a second, the mix
# of bench/lua/mix.lua (40% get, 30% first page, 10% search, 10% create, 10%
# patch), and writes a row per interval into samples.csv: RSS and goroutines
# (the service's /metrics: process_resident_memory_bytes, go_goroutines),
# open connections (go_sql_open_connections, and pg_stat_activity for
# SOAK_DB: PgBouncer's server connections), p50/p99/max latency and counts
# by status. Meanwhile this script restarts PostgreSQL at 1/3 and PgBouncer
# (SIGTERM, immediate shutdown, then a fresh start) at 2/3, and records both
# in events.csv. At the end every create answered 201 with an id is looked
# up in the database (0 lost is the target), `soak report` counts the 5xx
# outside the restart windows (from a restart's begin to SOAK_GRACE after
# its end; target 0) and writes docs/soak.md, and `soak plot` draws
# docs/soak.png (four panels, restarts marked). Raw files stay in
# bench/results/soak-<UTC time>/ (git ignores bench/results/).
#
# Settings (environment, defaults in brackets):
#   SOAK_DURATION [30m]     s or m suffix
#   SOAK_INTERVAL [1m; 10s when the run is shorter than 10 minutes]
#   SOAK_RATE [100]         requests per second offered (10% are creates:
#                           the service's per-user create budget is
#                           TODO_CREATE_RATE, 1,200 a minute by default)
#   SOAK_CONCURRENCY [16]   requests in flight at most
#   SOAK_GRACE [10s]        a restart's window lasts this long after it ended
#   SOAK_DB [todo_soak]     dropped and recreated!
#   PORT [18090]            the service; METRICS_PORT [19090] its /metrics
#   POOLER_PORT [first free from 16432]
#   SOAK_PG_RESTART         the command that restarts PostgreSQL
#   WRITE_DOCS [1]          0: leave docs/soak.md and docs/soak.png alone
# The server gets the rest of your environment (DB_MAX_OPEN_CONNS=20 ...).

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
toolchain=$(sed -n 's/^toolchain \(go[0-9][0-9.]*\)$/\1/p' "$REPO/go.mod")
export GOTOOLCHAIN="${toolchain:-auto}"

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
SOAK_DURATION=${SOAK_DURATION:-30m}
SOAK_RATE=${SOAK_RATE:-100}
SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-16}
SOAK_GRACE=${SOAK_GRACE:-10s}
SOAK_DB=${SOAK_DB:-todo_soak}
PORT=${PORT:-18090}
METRICS_PORT=${METRICS_PORT:-19090}
WRITE_DOCS=${WRITE_DOCS:-1}
PREFIX=/api/v1
BENCH_USERNAME=bench
BENCH_EMAIL=bench@bench.example.com
BENCH_PASSWORD=bench-password-2026
N_USERS=100 N_TODOS=100000 BENCH_EVERY=10

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$BENCH_DIR/results/soak-$STAMP
BIN=$BENCH_DIR/results/bin/todo-api
SOAK_BIN=$BENCH_DIR/results/bin/soak
BASE_URL=http://127.0.0.1:$PORT
mkdir -p "$OUT" "$(dirname "$BIN")"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$OUT/soak.log" >&2; }
die() { log "ERROR: $*"; exit 1; }
sql() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }
seconds() {
  case $1 in
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
event() { printf '%s,%s\n' "$(now_ms)" "$1" >>"$OUT/events.csv"; log "event: $1"; }

DURATION_S=$(seconds "$SOAK_DURATION")
[[ $DURATION_S =~ ^[1-9][0-9]*$ ]] || die "SOAK_DURATION must be like 30m, 180s or 180"
if [[ -z ${SOAK_INTERVAL:-} ]]; then
  if (( DURATION_S < 600 )); then SOAK_INTERVAL=10s; else SOAK_INTERVAL=1m; fi
fi
INTERVAL_S=$(seconds "$SOAK_INTERVAL")

if [[ -d /usr/lib/postgresql ]]; then
  for d in /usr/lib/postgresql/*/bin; do PATH=$PATH:$d; done
fi
if ! command -v pgbouncer >/dev/null; then
  sudo=
  (( $(id -u) == 0 )) || sudo=sudo
  log "installing pgbouncer with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq pgbouncer curl jq >/dev/null
  # Debian starts its own pgbouncer service on install; only the private one is used here.
fi
for tool in go psql pgbouncer curl jq pg_isready setpriv; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
sql postgres 'SELECT 1' >/dev/null || die "PostgreSQL does not answer on $PGHOST:$PGPORT as $PGUSER"
if [[ -z ${SOAK_PG_RESTART:-} ]]; then
  cluster=$(pg_lsclusters -h 2>/dev/null | awk -v port="$PGPORT" '$3 == port { print $1, $2; exit }')
  [[ -n $cluster ]] || die "no local cluster on port $PGPORT (pg_lsclusters); set SOAK_PG_RESTART"
  SOAK_PG_RESTART="pg_ctlcluster --skip-systemctl-redirect $cluster restart"
fi

# ---------------------------------------------------------------- processes

SERVER_PID=
POOLER_PID=
LOAD_PID=
POOLER_DIR=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "$LOAD_PID" "$SERVER_PID" "$POOLER_PID"; do
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  [[ -z $POOLER_DIR ]] || rm -rf "$POOLER_DIR"
  if (( rc != 0 )); then printf 'bench/soak.sh failed (exit %d); logs in %s\n' "$rc" "$OUT" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_pooler() {
  # PgBouncer refuses to run as root: it runs as postgres (setpriv execs,
  # so POOLER_PID is pgbouncer itself).
  setpriv --reuid=postgres --regid=postgres --init-groups pgbouncer "$POOLER_DIR/pgbouncer.ini" >>"$OUT/pgbouncer.log" 2>&1 &
  POOLER_PID=$!
  local i
  for (( i = 0; i < 200; i++ )); do
    if pg_isready -q -h 127.0.0.1 -p "$POOLER_PORT" -d "$SOAK_DB"; then return 0; fi
    kill -0 "$POOLER_PID" 2>/dev/null || die "pgbouncer exited; see $OUT/pgbouncer.log"
    sleep 0.05
  done
  die "pgbouncer did not answer on $POOLER_PORT; see $OUT/pgbouncer.log"
}

stop_pooler() {
  if [[ -n $POOLER_PID ]] && kill -0 "$POOLER_PID" 2>/dev/null; then
    kill -TERM "$POOLER_PID" 2>/dev/null || true # immediate shutdown: clients are cut off
    wait "$POOLER_PID" 2>/dev/null || true
  fi
  POOLER_PID=
}

start_server() {
  local url=$1
  if curl -s -o /dev/null --max-time 1 "$BASE_URL/healthz"; then die "something already answers on port $PORT; set PORT"; fi
  (cd "$OUT" && exec env DATABASE_URL="$url" \
    DATABASE_URL_UNPOOLED="postgres://$PGUSER@$PGHOST:$PGPORT/$SOAK_DB?sslmode=disable" \
    DB_QUERY_EXEC_MODE="${DB_QUERY_EXEC_MODE:-exec}" EMBEDDED_POSTGRES=never ENV=development PORT="$PORT" \
    METRICS_ADDR="127.0.0.1:$METRICS_PORT" DEBUG=false SHUTDOWN_DRAIN_DELAY=0s \
    "$BIN" serve >>"$OUT/server.log" 2>&1) &
  SERVER_PID=$!
  "$WAITREADY_BIN" -timeout 120s -pid "$SERVER_PID" "$BASE_URL/readyz" >/dev/null || die "the server was not ready; see $OUT/server.log"
}

stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}

# ---------------------------------------------------------------- setup

log "soak: $SOAK_DURATION, a row every $SOAK_INTERVAL, $SOAK_RATE req/s offered; raw files in ${OUT#"$REPO"/}"
log "building the server, bench/waitready and bench/soak"
WAITREADY_BIN=$BENCH_DIR/results/bin/waitready
(cd "$REPO" && go build -o "$BIN" . && go build -o "$WAITREADY_BIN" ./bench/waitready)
(cd "$BENCH_DIR/soak" && go build -o "$SOAK_BIN" .)

for p in $PORT $METRICS_PORT; do port_free "$p" || die "port $p is in use; set PORT or METRICS_PORT"; done
if [[ -z ${POOLER_PORT:-} ]]; then
  for (( POOLER_PORT = 16432; POOLER_PORT < 16532; POOLER_PORT++ )); do port_free "$POOLER_PORT" && break; done
fi
port_free "$POOLER_PORT" || die "port $POOLER_PORT is in use; set POOLER_PORT"

log "creating $SOAK_DB: migrations, the bench user through the API, $N_TODOS todos (bench/seed.sql)"
sql postgres "DROP DATABASE IF EXISTS $SOAK_DB WITH (FORCE)" >/dev/null
sql postgres "CREATE DATABASE $SOAK_DB" >/dev/null
direct_url="postgres://$PGUSER@$PGHOST:$PGPORT/$SOAK_DB?sslmode=disable"
(cd "$OUT" && DATABASE_URL=$direct_url DATABASE_URL_UNPOOLED="" EMBEDDED_POSTGRES=never "$BIN" migrate up >>"$OUT/migrate.log" 2>&1) ||
  die "migrate up failed; see $OUT/migrate.log"
start_server "$direct_url"
body=$(curl -s --max-time 30 -H 'Content-Type: application/json' "$BASE_URL$PREFIX/auth/register" \
  -d "{\"email\":\"$BENCH_EMAIL\",\"username\":\"$BENCH_USERNAME\",\"password\":\"$BENCH_PASSWORD\"}")
stop_server
jq -e '.id' >/dev/null <<<"$body" || die "register failed: $body"
psql -X -q -v ON_ERROR_STOP=1 -d "$SOAK_DB" -v bench_user="$(jq -r .id <<<"$body")" -v n_users=$N_USERS \
  -v n_todos=$N_TODOS -v bench_every=$BENCH_EVERY -f "$BENCH_DIR/seed.sql" >>"$OUT/seed.log"
sql "$SOAK_DB" 'VACUUM (ANALYZE)' >/dev/null

POOLER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/todo-soak-pgbouncer.XXXXXX")
cat >"$POOLER_DIR/pgbouncer.ini" <<EOF
; private PgBouncer of bench/soak.sh, like Neon's pooler: transaction mode
[databases]
$SOAK_DB = host=$PGHOST port=$PGPORT dbname=$SOAK_DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $POOLER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $POOLER_DIR/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
admin_users = $PGUSER
; PgBouncer's default of 15 s keeps refusing clients ("server login has
; been failing, try again later") for up to 15 s after PostgreSQL is back;
; the first soak saw 181 such 503s 10-13 s after the restart. 1 s is the
; setting a self-hosted pooler in front of a restarting server wants.
server_login_retry = 1
EOF
printf '"%s" ""\n' "$PGUSER" >"$POOLER_DIR/userlist.txt"
chown -R postgres "$POOLER_DIR"
start_pooler
log "pgbouncer $(pgbouncer --version 2>/dev/null | head -n1 | awk '{print $NF}') on 127.0.0.1:$POOLER_PORT (transaction mode), pid $POOLER_PID"

start_server "postgres://$PGUSER@127.0.0.1:$POOLER_PORT/$SOAK_DB?sslmode=disable"
log "server pid $SERVER_PID behind the pooler; $(grep -m1 -o 'query_exec_mode=[a-z_]*' "$OUT/server.log" || echo 'exec mode not logged')"

{
  echo "started=$(date -u +%s)"
  echo "git_rev=$(git -C "$REPO" rev-parse --short HEAD)$( [[ -z $(git -C "$REPO" status --porcelain --untracked-files=no) ]] || echo ' (with uncommitted changes)')"
  echo "duration=$SOAK_DURATION interval=$SOAK_INTERVAL rate=$SOAK_RATE concurrency=$SOAK_CONCURRENCY grace=$SOAK_GRACE"
  echo "pg_restart=$SOAK_PG_RESTART"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"
echo "unix_ms,event" >"$OUT/events.csv"

# ---------------------------------------------------------------- the run

"$SOAK_BIN" load -base "$BASE_URL" -prefix "$PREFIX" -metrics "http://127.0.0.1:$METRICS_PORT/metrics" \
  -username "$BENCH_USERNAME" -password "$BENCH_PASSWORD" -duration "${DURATION_S}s" -interval "${INTERVAL_S}s" \
  -rate "$SOAK_RATE" -concurrency "$SOAK_CONCURRENCY" -id-base "$BENCH_EVERY" -id-stride "$BENCH_EVERY" -id-count 10000 \
  -monitor-url "postgres://$PGUSER@$PGHOST:$PGPORT/postgres?sslmode=disable" -database "$SOAK_DB" \
  -verify-url "$direct_url" -out "$OUT" 2> >(tee -a "$OUT/soak.log" >&2) &
LOAD_PID=$!
t0=$SECONDS

sleep $(( DURATION_S / 3 ))
event pg_restart_begin
$SOAK_PG_RESTART >>"$OUT/pg-restart.log" 2>&1 || log "warning: the restart command failed; see $OUT/pg-restart.log"
for (( i = 0; i < 600; i++ )); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 0.05; done
event pg_restart_end

sleep $(( DURATION_S * 2 / 3 - (SECONDS - t0) > 0 ? DURATION_S * 2 / 3 - (SECONDS - t0) : 0 ))
event pooler_restart_begin
stop_pooler
start_pooler
event pooler_restart_end

wait "$LOAD_PID" || die "soak load failed; see $OUT/soak.log"
LOAD_PID=
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
stop_server
stop_pooler

# The server log without its access lines, but with every 5xx one.
grep -v ' msg=request ' "$OUT/server.log" >"$OUT/server.log.kept" || true
grep ' msg=request ' "$OUT/server.log" | grep -E ' status=5[0-9][0-9]' >>"$OUT/server.log.kept" || true
gzip -f "$OUT/server.log"

# ---------------------------------------------------------------- report

md=$OUT/soak.md png=$OUT/soak.png
title="Run of $(date -u +%Y-%m-%d) (commit $(grep -m1 '^git_rev=' "$OUT/meta.txt" | cut -d= -f2-)): \`SOAK_DURATION=$SOAK_DURATION bench/soak.sh\`, $SOAK_RATE req/s offered, $SOAK_CONCURRENCY in flight at most, PgBouncer $(pgbouncer --version 2>/dev/null | head -n1 | awk '{print $NF}') in transaction mode; $(nproc) CPUs, load average $(grep -m1 '^load_before=' "$OUT/meta.txt" | cut -d= -f2) before, $(grep -m1 '^load_after=' "$OUT/meta.txt" | cut -d= -f2) after."
rc=0
"$SOAK_BIN" report -in "$OUT" -grace "$SOAK_GRACE" -md "$md" -title "$title" >/dev/null || rc=$?
"$SOAK_BIN" plot -in "$OUT" -png "$png" -title "soak: $SOAK_DURATION, restarts marked"
if [[ $WRITE_DOCS == 1 ]]; then
  cp "$md" "$REPO/docs/soak.md"
  cp "$png" "$REPO/docs/soak.png"
  log "wrote docs/soak.md and docs/soak.png"
fi
cat "$OUT/summary.txt" >&2
if (( rc != 0 )); then
  log "the soak missed its targets (5xx outside the restarts, or lost writes): see $OUT/summary.txt and $OUT/errors.csv"
  exit 1
fi
log "done; raw files in ${OUT#"$REPO"/}"
