#!/usr/bin/env bash
# bench/run.sh: benchmark the todo API end to end and compare every
# scenario with its ceiling, pgbench running the same SQL on the same
# PostgreSQL. Method and results: docs/benchmarks.md.
#
# Usage (from anywhere; needs PostgreSQL on 127.0.0.1:5432 with trust auth
# for user postgres, Go, psql and pgbench; installs wrk, jq and curl with
# apt-get when missing):
#
#   bench/run.sh                      # full run: RUNS=3, DURATION=10s, both scales (~16 min on 2 cores)
#   RUNS=1 DURATION=5s bench/run.sh   # quick run (~4 min)
#   REUSE_DB=1 bench/run.sh           # keep databases seeded by an earlier run
#   SCALES=small SCENARIOS="first search" RUNS=1 bench/run.sh   # a subset
#   OLD_REV=c2cb471 PEER=1 bench/run.sh   # every build side by side (below)
#
# This script only drives the tools: it builds the server, creates the
# databases DB_LARGE (1,000 users, 1,000,000 todos, 10,000 of them the bench
# user's) and DB_SMALL (10,000 todos, all the bench user's) with the
# server's own migrations, registers the bench user through the API, seeds
# with plain SQL (bench/seed.sql), VACUUM ANALYZE, times start-up to ready,
# logs in, then for each scenario runs wrk against the service (bench/lua/)
# and pgbench against the database (bench/pgbench/), alternating, RUNS times
# each, and finally EXPLAINs the list queries (bench/explain.sql). Rows
# written by the write scenarios are deleted (and the table vacuumed) after
# every run, so each run sees the seeded data. Every process it starts is
# stopped on exit, Ctrl-C included.
#
# Everything measured is written raw into bench/results/<UTC time>/;
# bench/report (Go) parses it, takes the medians and renders the generated
# part of docs/benchmarks.md. To render a results directory again:
#
#   go run ./bench/report -in bench/results/<UTC time> -out docs/benchmarks.md
#
# bench/report/main.go describes the files of a results directory.
#
# Every build side by side: OLD_REV=<git rev> adds an older build, built
# from a git worktree of that rev in a temporary directory and run on its
# own databases (DB_LARGE_OLD, DB_SMALL_OLD), migrated by its own
# migrations and seeded the same way (an older build refuses a database
# with migrations it does not know). PEER=1 adds the Python reference peer
# (bench/peer/: FastAPI + SQLModel, uvicorn --workers 2), on the current
# build's databases, with its own login. FLOOR=1 (on by default with either)
# adds the floor: the same wrk against the current build's /healthz, which
# touches no database, in every run of the get scenario. Within each
# scenario every run goes current build, old build, peer, pgbench, floor, so
# the machine's load drifts over all of them alike.
#
# Settings (environment, defaults in brackets):
#   RUNS [3]              timed runs per scenario and tool; tables show medians
#   DURATION [10s]        one run (wrk -d, pgbench -T); s or m suffix, or seconds
#   WARMUP [2s]           untimed wrk run before each scenario (0 to skip)
#   THREADS [2]           wrk -t and pgbench -j
#   CONNECTIONS [32]      wrk -c and pgbench -c
#   SCALES [large small]  large: 1M rows, every scenario; small: 10k rows,
#                         the first page, search and cursor scenarios
#   SCENARIOS             restrict to these (get first search offset cursor
#                         create patch mix)
#   REUSE_DB [0]          1: reuse a database this script seeded (same seed)
#   DB_LARGE [todo_bench], DB_SMALL [todo_bench_small]   dropped and recreated!
#   PGHOST [127.0.0.1], PGPORT [5432], PGUSER [postgres]
#   SEARCH_WORD [invoice] q= word; must match ~8% of the rows (checked)
#   PORT [18080]          port of the service under test
#   WRK_TIMEOUT [30s]     wrk --timeout (its default, 2s, would turn slow
#                         answers into socket errors instead of latencies)
#   STARTUP_SAMPLES [3]   server starts timed per scale (median reported)
#   AUTH_LOOKUP [0]       1: the ceiling also runs a separate user lookup
#                         per request (for a build that did one); the
#                         service itself checks the account inside each
#                         statement, as the ceiling's SQL does
#   OLD_REV               a git rev: also benchmark that build (see above)
#   OLD_PORT [18081]      its port
#   DB_LARGE_OLD [todo_bench_old], DB_SMALL_OLD [todo_bench_small_old]   dropped and recreated!
#   PEER [0]              1: also benchmark the Python peer (bench/peer/)
#   PEER_PORT [18082]     its port
#   PEER_PYTHON [/usr/bin/python3]  Debian's Python, where the peer's packages are
#   FLOOR [1 with OLD_REV or PEER, else 0]  1: the /healthz floor in the get runs
#   DOC [docs/benchmarks.md]  the file whose generated part is refreshed
#                         (WRITE_DOC=0 to leave it alone)
#   TODO_CREATE_RATE [100000000], TODO_CREATE_BURST [100000000],
#   MAX_TODOS_PER_USER [100000000], LIST_CONCURRENCY [64]
#                         the per-user budgets, raised: every scenario is
#                         one user's load, which the defaults (1,200
#                         creates a minute, 2 listings at once) exist to
#                         refuse; docs/benchmarks.md measures them apart
# The server gets the rest of your environment, so server settings such as
# DB_MAX_OPEN_CONNS=32 bench/run.sh are benchmarked as given.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# The server is built with the toolchain go.mod names, as test.sh does (a
# machine-wide GOTOOLCHAIN=local would otherwise build it with older Go).
toolchain=$(sed -n 's/^toolchain \(go[0-9][0-9.]*\)$/\1/p' "$REPO/go.mod")
export GOTOOLCHAIN="${toolchain:-auto}"

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
SCALES=${SCALES:-large small}
SCENARIOS=${SCENARIOS:-}
REUSE_DB=${REUSE_DB:-0}
DB_LARGE=${DB_LARGE:-todo_bench}
DB_SMALL=${DB_SMALL:-todo_bench_small}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
SEARCH_WORD=${SEARCH_WORD:-invoice}
PORT=${PORT:-18080}
WRK_TIMEOUT=${WRK_TIMEOUT:-30s}
STARTUP_SAMPLES=${STARTUP_SAMPLES:-3}
OLD_REV=${OLD_REV:-}
OLD_PORT=${OLD_PORT:-18081}
DB_LARGE_OLD=${DB_LARGE_OLD:-todo_bench_old}
DB_SMALL_OLD=${DB_SMALL_OLD:-todo_bench_small_old}
PEER=${PEER:-0}
TODO_CREATE_RATE=${TODO_CREATE_RATE:-100000000}
TODO_CREATE_BURST=${TODO_CREATE_BURST:-100000000}
MAX_TODOS_PER_USER=${MAX_TODOS_PER_USER:-100000000}
LIST_CONCURRENCY=${LIST_CONCURRENCY:-64}
PEER_PORT=${PEER_PORT:-18082}
PEER_PYTHON=${PEER_PYTHON:-/usr/bin/python3}
if [[ -n $OLD_REV || $PEER == 1 ]]; then FLOOR=${FLOOR:-1}; else FLOOR=${FLOOR:-0}; fi
DOC=${DOC:-$REPO/docs/benchmarks.md}
WRITE_DOC=${WRITE_DOC:-1}
PREFIX=/api/v1
BENCH_USERNAME=bench
BENCH_EMAIL=bench@bench.example.com
BENCH_PASSWORD=bench-password-2026
SEED_VERSION=1
BASE_URL=http://127.0.0.1:$PORT
# The cursor scenario asks for the page after this row of the default sort.
CURSOR_ROW=5000

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$BENCH_DIR/results/$STAMP
BIN=$BENCH_DIR/results/bin/todo-api
REPORT_BIN=$BENCH_DIR/results/bin/bench-report
WAITREADY_BIN=$BENCH_DIR/results/bin/waitready

# ---------------------------------------------------------------- helpers

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$RESULTS/run.log" >&2; }
die() { log "ERROR: $*"; exit 1; }

# seconds converts 10s, 2m or 10 to whole seconds.
seconds() {
  case $1 in
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

# sql DB SQL: run one statement, unaligned, tuples only.
sql() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }

# sql_kv DB SQL: run one single-row query and print it as column=value lines.
sql_kv() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -Atx -F= -d "$1" -c "$2"; }

# value FILE KEY: the value of KEY in a key=value file.
value() { grep -m1 "^$2=" "$1" | cut -d= -f2-; }

# meta KEY VALUE: one line of meta.txt, which bench/report reads.
meta() { printf '%s=%s\n' "$1" "$2" >>"$RESULTS/meta.txt"; }

db_url() { echo "postgres://$PGUSER@$PGHOST:$PGPORT/$1?sslmode=disable"; }

# Every process started here is recorded and stopped on exit.
SERVER_PID=
OLD_PID=
PEER_PID=
CHILD_PID=
SAMPLER_PID=
OLD_TREE=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "$CHILD_PID" "$SAMPLER_PID"; do
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  stop_server new
  stop_server old
  stop_server peer
  remove_old_tree
  if (( rc != 0 )); then
    printf 'bench/run.sh failed (exit %d); logs in %s\n' "$rc" "$RESULTS" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# in_background runs a command as a child the trap can stop, and waits.
in_background() {
  "$@" &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=
  return "$rc"
}

# ---------------------------------------------------------------- server

# The builds: new (the working tree), old (OLD_REV) and peer (bench/peer).
build_port() {
  case $1 in
    new | floor) echo "$PORT" ;;
    old) echo "$OLD_PORT" ;;
    peer) echo "$PEER_PORT" ;;
  esac
}
build_url() { echo "http://127.0.0.1:$(build_port "$1")"; }
build_pid() {
  case $1 in
    new) echo "$SERVER_PID" ;;
    old) echo "$OLD_PID" ;;
    peer) echo "$PEER_PID" ;;
  esac
}
set_build_pid() {
  case $1 in
    new) SERVER_PID=$2 ;;
    old) OLD_PID=$2 ;;
    peer) PEER_PID=$2 ;;
  esac
}

# start_server DB LOGFILE [BUILD]: starts a build (new by default) on DB and
# waits until it is ready (/readyz answers 200; the peer has only
# /healthz); STARTUP_MS is the time from the start to that answer.
start_server() {
  local db=$1 logfile=$2 build=${3:-new} t0 url ready pid
  url=$(build_url "$build")
  if curl -s -o /dev/null --max-time 1 "$url/healthz"; then
    die "something already answers on $url; set PORT, OLD_PORT or PEER_PORT"
  fi
  t0=$(date +%s%N)
  case $build in
    peer)
      # Its own session (setsid), so that stopping it stops uvicorn's
      # worker processes too. uvicorn's own access log stays on, as the
      # service's does.
      (cd "$BENCH_DIR/peer" && exec setsid env DATABASE_URL="postgresql://$PGUSER@$PGHOST:$PGPORT/$db" \
        SECRET_KEY="$PEER_SECRET" ACCESS_TOKEN_EXPIRE_MINUTES=240 API_V1_PREFIX="$PREFIX" \
        "$PEER_PYTHON" -m uvicorn app:app --host 127.0.0.1 --port "$PEER_PORT" --workers 2 >>"$logfile" 2>&1) &
      ready=/healthz
      ;;
    *)
      local bin=$BIN
      [[ $build == old ]] && bin=$OLD_BIN
      # The working directory is the results folder: no config.yaml or .env of
      # the project is read; every setting is the built-in default or the
      # environment.
      (cd "$RESULTS" && exec env \
        DATABASE_URL="$(db_url "$db")" DATABASE_URL_UNPOOLED="" EMBEDDED_POSTGRES=never \
        ENV=development PORT="$(build_port "$build")" DEBUG=false SHUTDOWN_DRAIN_DELAY=0s \
        TODO_CREATE_RATE="$TODO_CREATE_RATE" TODO_CREATE_BURST="$TODO_CREATE_BURST" \
        MAX_TODOS_PER_USER="$MAX_TODOS_PER_USER" LIST_CONCURRENCY="$LIST_CONCURRENCY" \
        "$bin" serve >>"$logfile" 2>&1) &
      ready=/readyz
      ;;
  esac
  pid=$!
  set_build_pid "$build" "$pid"
  # bench/waitready polls every millisecond from one running process: a
  # curl per attempt costs 5–10 ms of its own, which would be most of what
  # is measured (start-ups timed that way read 50–60 ms long).
  if ! STARTUP_MS=$("$WAITREADY_BIN" -since "$t0" -timeout 120s -pid "$pid" "$url$ready"); then
    kill -0 "$pid" 2>/dev/null || set_build_pid "$build" ""
    die "the $build server was not ready; see $logfile"
  fi
}

# stop_server [BUILD]: stops a build started by start_server (new by default).
stop_server() {
  local build=${1:-new} pid
  pid=$(build_pid "$build")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    if [[ $build == peer ]]; then
      kill -TERM -- "-$pid" 2>/dev/null || true
    else
      kill -TERM "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  fi
  set_build_pid "$build" ""
}

# remove_old_tree: removes the git worktree OLD_REV was built in.
remove_old_tree() {
  if [[ -n $OLD_TREE ]]; then
    git -C "$REPO" worktree remove --force "$OLD_TREE/src" 2>/dev/null || true
    rm -rf "$OLD_TREE"
    git -C "$REPO" worktree prune 2>/dev/null || true
    OLD_TREE=
  fi
}

# build_old: builds OLD_REV from a git worktree in a temporary directory, with
# the toolchain its own go.mod names, into OLD_BIN (kept under
# bench/results/bin/ by commit, so a second run reuses it).
build_old() {
  OLD_SHA=$(git -C "$REPO" rev-parse --verify --quiet "$OLD_REV^{commit}") || die "OLD_REV=$OLD_REV is not a commit"
  OLD_BIN=$BENCH_DIR/results/bin/todo-api-${OLD_SHA:0:12}
  OLD_DESC=$(git -C "$REPO" log -1 --format='%h %cs %s' "$OLD_SHA")
  if [[ -x $OLD_BIN ]]; then
    log "old build: reusing ${OLD_BIN#"$REPO"/} ($OLD_DESC)"
    return
  fi
  OLD_TREE=$(mktemp -d "${TMPDIR:-/tmp}/todo-bench-old.XXXXXX")
  log "old build: git worktree of $OLD_DESC in $OLD_TREE"
  git -C "$REPO" worktree add --detach --quiet "$OLD_TREE/src" "$OLD_SHA" >>"$RESULTS/old-build.log" 2>&1 ||
    die "git worktree add failed; see $RESULTS/old-build.log"
  local tc
  tc=$(sed -n 's/^toolchain \(go[0-9][0-9.]*\)$/\1/p' "$OLD_TREE/src/go.mod")
  (cd "$OLD_TREE/src" && GOTOOLCHAIN="${tc:-$GOTOOLCHAIN}" go build -o "$OLD_BIN.tmp" . >>"$RESULTS/old-build.log" 2>&1) ||
    die "building $OLD_REV failed; see $RESULTS/old-build.log"
  mv "$OLD_BIN.tmp" "$OLD_BIN"
  remove_old_tree
}

# server_cpu_ticks: user + system CPU time of the server so far, in ticks
# (fields 14 and 15 of /proc/PID/stat; the command name has no spaces).
server_cpu_ticks() {
  local stat
  read -r -a stat <"/proc/$SERVER_PID/stat"
  echo $(( stat[13] + stat[14] ))
}

# save_metrics OUT: the server's /metrics as it is now.
save_metrics() { curl -s --max-time 5 "$BASE_URL/metrics" >"$1" || true; }

# rss_sampler PID OUT: appends the VmRSS of PID (kB) to OUT every 100 ms.
rss_sampler() {
  local pid=$1 out=$2 key value
  while kill -0 "$pid" 2>/dev/null; do
    while read -r key value _; do
      if [[ $key == VmRSS: ]]; then
        echo "$value" >>"$out"
        break
      fi
    done <"/proc/$pid/status"
    sleep 0.1
  done
}

# wrk_requests FILE: the request count of the summary line common.lua prints.
wrk_requests() {
  [[ $(grep -m1 '^BENCH ' "$1") =~ (^| )requests=([0-9]+) ]] || die "no request count in $1"
  echo "${BASH_REMATCH[2]}"
}

# ---------------------------------------------------------------- setup

mkdir -p "$RESULTS" "$(dirname "$BIN")"
log "results go to ${RESULTS#"$REPO"/}"

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
DURATION_S=$(seconds "$DURATION")
WARMUP_S=$(seconds "$WARMUP")
[[ $DURATION_S =~ ^[1-9][0-9]*$ ]] || die "DURATION must be like 10s, 1m or 10"
[[ $WARMUP_S =~ ^[0-9]+$ ]] || die "WARMUP must be like 2s or 0"
[[ $SEARCH_WORD =~ ^[A-Za-z]+$ ]] || die "SEARCH_WORD must be letters only"
for scale in $SCALES; do
  [[ $scale == large || $scale == small ]] || die "unknown scale $scale (large or small)"
done

if [[ -d /usr/lib/postgresql ]]; then
  for d in /usr/lib/postgresql/*/bin; do PATH=$PATH:$d; done
fi
missing=()
for tool in wrk jq curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if (( ${#missing[@]} )); then
  sudo=
  (( $(id -u) == 0 )) || sudo=sudo
  log "installing ${missing[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for tool in go psql pgbench wrk jq curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
sql postgres 'SELECT 1' >/dev/null || die "PostgreSQL does not answer on $PGHOST:$PGPORT as $PGUSER"

log "building the server and bench/report"
(cd "$REPO" && go build -o "$BIN" . && go build -o "$REPORT_BIN" ./bench/report && go build -o "$WAITREADY_BIN" ./bench/waitready)
[[ -z $OLD_REV ]] || build_old

# The peer's packages are Debian's (bench/peer/README.md): installed when
# missing, like wrk.
PEER_PACKAGES="python3-fastapi python3-sqlmodel python3-uvicorn python3-psycopg2 python3-passlib python3-jwt python3-bcrypt python3-uvloop python3-httptools"
PEER_SECRET=bench-peer-$STAMP
if [[ $PEER == 1 ]]; then
  if ! "$PEER_PYTHON" -c 'import fastapi, sqlmodel, uvicorn, psycopg2, passlib, jwt, bcrypt, uvloop, httptools' 2>/dev/null; then
    sudo=
    (( $(id -u) == 0 )) || sudo=sudo
    log "installing the peer's Debian packages with apt-get"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086 # a list of package names
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $PEER_PACKAGES >/dev/null
  fi
  "$PEER_PYTHON" -c 'import fastapi, sqlmodel, uvicorn, psycopg2, passlib, jwt, bcrypt' ||
    die "the peer's Python packages do not import with $PEER_PYTHON"
fi

ALL_SCENARIOS="get first search offset cursor create patch mix"
SMALL_SCENARIOS="first search cursor"
wanted() { [[ -z $SCENARIOS || " $SCENARIOS " == *" $1 "* ]]; }

# The settings and the machine, for the report.
GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  GIT_REV+=" (with uncommitted changes)"
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
meta started "$(date -u +%s)"
meta runs "$RUNS"
meta duration_s "$DURATION_S"
meta warmup_s "$WARMUP_S"
meta threads "$THREADS"
meta connections "$CONNECTIONS"
meta scales "$SCALES"
meta startup_samples "$STARTUP_SAMPLES"
meta search_word "$SEARCH_WORD"
meta nproc "$(nproc)"
meta cpu_model "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta mem_total_kb "$(grep -m1 '^MemTotal:' /proc/meminfo | tr -s ' ' | cut -d' ' -f2)"
meta kernel "$(uname -sr)"
meta pg_version "$(sql postgres 'SELECT version()')"
meta pg_settings "$(sql postgres "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'max_connections', 'effective_cache_size', 'random_page_cost', 'jit', 'synchronous_commit', 'plan_cache_mode')")"
meta go_version "$(go version)"
meta wrk_version "$( (wrk -v 2>&1 || true) | head -n1)"
meta pgbench_version "$(pgbench --version)"
meta git_rev "$GIT_REV"
meta server_pool "DB_MAX_OPEN_CONNS=${DB_MAX_OPEN_CONNS:-10 (default)}, DB_MAX_IDLE_CONNS=${DB_MAX_IDLE_CONNS:-10 (default)}, DB_QUERY_EXEC_MODE=${DB_QUERY_EXEC_MODE:-auto (default: cache_statement on a direct host)}"
meta clk_tck "$(getconf CLK_TCK)"
meta floor "$FLOOR"
if [[ -n $OLD_REV ]]; then
  meta old_rev "$OLD_DESC"
fi
if [[ $PEER == 1 ]]; then
  meta peer "FastAPI + SQLModel + psycopg2 on $("$PEER_PYTHON" --version 2>&1), uvicorn --workers 2 (bench/peer)"
  # shellcheck disable=SC2086 # a list of package names
  meta peer_packages "$(dpkg-query -W -f '${Package} ${Version}, ' $PEER_PACKAGES 2>/dev/null | sed 's/, $//')"
fi
meta load_before "$LOAD_BEFORE"
log "machine: $(nproc) CPUs, load average $LOAD_BEFORE"
load=${LOAD_BEFORE%% *}
if (( ${load%.*} * 2 > $(nproc) )); then
  log "warning: the machine is busy (load average $LOAD_BEFORE); numbers will be noisy"
fi

# ---------------------------------------------------------------- per scale

# prepare_db SCALE [BUILD]: creates, migrates and seeds the scale's database
# (or reuses it), and sets DB, BENCH_EVERY, BENCH_USER_ID, SEED_MAX_ID. With
# BUILD old it prepares the old build's own database the same way, with that
# build's migrations and API, and sets DB_OLD instead of DB (the peer uses
# the current build's database).
prepare_db() {
  local scale=$1 build=${2:-new} dir=$RESULTS/$1 n_users n_todos marker current
  local DB= bin=$BIN sfx=
  case $scale in
    large) DB=$DB_LARGE n_users=1000 n_todos=1000000 BENCH_EVERY=100 ;;
    small) DB=$DB_SMALL n_users=1 n_todos=10000 BENCH_EVERY=1 ;;
  esac
  marker="todo-api bench seed v$SEED_VERSION: users=$n_users todos=$n_todos bench_every=$BENCH_EVERY"
  if [[ $build == old ]]; then
    case $scale in
      large) DB=$DB_LARGE_OLD ;;
      small) DB=$DB_SMALL_OLD ;;
    esac
    bin=$OLD_BIN sfx=-old
    marker+=" schema=$OLD_SHA"
  fi
  current=$(sql postgres "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$DB'")
  if [[ $REUSE_DB == 1 && $current == "$marker" ]]; then
    log "[$scale] reusing $DB ($marker)"
  else
    log "[$scale] creating $DB"
    sql postgres "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    sql postgres "CREATE DATABASE $DB" >/dev/null
    log "[$scale] migrating with the server's migrations (todo-api migrate up)"
    (cd "$RESULTS" && DATABASE_URL=$(db_url "$DB") DATABASE_URL_UNPOOLED="" EMBEDDED_POSTGRES=never \
      "$bin" migrate up >>"$RESULTS/migrate-$scale$sfx.log" 2>&1) || die "migrate up failed; see $RESULTS/migrate-$scale$sfx.log"
    log "[$scale] registering the bench user through the API"
    start_server "$DB" "$RESULTS/server-$scale$sfx-setup.log" "$build"
    local body
    body=$(curl -s --max-time 30 -H 'Content-Type: application/json' "$(build_url "$build")$PREFIX/auth/register" \
      -d "{\"email\":\"$BENCH_EMAIL\",\"username\":\"$BENCH_USERNAME\",\"password\":\"$BENCH_PASSWORD\"}")
    stop_server "$build"
    jq -e '.id' >/dev/null <<<"$body" || die "register failed: $body"
    log "[$scale] seeding $n_todos todos for $n_users users (bench/seed.sql)"
    local t0=$SECONDS
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v bench_user="$(jq -r .id <<<"$body")" -v n_users="$n_users" \
      -v n_todos="$n_todos" -v bench_every="$BENCH_EVERY" -f "$BENCH_DIR/seed.sql" >>"$RESULTS/seed-$scale$sfx.log"
    log "[$scale] seeded in $(( SECONDS - t0 )) s; VACUUM ANALYZE"
    sql "$DB" 'VACUUM (ANALYZE)' >/dev/null
    sql postgres "COMMENT ON DATABASE $DB IS '$marker'" >/dev/null
  fi
  BENCH_USER_ID=$(sql "$DB" "SELECT id FROM users WHERE username = '$BENCH_USERNAME'")
  SEED_MAX_ID=$n_todos
  # Rows a crashed earlier run may have left behind.
  sql "$DB" "DELETE FROM todos WHERE id > $SEED_MAX_ID" >/dev/null

  # What the table holds, as the report shows it. The search word's share
  # is counted with the service's own ILIKE.
  local pattern="%$SEARCH_WORD%"
  sql_kv "$DB" "SELECT count(*) AS rows, pg_size_pretty(pg_total_relation_size('todos')) AS size,
      (SELECT count(*) FROM users) AS users, $BENCH_USER_ID AS bench_user,
      count(*) FILTER (WHERE user_id = $BENCH_USER_ID) AS bench_rows,
      count(*) FILTER (WHERE user_id = $BENCH_USER_ID AND id % $BENCH_EVERY = 0) AS bench_rows_on_formula,
      round(100.0 * count(*) FILTER (WHERE description IS NULL) / count(*), 1) AS null_desc,
      round(100.0 * count(*) FILTER (WHERE due_date IS NULL) / count(*), 1) AS null_due,
      round(100.0 * count(*) FILTER (WHERE completed) / count(*), 1) AS completed,
      '$SEARCH_WORD' AS search_word, w.n AS word_rows, round(100.0 * w.n / count(*), 2) AS word_pct,
      w.bench AS word_bench_rows, w.n * 100 BETWEEN 6 * count(*) AND 10 * count(*) AS word_share_ok
    FROM todos, (SELECT count(*) AS n, count(*) FILTER (WHERE user_id = $BENCH_USER_ID) AS bench FROM todos
      WHERE title ILIKE '$pattern' ESCAPE '\\' OR description ILIKE '$pattern' ESCAPE '\\') w
    GROUP BY w.n, w.bench" >"$dir/data$sfx.txt"
  log "[$scale] $DB: $(tr '\n' ' ' <"$dir/data$sfx.txt")"
  [[ $(value "$dir/data$sfx.txt" bench_rows) == 10000 && $(value "$dir/data$sfx.txt" bench_rows_on_formula) == 10000 ]] ||
    die "the bench user owns $(value "$dir/data$sfx.txt" bench_rows) todos in $DB, want 10000 on the id formula"
  [[ $(value "$dir/data$sfx.txt" word_share_ok) == t ]] ||
    log "[$scale] warning: \"$SEARCH_WORD\" matches $(value "$dir/data$sfx.txt" word_pct)% of the rows, not ~8%"
  if [[ $build == old ]]; then
    DB_OLD=$DB
    [[ $BENCH_USER_ID == "$(value "$dir/data.txt" bench_user)" ]] ||
      die "the bench user is $BENCH_USER_ID in $DB but $(value "$dir/data.txt" bench_user) in the current build's database"
  else
    PREPARED_DB=$DB
  fi
}

# cleanup_writes [DB]: deletes rows the write scenarios added and vacuums,
# so the next run starts from the seeded data.
cleanup_writes() {
  local db=${1:-$DB}
  sql "$db" "DELETE FROM todos WHERE id > $SEED_MAX_ID" >/dev/null
  sql "$db" 'VACUUM (ANALYZE) todos' >/dev/null
}

# build_db BUILD: the database a build runs on.
build_db() { if [[ $1 == old ]]; then echo "$DB_OLD"; else echo "$DB"; fi; }

# api_path SCENARIO [BUILD]: the URL path a list scenario hammers. The peer
# has no cursors (the seed had none): its cursor scenario asks for the same
# page, the one after row CURSOR_ROW, by offset, which is how the seed's
# clients reached it.
api_path() {
  case $1 in
    first) echo "$PREFIX/todos?limit=20" ;;
    search) echo "$PREFIX/todos?q=$SEARCH_WORD" ;;
    offset) echo "$PREFIX/todos?offset=5000" ;;
    cursor)
      case ${2:-new} in
        peer) echo "$PREFIX/todos?offset=$CURSOR_ROW&limit=20" ;;
        old) echo "$PREFIX/todos?cursor=$OLD_CURSOR" ;;
        *) echo "$PREFIX/todos?cursor=$CURSOR" ;;
      esac
      ;;
    *) echo "" ;;
  esac
}

lua_script() {
  case $1 in
    get) echo get.lua ;;
    first | search | offset | cursor) echo list.lua ;;
    create) echo create.lua ;;
    patch) echo patch.lua ;;
    mix) echo mix.lua ;;
  esac
}

# pgbench_scripts SCENARIO: sets PGBENCH_SCRIPTS to the -f arguments.
pgbench_scripts() {
  local d=$BENCH_DIR/pgbench
  case $1 in
    get) PGBENCH_SCRIPTS=(-f "$d/get.sql") ;;
    first) PGBENCH_SCRIPTS=(-f "$d/first_page.sql") ;;
    search) PGBENCH_SCRIPTS=(-f "$d/search.sql") ;;
    offset) PGBENCH_SCRIPTS=(-f "$d/offset.sql") ;;
    cursor) PGBENCH_SCRIPTS=(-f "$d/cursor.sql") ;;
    create) PGBENCH_SCRIPTS=(-f "$d/create.sql") ;;
    patch) PGBENCH_SCRIPTS=(-f "$d/patch.sql") ;;
    mix) PGBENCH_SCRIPTS=(-f "$d/get.sql@40" -f "$d/first_page.sql@30" -f "$d/search.sql@10" -f "$d/create.sql@10" -f "$d/patch.sql@10") ;;
  esac
}

is_write() { [[ $1 == create || $1 == patch || $1 == mix ]]; }

# build_token BUILD: the bench user's token for a build (each build signs
# its own; the floor uses the current build's).
build_token() {
  case $1 in
    old) echo "$OLD_TOKEN" ;;
    peer) echo "$PEER_TOKEN" ;;
    *) echo "$TOKEN" ;;
  esac
}

# login BUILD: logs the bench user in to a build and sets its token.
login() {
  local t
  t=$(curl -s --max-time 30 -H 'Content-Type: application/json' "$(build_url "$1")$PREFIX/auth/login" \
    -d "{\"username\":\"$BENCH_USERNAME\",\"password\":\"$BENCH_PASSWORD\"}" | jq -r '.access_token // empty')
  [[ -n $t ]] || die "login to the $1 build failed"
  case $1 in
    old) OLD_TOKEN=$t ;;
    peer) PEER_TOKEN=$t ;;
    *) TOKEN=$t ;;
  esac
}

# run_wrk SCENARIO SECONDS OUT [BUILD]: one wrk run against a build (new by
# default; floor is the current build's /healthz), its output in OUT.
run_wrk() {
  local scenario=$1 secs=$2 out=$3 build=${4:-new} path lua
  path=$(api_path "$scenario" "$build")
  lua=$(lua_script "$scenario")
  if [[ $build == floor ]]; then
    path=/healthz lua=list.lua scenario=floor
  fi
  in_background env BENCH_TOKEN="$(build_token "$build")" BENCH_SCENARIO="$scenario" BENCH_PREFIX="$PREFIX" \
    BENCH_PATH="$path" BENCH_SEARCH_PATH="$(api_path search)" BENCH_ID_BASE="$BENCH_EVERY" BENCH_ID_STRIDE="$BENCH_EVERY" \
    BENCH_ID_COUNT=10000 \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout "$WRK_TIMEOUT" --latency \
    -s "$BENCH_DIR/lua/$lua" "$(build_url "$build")" >"$out" 2>&1 || die "wrk failed; see $out"
  grep -q '^BENCH ' "$out" || die "no summary line from wrk; see $out"
}

# run_pgbench SCENARIO OUT: one pgbench run, its output in OUT.
run_pgbench() {
  local scenario=$1 out=$2
  pgbench_scripts "$scenario"
  in_background pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION_S" \
    -D bench_user="$BENCH_USER_ID" -D id_base="$BENCH_EVERY" -D id_stride="$BENCH_EVERY" -D id_count=10000 \
    -D pattern="%$SEARCH_WORD%" -D word="$SEARCH_WORD" -D cur_ts="$CUR_TS" -D cur_id="$CUR_ID" -D auth_lookup="$CEILING_LOOKUP" \
    -D tid='\x0000000000000000000000000000000000000000000000000000000000000000' \
    "${PGBENCH_SCRIPTS[@]}" "$DB" >"$out" 2>&1 || die "pgbench failed; see $out"
  grep -q '^tps = ' "$out" || die "no tps from pgbench; see $out"
}

# check_once SCENARIO [BUILD]: one request of the scenario must answer 2xx
# before it is hammered (a broken cursor or token would otherwise measure
# errors). The current build stops the run; another build that fails
# (an old build without a route, say) returns 1 and CHECK_CODE says why.
check_once() {
  local build=${2:-new} base auth json
  base=$(build_url "$build")
  auth=(-H "Authorization: Bearer $(build_token "$build")") json=(-H 'Content-Type: application/json')
  case $1 in
    get | mix) CHECK_CODE=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base$PREFIX/todos/$BENCH_EVERY") ;;
    create) CHECK_CODE=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "${json[@]}" -d '{"title":"Check the bench"}' "$base$PREFIX/todos") ;;
    patch) CHECK_CODE=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "${auth[@]}" "${json[@]}" -d '{"priority":1}' "$base$PREFIX/todos/$BENCH_EVERY") ;;
    *)
      if [[ $1 == cursor && $build == old && -z $OLD_CURSOR ]]; then
        CHECK_CODE="no cursor"
      else
        CHECK_CODE=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base$(api_path "$1" "$build")")
      fi
      ;;
  esac
  [[ $CHECK_CODE == 2* ]] && return 0
  [[ $build == new ]] && die "[$1] a single request answered $CHECK_CODE, not 2xx"
  return 1
}

# rotate_server_log: keeps the non-access lines, drops the access log
# written so far (one line per request adds up to hundreds of MB); the same
# for the old build's and the peer's logs.
rotate_server_log() {
  local f
  grep -v ' msg=request ' "$SERVER_LOG" >>"$SERVER_LOG.kept" || true
  : >"$SERVER_LOG"
  for f in "$OLD_LOG" "$PEER_LOG"; do
    [[ -n $f && -f $f ]] || continue
    grep -Ev ' msg=request |^INFO: +[0-9.:]+ - "' "$f" >>"$f.kept" || true
    : >"$f"
  done
}

# get_api PATH [BUILD]: GET with the bench user's token, the body on stdout.
get_api() { curl -s --max-time 30 -H "Authorization: Bearer $(build_token "${2:-new}")" "$(build_url "${2:-new}")$PREFIX$1"; }

# find_cursor SCALE: sets CUR_TS and CUR_ID to the (created_at, id) of row
# CURSOR_ROW of the bench user's default sort, from SQL, and CURSOR to the
# next_cursor the API itself hands out on the page that ends with that row.
# The cursor stays opaque: the API is asked which row its page starts after.
# With OLD_REV, OLD_CURSOR is the old build's own cursor to the same page,
# checked the same way (empty, with a warning, if that build has none).
find_cursor() {
  local scale=$1 order="ORDER BY created_at DESC, id DESC" page first want
  IFS='|' read -r CUR_TS CUR_ID < <(sql "$DB" "SELECT to_char(created_at AT TIME ZONE 'UTC',
      'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), id FROM todos WHERE user_id = $BENCH_USER_ID $order
    OFFSET $(( CURSOR_ROW - 1 )) LIMIT 1")
  [[ -n $CUR_ID ]] || die "[$scale] the bench user has no row $CURSOR_ROW"
  page=$(get_api "/todos?offset=$(( CURSOR_ROW - 20 ))&limit=20")
  [[ $(jq -r '.items[-1].id' <<<"$page") == "$CUR_ID" ]] ||
    die "[$scale] the API's page ending at row $CURSOR_ROW does not end with todo $CUR_ID: $page"
  CURSOR=$(jq -r '.next_cursor // empty' <<<"$page")
  [[ -n $CURSOR ]] || die "[$scale] no next_cursor on the page ending at row $CURSOR_ROW"
  first=$(get_api "/todos?cursor=$CURSOR&limit=1" | jq -r '.items[0].id')
  want=$(sql "$DB" "SELECT id FROM todos WHERE user_id = $BENCH_USER_ID $order OFFSET $CURSOR_ROW LIMIT 1")
  [[ $first == "$want" ]] || die "[$scale] the cursor page starts with todo $first, want $want (row $(( CURSOR_ROW + 1 )))"
  printf 'row=%s\ncreated_at=%s\nid=%s\ncursor=%s\n' "$CURSOR_ROW" "$CUR_TS" "$CUR_ID" "$CURSOR" >"$RESULTS/$scale/cursor.txt"
  log "[$scale] the cursor page starts after row $CURSOR_ROW: ($CUR_TS, id $CUR_ID)"
  if [[ $PEER == 1 ]]; then
    first=$(get_api "/todos?offset=$CURSOR_ROW&limit=1" peer | jq -r '.items[0].id')
    [[ $first == "$want" ]] || die "[$scale] the peer's page after row $CURSOR_ROW starts with todo $first, want $want"
  fi
  OLD_CURSOR=
  if [[ -n $OLD_REV ]]; then
    page=$(get_api "/todos?offset=$(( CURSOR_ROW - 20 ))&limit=20" old)
    OLD_CURSOR=$(jq -r '.next_cursor // empty' <<<"$page" 2>/dev/null || true)
    if [[ -n $OLD_CURSOR ]]; then
      first=$(get_api "/todos?cursor=$OLD_CURSOR&limit=1" old | jq -r '.items[0].id')
      want=$(sql "$DB_OLD" "SELECT id FROM todos WHERE user_id = $BENCH_USER_ID $order OFFSET $CURSOR_ROW LIMIT 1")
      [[ $first == "$want" ]] || die "[$scale] the old build's cursor page starts with todo $first, want $want"
    else
      log "[$scale] warning: the old build hands out no next_cursor; its cursor scenario is skipped"
    fi
  fi
}

# The builds measured beside the current one, in the order of every run.
OTHER_BUILDS=()
[[ -z $OLD_REV ]] || OTHER_BUILDS+=(old)
[[ $PEER != 1 ]] || OTHER_BUILDS+=(peer)

run_scenario() {
  local scale=$1 scenario=$2 run t0 t1 b line
  local dir=$RESULTS/$scale others=()
  check_once "$scenario"
  for b in "${OTHER_BUILDS[@]}"; do
    if check_once "$scenario" "$b"; then
      others+=("$b")
    else
      log "[$scale] $scenario: skipped for the $b build (a single request answered $CHECK_CODE)"
      printf 'code=%s\n' "$CHECK_CODE" >"$dir/$scenario-$b-skipped.txt"
    fi
  done
  if is_write "$scenario"; then cleanup_writes; [[ -z $OLD_REV ]] || cleanup_writes "$DB_OLD"; fi
  if (( WARMUP_S > 0 )); then
    run_wrk "$scenario" "$WARMUP_S" "$dir/$scenario-warmup.txt"
    for b in "${others[@]}"; do
      run_wrk "$scenario" "$WARMUP_S" "$dir/$scenario-$b-warmup.txt" "$b"
    done
    if is_write "$scenario"; then cleanup_writes; [[ -z $OLD_REV ]] || cleanup_writes "$DB_OLD"; fi
  fi
  save_metrics "$dir/$scenario-metrics-before.txt"
  for (( run = 1; run <= RUNS; run++ )); do
    if [[ $scenario == mix ]]; then
      rss_sampler "$SERVER_PID" "$dir/mix-rss-kb-$run.txt" &
      SAMPLER_PID=$!
    fi
    t0=$(server_cpu_ticks)
    run_wrk "$scenario" "$DURATION_S" "$dir/$scenario-wrk-$run.txt"
    t1=$(server_cpu_ticks)
    printf 'cpu_ticks=%d\n' $(( t1 - t0 )) >"$dir/$scenario-cpu-$run.txt"
    if [[ -n $SAMPLER_PID ]]; then
      kill "$SAMPLER_PID" 2>/dev/null || true
      wait "$SAMPLER_PID" 2>/dev/null || true
      SAMPLER_PID=
    fi
    if is_write "$scenario"; then cleanup_writes; fi
    line="$(grep -m1 '^BENCH ' "$dir/$scenario-wrk-$run.txt" | cut -d' ' -f3-)"
    for b in "${others[@]}"; do
      run_wrk "$scenario" "$DURATION_S" "$dir/$scenario-$b-wrk-$run.txt" "$b"
      if is_write "$scenario"; then cleanup_writes "$(build_db "$b")"; fi
      line+="; $b $(grep -m1 '^BENCH ' "$dir/$scenario-$b-wrk-$run.txt" | grep -o 'rps=[^ ]*')"
    done
    run_pgbench "$scenario" "$dir/$scenario-pgbench-$run.txt"
    if is_write "$scenario"; then cleanup_writes; fi
    line+="; pgbench $(grep -m1 '^tps = ' "$dir/$scenario-pgbench-$run.txt")"
    if [[ $scenario == get && $FLOOR == 1 ]]; then
      run_wrk "$scenario" "$DURATION_S" "$dir/$scenario-floor-wrk-$run.txt" floor
      line+="; floor (/healthz) $(grep -m1 '^BENCH ' "$dir/$scenario-floor-wrk-$run.txt" | grep -o 'rps=[^ ]*')"
    fi
    log "[$scale] $scenario run $run/$RUNS: $line"
  done
  save_metrics "$dir/$scenario-metrics-after.txt"
  rotate_server_log
}

for scale in $SCALES; do
  mkdir -p "$RESULTS/$scale"
  prepare_db "$scale"
  DB=$PREPARED_DB
  [[ -z $OLD_REV ]] || prepare_db "$scale" old
  SERVER_LOG=$RESULTS/$scale/server.log
  OLD_LOG= PEER_LOG=
  [[ -z $OLD_REV ]] || OLD_LOG=$RESULTS/$scale/server-old.log
  [[ $PEER != 1 ]] || PEER_LOG=$RESULTS/$scale/peer.log

  # Reads of the users table per request, during a one-second burst of
  # GET /todos/{id}, counted after the server stopped (a backend publishes
  # its statistics when it exits): about 1 (the check inside the todo
  # statement), 2 if a build also looked the user up.
  start_server "$DB" "$SERVER_LOG"
  login new
  users_reads() { sql "$DB" "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'users'"; }
  reads_before=$(users_reads)
  run_wrk get 1 "$RESULTS/$scale/auth-probe-wrk.txt"
  probe_requests=$(wrk_requests "$RESULTS/$scale/auth-probe-wrk.txt")
  stop_server
  sleep 1
  users_read=$(( $(users_reads) - reads_before ))
  # The service reads no user row of its own: each statement checks the
  # account in an EXISTS (services/caller.go), which the ceiling's SQL
  # carries too and which counts here as one read of users per statement.
  # AUTH_LOOKUP=1 adds a separate lookup to the ceiling, for a build that
  # read the user per request.
  CEILING_LOOKUP=${AUTH_LOOKUP:-0}
  printf 'probe_requests=%s\nusers_reads=%s\nceiling_lookup=%s\n' "$probe_requests" "$users_read" "$CEILING_LOOKUP" \
    >"$RESULTS/$scale/auth.txt"
  log "[$scale] $users_read reads of users over $probe_requests requests; the ceiling's auth_lookup is $CEILING_LOOKUP"

  # Start-up to ready, on the migrated and seeded database: the last start
  # stays up and serves the benchmark. The other builds likewise, each on
  # its database (the peer: until /healthz answers).
  for (( i = 1; i <= STARTUP_SAMPLES; i++ )); do
    if (( i > 1 )); then stop_server; fi
    start_server "$DB" "$SERVER_LOG"
    echo "$STARTUP_MS" >>"$RESULTS/$scale/startup-ms.txt"
    log "[$scale] start-up to ready: $STARTUP_MS ms"
  done
  cat "/proc/$SERVER_PID/status" >"$RESULTS/$scale/status-idle.txt"
  for b in "${OTHER_BUILDS[@]}"; do
    for (( i = 1; i <= STARTUP_SAMPLES; i++ )); do
      if (( i > 1 )); then stop_server "$b"; fi
      if [[ $b == old ]]; then start_server "$DB_OLD" "$OLD_LOG" old; else start_server "$DB" "$PEER_LOG" peer; fi
      echo "$STARTUP_MS" >>"$RESULTS/$scale/startup-$b-ms.txt"
      log "[$scale] $b build: start-up to ready: $STARTUP_MS ms"
    done
    login "$b"
  done

  find_cursor "$scale"

  scenarios=$ALL_SCENARIOS
  [[ $scale == small ]] && scenarios=$SMALL_SCENARIOS
  TOKEN_AT=$SECONDS
  for scenario in $scenarios; do
    wanted "$scenario" || continue
    # Tokens expire (the service's after ACCESS_TOKEN_TTL, 1 h by default):
    # a long run logs in again every 20 minutes.
    if (( SECONDS - TOKEN_AT > 1200 )); then
      login new
      for b in "${OTHER_BUILDS[@]}"; do login "$b"; done
      TOKEN_AT=$SECONDS
    fi
    log "[$scale] scenario $scenario"
    run_scenario "$scale" "$scenario"
    if [[ $scenario == mix ]]; then
      cat "/proc/$SERVER_PID/status" >"$RESULTS/$scale/mix-status.txt"
    fi
  done

  if [[ $scale == large ]]; then
    log "[$scale] EXPLAIN (ANALYZE, BUFFERS) of the list queries"
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v bench_user="$BENCH_USER_ID" -v pattern="%$SEARCH_WORD%" -v word="$SEARCH_WORD" \
      -v cur_ts="$CUR_TS" -v cur_id="$CUR_ID" -f "$BENCH_DIR/explain.sql" >"$RESULTS/$scale/explain.md"
  fi
  stop_server
  for b in "${OTHER_BUILDS[@]}"; do stop_server "$b"; done
  rotate_server_log
done

meta finished "$(date -u +%s)"
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- report

"$REPORT_BIN" -in "$RESULTS" -out "$RESULTS/results.md"
if [[ $WRITE_DOC == 1 ]]; then
  "$REPORT_BIN" -in "$RESULTS" -out "$DOC"
  log "wrote ${DOC#"$REPO"/}"
fi
echo
sed -n '/^### Scenarios at/,/^### Service/{/^### Service/d;p}' "$RESULTS/results.md"
log "done; raw results in ${RESULTS#"$REPO"/}"
