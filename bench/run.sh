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
#   DOC [docs/benchmarks.md]  the file whose generated part is refreshed
#                         (WRITE_DOC=0 to leave it alone)
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
CHILD_PID=
SAMPLER_PID=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "$CHILD_PID" "$SAMPLER_PID"; do
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  stop_server
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

# start_server DB LOGFILE: starts the built binary on DB and waits until
# /readyz answers 200; STARTUP_MS is the time from the start to that answer.
start_server() {
  local db=$1 logfile=$2 t0 code deadline
  if curl -s -o /dev/null --max-time 1 "$BASE_URL/healthz"; then
    die "something already answers on port $PORT; set PORT"
  fi
  t0=$(date +%s%N)
  # The working directory is the results folder: no config.yaml or .env of
  # the project is read; every setting is the built-in default or the
  # environment.
  (cd "$RESULTS" && exec env \
    DATABASE_URL="$(db_url "$db")" DATABASE_URL_UNPOOLED="" EMBEDDED_POSTGRES=never \
    ENV=development PORT="$PORT" DEBUG=false SHUTDOWN_DRAIN_DELAY=0s \
    "$BIN" serve >>"$logfile" 2>&1) &
  SERVER_PID=$!
  # bench/waitready polls every millisecond from one running process: a
  # curl per attempt costs 5–10 ms of its own, which would be most of what
  # is measured (start-ups timed that way read 50–60 ms long).
  if ! STARTUP_MS=$("$WAITREADY_BIN" -since "$t0" -timeout 120s -pid "$SERVER_PID" "$BASE_URL/readyz"); then
    kill -0 "$SERVER_PID" 2>/dev/null || SERVER_PID=
    die "the server was not ready; see $logfile"
  fi
}

stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
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
meta load_before "$LOAD_BEFORE"
log "machine: $(nproc) CPUs, load average $LOAD_BEFORE"
load=${LOAD_BEFORE%% *}
if (( ${load%.*} * 2 > $(nproc) )); then
  log "warning: the machine is busy (load average $LOAD_BEFORE); numbers will be noisy"
fi

# ---------------------------------------------------------------- per scale

# prepare_db SCALE: creates, migrates and seeds the scale's database (or
# reuses it), and sets DB, BENCH_EVERY, BENCH_USER_ID, SEED_MAX_ID.
prepare_db() {
  local scale=$1 dir=$RESULTS/$1 n_users n_todos marker current
  case $scale in
    large) DB=$DB_LARGE n_users=1000 n_todos=1000000 BENCH_EVERY=100 ;;
    small) DB=$DB_SMALL n_users=1 n_todos=10000 BENCH_EVERY=1 ;;
  esac
  marker="todo-api bench seed v$SEED_VERSION: users=$n_users todos=$n_todos bench_every=$BENCH_EVERY"
  current=$(sql postgres "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$DB'")
  if [[ $REUSE_DB == 1 && $current == "$marker" ]]; then
    log "[$scale] reusing $DB ($marker)"
  else
    log "[$scale] creating $DB"
    sql postgres "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    sql postgres "CREATE DATABASE $DB" >/dev/null
    log "[$scale] migrating with the server's migrations (todo-api migrate up)"
    (cd "$RESULTS" && DATABASE_URL=$(db_url "$DB") DATABASE_URL_UNPOOLED="" EMBEDDED_POSTGRES=never \
      "$BIN" migrate up >>"$RESULTS/migrate-$scale.log" 2>&1) || die "migrate up failed; see $RESULTS/migrate-$scale.log"
    log "[$scale] registering the bench user through the API"
    start_server "$DB" "$RESULTS/server-$scale-setup.log"
    local body
    body=$(curl -s --max-time 30 -H 'Content-Type: application/json' "$BASE_URL$PREFIX/auth/register" \
      -d "{\"email\":\"$BENCH_EMAIL\",\"username\":\"$BENCH_USERNAME\",\"password\":\"$BENCH_PASSWORD\"}")
    stop_server
    jq -e '.id' >/dev/null <<<"$body" || die "register failed: $body"
    log "[$scale] seeding $n_todos todos for $n_users users (bench/seed.sql)"
    local t0=$SECONDS
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v bench_user="$(jq -r .id <<<"$body")" -v n_users="$n_users" \
      -v n_todos="$n_todos" -v bench_every="$BENCH_EVERY" -f "$BENCH_DIR/seed.sql" >>"$RESULTS/seed-$scale.log"
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
    GROUP BY w.n, w.bench" >"$dir/data.txt"
  log "[$scale] $(tr '\n' ' ' <"$dir/data.txt")"
  [[ $(value "$dir/data.txt" bench_rows) == 10000 && $(value "$dir/data.txt" bench_rows_on_formula) == 10000 ]] ||
    die "the bench user owns $(value "$dir/data.txt" bench_rows) todos, want 10000 on the id formula"
  [[ $(value "$dir/data.txt" word_share_ok) == t ]] ||
    log "[$scale] warning: \"$SEARCH_WORD\" matches $(value "$dir/data.txt" word_pct)% of the rows, not ~8%"
}

# cleanup_writes: deletes rows the write scenarios added and vacuums, so
# the next run starts from the seeded data.
cleanup_writes() {
  sql "$DB" "DELETE FROM todos WHERE id > $SEED_MAX_ID" >/dev/null
  sql "$DB" 'VACUUM (ANALYZE) todos' >/dev/null
}

# api_path SCENARIO: the URL path a list scenario hammers.
api_path() {
  case $1 in
    first) echo "$PREFIX/todos?limit=20" ;;
    search) echo "$PREFIX/todos?q=$SEARCH_WORD" ;;
    offset) echo "$PREFIX/todos?offset=5000" ;;
    cursor) echo "$PREFIX/todos?cursor=$CURSOR" ;;
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

# run_wrk SCENARIO SECONDS OUT: one wrk run, its output in OUT.
run_wrk() {
  local scenario=$1 secs=$2 out=$3
  in_background env BENCH_TOKEN="$TOKEN" BENCH_SCENARIO="$scenario" BENCH_PREFIX="$PREFIX" \
    BENCH_PATH="$(api_path "$scenario")" BENCH_SEARCH_PATH="$(api_path search)" BENCH_ID_BASE="$BENCH_EVERY" BENCH_ID_STRIDE="$BENCH_EVERY" \
    BENCH_ID_COUNT=10000 \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout "$WRK_TIMEOUT" --latency \
    -s "$BENCH_DIR/lua/$(lua_script "$scenario")" "$BASE_URL" >"$out" 2>&1 || die "wrk failed; see $out"
  grep -q '^BENCH ' "$out" || die "no summary line from wrk; see $out"
}

# run_pgbench SCENARIO OUT: one pgbench run, its output in OUT.
run_pgbench() {
  local scenario=$1 out=$2
  pgbench_scripts "$scenario"
  in_background pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION_S" \
    -D bench_user="$BENCH_USER_ID" -D id_base="$BENCH_EVERY" -D id_stride="$BENCH_EVERY" -D id_count=10000 \
    -D pattern="%$SEARCH_WORD%" -D word="$SEARCH_WORD" -D cur_ts="$CUR_TS" -D cur_id="$CUR_ID" -D auth_lookup="$CEILING_LOOKUP" \
    "${PGBENCH_SCRIPTS[@]}" "$DB" >"$out" 2>&1 || die "pgbench failed; see $out"
  grep -q '^tps = ' "$out" || die "no tps from pgbench; see $out"
}

# check_once SCENARIO: one request of the scenario must answer 2xx before
# it is hammered (a broken cursor or token would otherwise measure errors).
check_once() {
  local code auth=(-H "Authorization: Bearer $TOKEN") json=(-H 'Content-Type: application/json')
  case $1 in
    get | mix) code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$BASE_URL$PREFIX/todos/$BENCH_EVERY") ;;
    create) code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "${json[@]}" -d '{"title":"Check the bench"}' "$BASE_URL$PREFIX/todos") ;;
    patch) code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "${auth[@]}" "${json[@]}" -d '{"priority":1}' "$BASE_URL$PREFIX/todos/$BENCH_EVERY") ;;
    *) code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$BASE_URL$(api_path "$1")") ;;
  esac
  [[ $code == 2* ]] || die "[$1] a single request answered $code, not 2xx"
}

# rotate_server_log: keeps the non-access lines, drops the access log
# written so far (one line per request adds up to hundreds of MB).
rotate_server_log() {
  grep -v ' msg=request ' "$SERVER_LOG" >>"$SERVER_LOG.kept" || true
  : >"$SERVER_LOG"
}

# get_api PATH: GET with the bench user's token, the body on stdout.
get_api() { curl -s --max-time 30 -H "Authorization: Bearer $TOKEN" "$BASE_URL$PREFIX$1"; }

# find_cursor SCALE: sets CUR_TS and CUR_ID to the (created_at, id) of row
# CURSOR_ROW of the bench user's default sort, from SQL, and CURSOR to the
# next_cursor the API itself hands out on the page that ends with that row.
# The cursor stays opaque: the API is asked which row its page starts after.
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
}

run_scenario() {
  local scale=$1 scenario=$2 run t0 t1
  local dir=$RESULTS/$scale
  check_once "$scenario"
  if is_write "$scenario"; then cleanup_writes; fi
  if (( WARMUP_S > 0 )); then
    run_wrk "$scenario" "$WARMUP_S" "$dir/$scenario-warmup.txt"
    if is_write "$scenario"; then cleanup_writes; fi
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
    run_pgbench "$scenario" "$dir/$scenario-pgbench-$run.txt"
    if is_write "$scenario"; then cleanup_writes; fi
    log "[$scale] $scenario run $run/$RUNS: $(grep -m1 '^BENCH ' "$dir/$scenario-wrk-$run.txt" | cut -d' ' -f3-); pgbench $(grep -m1 '^tps = ' "$dir/$scenario-pgbench-$run.txt")"
  done
  save_metrics "$dir/$scenario-metrics-after.txt"
  rotate_server_log
}

for scale in $SCALES; do
  mkdir -p "$RESULTS/$scale"
  prepare_db "$scale"
  SERVER_LOG=$RESULTS/$scale/server.log

  # Reads of the users table per request, during a one-second burst of
  # GET /todos/{id}, counted after the server stopped (a backend publishes
  # its statistics when it exits): about 1 (the check inside the todo
  # statement), 2 if a build also looked the user up.
  start_server "$DB" "$SERVER_LOG"
  TOKEN=$(curl -s --max-time 30 -H 'Content-Type: application/json' "$BASE_URL$PREFIX/auth/login" \
    -d "{\"username\":\"$BENCH_USERNAME\",\"password\":\"$BENCH_PASSWORD\"}" | jq -r '.access_token // empty')
  [[ -n $TOKEN ]] || die "[$scale] login failed"
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
  # stays up and serves the benchmark.
  for (( i = 1; i <= STARTUP_SAMPLES; i++ )); do
    if (( i > 1 )); then stop_server; fi
    start_server "$DB" "$SERVER_LOG"
    echo "$STARTUP_MS" >>"$RESULTS/$scale/startup-ms.txt"
    log "[$scale] start-up to ready: $STARTUP_MS ms"
  done
  cat "/proc/$SERVER_PID/status" >"$RESULTS/$scale/status-idle.txt"

  find_cursor "$scale"

  scenarios=$ALL_SCENARIOS
  [[ $scale == small ]] && scenarios=$SMALL_SCENARIOS
  for scenario in $scenarios; do
    wanted "$scenario" || continue
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
