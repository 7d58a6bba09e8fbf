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
# What it does: builds the server (go build), creates the databases
# DB_LARGE (1,000 users, 1,000,000 todos, 10,000 of them the bench user's)
# and DB_SMALL (10,000 todos, all the bench user's) with the server's own
# migrations, registers the bench user through the API, seeds with plain SQL
# (bench/seed.sql), VACUUM ANALYZE, measures start-up-to-ready, logs in, then
# for each scenario runs wrk against the service (bench/lua/) and pgbench
# against the database (bench/pgbench/), alternating, RUNS times each, and
# takes medians. Rows written by the write scenarios are deleted (and the
# table vacuumed) after every run, so each run sees the seeded data.
# Results: bench/results/<UTC time>/ (raw output, server log, EXPLAIN) and
# the generated part of docs/benchmarks.md. Every process it starts is
# stopped on exit, Ctrl-C included.
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
#   AUTH_LOOKUP           1 or 0: force the ceiling to run (or skip) the
#                         per-request user lookup; by default it follows
#                         what the service is measured to do
#   DOC [docs/benchmarks.md]  the file whose generated part is refreshed
#                         (WRITE_DOC=0 to leave it alone)
# The server gets the rest of your environment, so server settings such as
# DB_MAX_OPEN_CONNS=32 bench/run.sh are benchmarked as given.

set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)

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

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$BENCH_DIR/results/$STAMP
BIN=$BENCH_DIR/results/bin/todo-api
BEGIN_MARK='<!-- bench/run.sh: generated results begin -->'
END_MARK='<!-- bench/run.sh: generated results end -->'

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

db_url() { echo "postgres://$PGUSER@$PGHOST:$PGPORT/$1?sslmode=disable"; }

# median reads numbers, one per line, and prints their median.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# field NAME reads a "BENCH k=v k=v" line on stdin and prints v of NAME.
field() { tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print substr($0, length(k) + 2); exit }'; }

# b64url_decode decodes unpadded base64url.
b64url_decode() {
  local s=${1//-/+}
  s=${s//_//}
  while (( ${#s} % 4 )); do s+="="; done
  printf '%s' "$s" | base64 -d
}

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
  deadline=$(( t0 + 120 * 1000000000 ))
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/readyz" || true)
    [[ $code == 200 ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=; die "the server exited during start-up; see $logfile"; }
    (( $(date +%s%N) < deadline )) || die "the server was not ready within 120 s; see $logfile"
    sleep 0.005
  done
  STARTUP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}

# server_cpu_ticks: user + system CPU time of the server so far, in ticks.
server_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }

# proc_kb FIELD: VmRSS or VmHWM of the server, in kB.
proc_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"; }

# metric NAME: one value of the server's /metrics (summed over labels).
metric() {
  curl -s --max-time 5 "$BASE_URL/metrics" |
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2; found = 1 } END { if (found) printf "%.6f\n", s; else print 0 }'
}

# rss_sampler PID OUT: every 100 ms, the largest VmRSS seen goes to OUT.
rss_sampler() {
  local pid=$1 out=$2 max=0 key value
  while kill -0 "$pid" 2>/dev/null; do
    while read -r key value _; do
      if [[ $key == VmRSS: ]]; then
        if (( value > max )); then
          max=$value
          echo "$max" >"$out"
        fi
        break
      fi
    done <"/proc/$pid/status"
    sleep 0.1
  done
}

# ---------------------------------------------------------------- setup

mkdir -p "$RESULTS" "$(dirname "$BIN")"
T_START=$(date +%s)
log "results go to ${RESULTS#"$REPO"/}"

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
DURATION_S=$(seconds "$DURATION")
WARMUP_S=$(seconds "$WARMUP")
[[ $DURATION_S =~ ^[1-9][0-9]*$ ]] || die "DURATION must be like 10s, 1m or 10"
[[ $WARMUP_S =~ ^[0-9]+$ ]] || die "WARMUP must be like 2s or 0"
[[ $SEARCH_WORD =~ ^[A-Za-z]+$ ]] || die "SEARCH_WORD must be letters only"

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

log "building the server"
(cd "$REPO" && go build -o "$BIN" .)

ALL_SCENARIOS="get first search offset cursor create patch mix"
SMALL_SCENARIOS="first search cursor"
wanted() { [[ -z $SCENARIOS || " $SCENARIOS " == *" $1 "* ]]; }

# The machine, for the report.
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_TOTAL=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
PG_VERSION=$(sql postgres 'SELECT version()')
PG_SETTINGS=$(sql postgres "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'max_connections', 'effective_cache_size', 'random_page_cost', 'jit', 'synchronous_commit', 'plan_cache_mode')")
GO_VERSION=$(go version)
WRK_VERSION=$( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $1, $2 }')
PGBENCH_VERSION=$(pgbench --version)
GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  GIT_REV+=" (with uncommitted changes)"
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SERVER_POOL="DB_MAX_OPEN_CONNS=${DB_MAX_OPEN_CONNS:-10 (default)}, DB_MAX_IDLE_CONNS=${DB_MAX_IDLE_CONNS:-5 (default)}, DB_QUERY_EXEC_MODE=${DB_QUERY_EXEC_MODE:-auto (default: cache_statement on a direct host)}"
log "machine: $(nproc) CPUs ($CPU_MODEL), $MEM_TOTAL; load average $LOAD_BEFORE"
if awk -v l="${LOAD_BEFORE%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  log "warning: the machine is busy (load average $LOAD_BEFORE); numbers will be noisy"
fi

printf 'scale\tscenario\trun\trps\tp50_ms\tp90_ms\tp99_ms\tmax_ms\tnon2xx\tsock_errors\tstatuses\trequests\tcpu_us_per_req\n' >"$RESULTS/api.tsv"
printf 'scale\tscenario\trun\ttps\tlatency_avg_ms\tfailed\n' >"$RESULTS/pgbench.tsv"
printf 'scale\tscenario\tpool_wait_count\tpool_wait_s\tmax_idle_closed\tapi_requests\n' >"$RESULTS/pool.tsv"
printf 'scale\tsample\tstartup_ms\n' >"$RESULTS/startup.tsv"

# ---------------------------------------------------------------- per scale

# prepare_db SCALE: creates, migrates and seeds the scale's database (or
# reuses it), and sets DB, N_TODOS, BENCH_EVERY, BENCH_USER_ID, SEED_MAX_ID.
prepare_db() {
  local scale=$1 n_users marker current
  case $scale in
    large) DB=$DB_LARGE n_users=1000 N_TODOS=1000000 BENCH_EVERY=100 ;;
    small) DB=$DB_SMALL n_users=1 N_TODOS=10000 BENCH_EVERY=1 ;;
    *) die "unknown scale $scale (large or small)" ;;
  esac
  marker="todo-api bench seed v$SEED_VERSION: users=$n_users todos=$N_TODOS bench_every=$BENCH_EVERY"
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
    log "[$scale] seeding $N_TODOS todos for $n_users users (bench/seed.sql)"
    local t0=$SECONDS
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v bench_user="$(jq -r .id <<<"$body")" -v n_users="$n_users" \
      -v n_todos="$N_TODOS" -v bench_every="$BENCH_EVERY" -f "$BENCH_DIR/seed.sql" >>"$RESULTS/seed-$scale.log"
    log "[$scale] seeded in $(( SECONDS - t0 )) s; VACUUM ANALYZE"
    sql "$DB" 'VACUUM (ANALYZE)' >/dev/null
    sql postgres "COMMENT ON DATABASE $DB IS '$marker'" >/dev/null
  fi
  BENCH_USER_ID=$(sql "$DB" "SELECT id FROM users WHERE username = '$BENCH_USERNAME'")
  SEED_MAX_ID=$N_TODOS
  # Rows a crashed earlier run may have left behind.
  sql "$DB" "DELETE FROM todos WHERE id > $SEED_MAX_ID" >/dev/null

  local stats
  stats=$(sql "$DB" "SELECT count(*), count(*) FILTER (WHERE user_id = $BENCH_USER_ID),
      count(*) FILTER (WHERE user_id = $BENCH_USER_ID AND id % $BENCH_EVERY = 0),
      round(100.0 * count(*) FILTER (WHERE description IS NULL) / count(*), 1),
      round(100.0 * count(*) FILTER (WHERE due_date IS NULL) / count(*), 1),
      round(100.0 * count(*) FILTER (WHERE completed) / count(*), 1),
      (SELECT count(*) FROM users), pg_size_pretty(pg_total_relation_size('todos'))
    FROM todos")
  IFS='|' read -r ROWS BENCH_ROWS BENCH_ROWS_ON_FORMULA NULL_DESC NULL_DUE COMPLETED N_USERS_SEEN TODOS_SIZE <<<"$stats"
  (( BENCH_ROWS == 10000 && BENCH_ROWS_ON_FORMULA == 10000 )) ||
    die "the bench user owns $BENCH_ROWS todos ($BENCH_ROWS_ON_FORMULA on the id formula), want 10000"
  local pattern="%$SEARCH_WORD%" counts
  counts=$(sql "$DB" "SELECT count(*), round(100.0 * count(*) / $ROWS, 2), count(*) FILTER (WHERE user_id = $BENCH_USER_ID)
    FROM todos WHERE title ILIKE '$pattern' ESCAPE '\\' OR description ILIKE '$pattern' ESCAPE '\\'")
  IFS='|' read -r WORD_ROWS WORD_PCT WORD_BENCH_ROWS <<<"$counts"
  log "[$scale] $ROWS todos ($TODOS_SIZE with indexes), $N_USERS_SEEN users; bench user $BENCH_USER_ID owns $BENCH_ROWS; NULL descriptions $NULL_DESC%, NULL due dates $NULL_DUE%, completed $COMPLETED%"
  log "[$scale] search word \"$SEARCH_WORD\": $WORD_ROWS rows ($WORD_PCT%), $WORD_BENCH_ROWS of them the bench user's"
  awk -v p="$WORD_PCT" 'BEGIN { exit !(p >= 6 && p <= 10) }' ||
    log "[$scale] warning: \"$SEARCH_WORD\" matches $WORD_PCT% of the rows, not ~8%"
  {
    printf 'scale=%s db=%s rows=%s size=%s users=%s bench_user=%s bench_rows=%s null_desc=%s null_due=%s completed=%s\n' \
      "$scale" "$DB" "$ROWS" "$TODOS_SIZE" "$N_USERS_SEEN" "$BENCH_USER_ID" "$BENCH_ROWS" "$NULL_DESC" "$NULL_DUE" "$COMPLETED"
    printf 'search_word=%s rows=%s pct=%s bench_rows=%s\n' "$SEARCH_WORD" "$WORD_ROWS" "$WORD_PCT" "$WORD_BENCH_ROWS"
  } >>"$RESULTS/data.txt"
  eval "DATA_${scale}_ROWS=\$ROWS DATA_${scale}_SIZE=\$TODOS_SIZE DATA_${scale}_WORD_PCT=\$WORD_PCT DATA_${scale}_WORD_ROWS=\$WORD_ROWS DATA_${scale}_WORD_BENCH=\$WORD_BENCH_ROWS DATA_${scale}_NULL_DESC=\$NULL_DESC DATA_${scale}_NULL_DUE=\$NULL_DUE DATA_${scale}_COMPLETED=\$COMPLETED DATA_${scale}_USERS=\$N_USERS_SEEN"
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

pgbench_files() {
  local d=$BENCH_DIR/pgbench
  case $1 in
    get) echo "-f $d/get.sql" ;;
    first) echo "-f $d/first_page.sql" ;;
    search) echo "-f $d/search.sql" ;;
    offset) echo "-f $d/offset.sql" ;;
    cursor) echo "-f $d/cursor.sql" ;;
    create) echo "-f $d/create.sql" ;;
    patch) echo "-f $d/patch.sql" ;;
    mix) echo "-f $d/get.sql@50 -f $d/first_page.sql@30 -f $d/create.sql@10 -f $d/patch.sql@10" ;;
  esac
}

is_write() { [[ $1 == create || $1 == patch || $1 == mix ]]; }

# run_wrk SCALE SCENARIO SECONDS OUT: one wrk run; its summary line ends
# up in OUT (read it with bench_line).
run_wrk() {
  local scenario=$2 secs=$3 out=$4
  in_background env BENCH_TOKEN="$TOKEN" BENCH_SCENARIO="$scenario" BENCH_PREFIX="$PREFIX" \
    BENCH_PATH="$(api_path "$scenario")" BENCH_ID_BASE="$BENCH_EVERY" BENCH_ID_STRIDE="$BENCH_EVERY" \
    BENCH_ID_COUNT=10000 \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout "$WRK_TIMEOUT" --latency \
    -s "$BENCH_DIR/lua/$(lua_script "$scenario")" "$BASE_URL" >"$out" 2>&1 || die "wrk failed; see $out"
  grep -q '^BENCH ' "$out" || die "no summary line from wrk; see $out"
}

bench_line() { grep -m1 '^BENCH ' "$1"; }

# run_pgbench SCENARIO OUT: one pgbench run, output in OUT.
run_pgbench() {
  local scenario=$1 out=$2
  # shellcheck disable=SC2046 # pgbench_files is a word list on purpose
  in_background pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION_S" \
    -D bench_user="$BENCH_USER_ID" -D id_base="$BENCH_EVERY" -D id_stride="$BENCH_EVERY" -D id_count=10000 \
    -D pattern="%$SEARCH_WORD%" -D cur_ts="$CUR_TS" -D cur_id="$CUR_ID" -D auth_lookup="$CEILING_LOOKUP" \
    $(pgbench_files "$scenario") "$DB" >"$out" 2>&1 || die "pgbench failed; see $out"
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

run_scenario() {
  local scale=$1 scenario=$2 run api_line rps tps t0 t1 requests cpu_us w0 wd c0
  local dir=$RESULTS/$scale
  mkdir -p "$dir"
  check_once "$scenario"
  if is_write "$scenario"; then cleanup_writes; fi
  if (( WARMUP_S > 0 )); then
    run_wrk "$scale" "$scenario" "$WARMUP_S" "$dir/$scenario-warmup.txt"
    if is_write "$scenario"; then cleanup_writes; fi
  fi
  w0=$(metric go_sql_wait_count_total); wd=$(metric go_sql_wait_duration_seconds_total)
  c0=$(metric go_sql_max_idle_closed_total)
  local api_requests=0
  for (( run = 1; run <= RUNS; run++ )); do
    if [[ $scenario == mix ]]; then
      rss_sampler "$SERVER_PID" "$dir/mix-rss-max-kb.txt" &
      SAMPLER_PID=$!
    fi
    t0=$(server_cpu_ticks)
    run_wrk "$scale" "$scenario" "$DURATION_S" "$dir/$scenario-wrk-$run.txt"
    t1=$(server_cpu_ticks)
    api_line=$(bench_line "$dir/$scenario-wrk-$run.txt")
    if [[ -n $SAMPLER_PID ]]; then
      kill "$SAMPLER_PID" 2>/dev/null || true
      wait "$SAMPLER_PID" 2>/dev/null || true
      SAMPLER_PID=
      local m
      m=$(cat "$dir/mix-rss-max-kb.txt" 2>/dev/null || echo 0)
      if (( m > MIX_RSS_MAX_KB )); then MIX_RSS_MAX_KB=$m; fi
    fi
    requests=$(field requests <<<"$api_line")
    api_requests=$(( api_requests + requests ))
    cpu_us=$(awk -v d=$(( t1 - t0 )) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.0f", n ? d / hz * 1e6 / n : 0 }')
    printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scale" "$scenario" "$run" \
      "$(field rps <<<"$api_line")" "$(field p50_ms <<<"$api_line")" "$(field p90_ms <<<"$api_line")" \
      "$(field p99_ms <<<"$api_line")" "$(field max_ms <<<"$api_line")" "$(field non2xx <<<"$api_line")" \
      "$(field sock_errors <<<"$api_line")" "$(field statuses <<<"$api_line")" "$requests" "$cpu_us" >>"$RESULTS/api.tsv"
    if is_write "$scenario"; then cleanup_writes; fi
    run_pgbench "$scenario" "$dir/$scenario-pgbench-$run.txt"
    tps=$(awk '/^tps = / { print $3; exit }' "$dir/$scenario-pgbench-$run.txt")
    printf '%s\t%s\t%d\t%s\t%s\t%s\n' "$scale" "$scenario" "$run" "$tps" \
      "$(awk '/^latency average/ { print $4; exit }' "$dir/$scenario-pgbench-$run.txt")" \
      "$(awk '/^number of failed transactions/ { print $5; exit }' "$dir/$scenario-pgbench-$run.txt")" >>"$RESULTS/pgbench.tsv"
    if is_write "$scenario"; then cleanup_writes; fi
    log "[$scale] $scenario run $run/$RUNS: API $(field rps <<<"$api_line") req/s, p50 $(field p50_ms <<<"$api_line") ms, p99 $(field p99_ms <<<"$api_line") ms, statuses $(field statuses <<<"$api_line"), server CPU ${cpu_us} us/req; pgbench $tps tps"
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$scale" "$scenario" \
    "$(awk -v a="$(metric go_sql_wait_count_total)" -v b="$w0" 'BEGIN { printf "%.0f", a - b }')" \
    "$(awk -v a="$(metric go_sql_wait_duration_seconds_total)" -v b="$wd" 'BEGIN { printf "%.3f", a - b }')" \
    "$(awk -v a="$(metric go_sql_max_idle_closed_total)" -v b="$c0" 'BEGIN { printf "%.0f", a - b }')" \
    "$api_requests" >>"$RESULTS/pool.tsv"
  rotate_server_log
}

MIX_RSS_MAX_KB=0
MIX_HWM_KB=
IDLE_RSS_KB=
for scale in $SCALES; do
  prepare_db "$scale"
  SERVER_LOG=$RESULTS/server-$scale.log

  # Does the service load the user from the database on every request
  # (services/auth.go Authenticate), or serve it from its cache
  # (AUTH_CACHE_TTL)? Measured rather than assumed: reads of the users table
  # during a one-second burst of GET /todos/{id}, counted after the server
  # stopped (a backend publishes its statistics when it exits). The ceiling
  # runs the lookup only if the service does (-D auth_lookup).
  start_server "$DB" "$SERVER_LOG"
  TOKEN=$(curl -s --max-time 30 -H 'Content-Type: application/json' "$BASE_URL$PREFIX/auth/login" \
    -d "{\"username\":\"$BENCH_USERNAME\",\"password\":\"$BENCH_PASSWORD\"}" | jq -r '.access_token // empty')
  [[ -n $TOKEN ]] || die "[$scale] login failed"
  users_reads() { sql "$DB" "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'users'"; }
  reads_before=$(users_reads)
  run_wrk "$scale" get 1 "$RESULTS/$scale-auth-probe.txt"
  probe_requests=$(bench_line "$RESULTS/$scale-auth-probe.txt" | field requests)
  stop_server
  sleep 1
  reads_after=$(users_reads)
  LOOKUPS_PER_REQUEST=$(awk -v a="$reads_after" -v b="$reads_before" -v n="$probe_requests" 'BEGIN { printf "%.4f", n ? (a - b) / n : 0 }')
  if [[ -n ${AUTH_LOOKUP:-} ]]; then
    CEILING_LOOKUP=$AUTH_LOOKUP
  else
    CEILING_LOOKUP=$(awk -v r="$LOOKUPS_PER_REQUEST" 'BEGIN { print (r >= 0.5) ? 1 : 0 }')
  fi
  log "[$scale] user lookups per request: $LOOKUPS_PER_REQUEST over $probe_requests requests; the ceiling $( (( CEILING_LOOKUP )) && echo includes || echo leaves out) the lookup"

  # Start-up to ready, on the migrated and seeded database: the last start
  # stays up and serves the benchmark.
  for (( i = 1; i <= STARTUP_SAMPLES; i++ )); do
    if (( i > 1 )); then stop_server; fi
    start_server "$DB" "$SERVER_LOG"
    printf '%s\t%d\t%d\n' "$scale" "$i" "$STARTUP_MS" >>"$RESULTS/startup.tsv"
    log "[$scale] start-up to ready: $STARTUP_MS ms"
  done
  if [[ $scale == large || -z $IDLE_RSS_KB ]]; then IDLE_RSS_KB=$(proc_kb VmRSS); fi
  eval "LOOKUPS_${scale}=\$LOOKUPS_PER_REQUEST CEILING_LOOKUP_${scale}=\$CEILING_LOOKUP"

  # A real cursor from page 250 of the default sort (rows 4,981-5,000):
  # its next_cursor points after row 5,000. The keyset values it carries
  # drive pgbench's cursor.sql and the EXPLAIN.
  CURSOR=$(curl -s --max-time 30 -H "Authorization: Bearer $TOKEN" "$BASE_URL$PREFIX/todos?offset=4980&limit=20" | jq -r '.next_cursor // empty')
  [[ -n $CURSOR ]] || die "[$scale] no next_cursor on page 250"
  payload=$(b64url_decode "${CURSOR%%.*}")
  CUR_US=$(sed -E 's/.*"v":([0-9]+).*/\1/' <<<"$payload")
  CUR_ID=$(sed -E 's/.*"i":([0-9]+).*/\1/' <<<"$payload")
  CUR_TS=$(sql "$DB" "SELECT to_char((timestamptz 'epoch' + $CUR_US * interval '1 microsecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
  row5000=$(sql "$DB" "SELECT id FROM todos WHERE user_id = $BENCH_USER_ID ORDER BY created_at DESC, id DESC OFFSET 4999 LIMIT 1")
  [[ $row5000 == "$CUR_ID" ]] || die "[$scale] the cursor points after todo $CUR_ID, but row 5,000 is $row5000"
  log "[$scale] cursor of page 250: after ($CUR_TS, id $CUR_ID)"

  scenarios=$ALL_SCENARIOS
  [[ $scale == small ]] && scenarios=$SMALL_SCENARIOS
  for scenario in $scenarios; do
    wanted "$scenario" || continue
    log "[$scale] scenario $scenario"
    run_scenario "$scale" "$scenario"
    if [[ $scenario == mix ]]; then
      MIX_HWM_KB=$(proc_kb VmHWM)
    fi
  done

  if [[ $scale == large ]]; then
    log "[$scale] EXPLAIN (ANALYZE, BUFFERS) of the list queries"
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v bench_user="$BENCH_USER_ID" -v pattern="%$SEARCH_WORD%" \
      -v cur_ts="$CUR_TS" -v cur_id="$CUR_ID" -f "$BENCH_DIR/explain.sql" >"$RESULTS/explain-large.md"
  fi
  stop_server
  rotate_server_log
  printf '%s WARN, %s ERROR\n' "$(grep -c ' level=WARN ' "$SERVER_LOG.kept" || true)" \
    "$(grep -c ' level=ERROR ' "$SERVER_LOG.kept" || true)" >"$RESULTS/server-errors-$scale.txt"
done

T_END=$(date +%s)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
RUNTIME_S=$(( T_END - T_START ))

# ---------------------------------------------------------------- report

# med TSV SCALE SCENARIO COLUMN: median of COLUMN over the runs.
med() {
  awk -F'\t' -v s="$2" -v c="$3" -v k="$4" 'NR > 1 && $1 == s && $2 == c { print $k }' "$1" | median
}
total() {
  awk -F'\t' -v s="$2" -v c="$3" -v k="$4" 'NR > 1 && $1 == s && $2 == c { t += $k; n++ } END { if (n) print t; else print "nan" }' "$1"
}
fmt_rate() { awk -v v="$1" 'BEGIN { if (v == "nan") print "–"; else if (v < 100) printf "%.1f", v; else printf "%.0f", v }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { if (v == "nan") print "–"; else if (v < 10) printf "%.2f ms", v; else if (v < 100) printf "%.1f ms", v; else printf "%.0f ms", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "–"; else printf "%.2f", a / b }'; }

describe() {
  case $1 in
    get) echo "get one todo (random id)" ;;
    first) echo "first page (limit=20)" ;;
    search) echo "search (q=$SEARCH_WORD)" ;;
    offset) echo "deep offset (offset=5000)" ;;
    cursor) echo "cursor page (after row 5,000)" ;;
    create) echo "create (POST)" ;;
    patch) echo "patch (PATCH, no If-Match)" ;;
    mix) echo "mix 80/20 read/write" ;;
  esac
}

have() { awk -F'\t' -v s="$1" -v c="$2" 'NR > 1 && $1 == s && $2 == c { f = 1 } END { exit !f }' "$RESULTS/api.tsv"; }

main_table() {
  local scale=$1 s rps p50 p99 n2 se tps errs
  echo "| scenario | API req/s | API p50 | API p99 | non-2xx | pgbench tps | API / ceiling |"
  echo "|---|--:|--:|--:|--:|--:|--:|"
  for s in $ALL_SCENARIOS; do
    have "$scale" "$s" || continue
    rps=$(med "$RESULTS/api.tsv" "$scale" "$s" 4)
    p50=$(med "$RESULTS/api.tsv" "$scale" "$s" 5)
    p99=$(med "$RESULTS/api.tsv" "$scale" "$s" 7)
    n2=$(total "$RESULTS/api.tsv" "$scale" "$s" 9)
    se=$(total "$RESULTS/api.tsv" "$scale" "$s" 10)
    tps=$(med "$RESULTS/pgbench.tsv" "$scale" "$s" 4)
    errs=$n2
    [[ $se != 0 && $se != nan ]] && errs+=" (+$se socket errors)"
    echo "| $(describe "$s") | $(fmt_rate "$rps") | $(fmt_ms "$p50") | $(fmt_ms "$p99") | $errs | $(fmt_rate "$tps") | $(ratio "$rps" "$tps") |"
  done
}

scale_table() {
  local s
  echo "| scenario | p99, 1M rows | p99, 10k rows | API req/s, 1M | API req/s, 10k | pgbench tps, 1M | pgbench tps, 10k | API / ceiling, 1M | API / ceiling, 10k |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
  for s in $SMALL_SCENARIOS; do
    have large "$s" && have small "$s" || continue
    local r1 r2 t1 t2
    r1=$(med "$RESULTS/api.tsv" large "$s" 4); r2=$(med "$RESULTS/api.tsv" small "$s" 4)
    t1=$(med "$RESULTS/pgbench.tsv" large "$s" 4); t2=$(med "$RESULTS/pgbench.tsv" small "$s" 4)
    echo "| $(describe "$s") | $(fmt_ms "$(med "$RESULTS/api.tsv" large "$s" 7)") | $(fmt_ms "$(med "$RESULTS/api.tsv" small "$s" 7)") | $(fmt_rate "$r1") | $(fmt_rate "$r2") | $(fmt_rate "$t1") | $(fmt_rate "$t2") | $(ratio "$r1" "$t1") | $(ratio "$r2" "$t2") |"
  done
}

diagnostics_table() {
  local scale s
  echo "| scale | scenario | server CPU per request | pool waits per request | mean pool wait | connections closed (idle pool full) |"
  echo "|---|---|--:|--:|--:|--:|"
  for scale in $SCALES; do
  for s in $ALL_SCENARIOS; do
    have "$scale" "$s" || continue
    awk -F'\t' -v s="$scale" -v c="$s" -v cpu="$(med "$RESULTS/api.tsv" "$scale" "$s" 13)" -v d="$(describe "$s")" \
      'NR > 1 && $1 == s && $2 == c {
         printf "| %s | %s | %s µs | %.2f | %s | %d |\n", s, d, cpu, ($6 ? $3 / $6 : 0),
           ($3 ? sprintf("%.1f ms", $4 / $3 * 1000) : "–"), $5 }' "$RESULTS/pool.tsv"
  done
  done
}

runs_table() {
  echo "| scale | scenario | run | API req/s | p50 ms | p90 ms | p99 ms | max ms | statuses | server CPU µs/req | pgbench tps |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|"
  awk -F'\t' 'NR == FNR { if (FNR > 1) tps[$1 SUBSEP $2 SUBSEP $3] = $4; next }
    FNR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $11, $13, tps[$1 SUBSEP $2 SUBSEP $3] }' \
    "$RESULTS/pgbench.tsv" "$RESULTS/api.tsv"
}

startup_median() { awk -F'\t' -v s="$1" 'NR > 1 && $1 == s { print $3 }' "$RESULTS/startup.tsv" | median; }
kb_to_mib() { awk -v k="$1" 'BEGIN { if (k == "" || k == 0) print "–"; else printf "%.1f MiB", k / 1024 }'; }

FRAG=$RESULTS/results.md
{
  echo "$BEGIN_MARK"
  echo
  echo "## Results"
  echo
  echo "Generated by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (commit $GIT_REV) in $(( RUNTIME_S / 60 )) min $(( RUNTIME_S % 60 )) s."
  echo "Settings: RUNS=$RUNS, DURATION=${DURATION_S}s, WARMUP=${WARMUP_S}s, wrk -t$THREADS -c$CONNECTIONS, pgbench -c $CONNECTIONS -j $THREADS -M prepared."
  echo
  echo "### Machine"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| CPUs (nproc) | $(nproc) |"
  echo "| CPU model | $CPU_MODEL |"
  echo "| memory | $MEM_TOTAL |"
  echo "| kernel | $(uname -sr) |"
  echo "| PostgreSQL | $PG_VERSION |"
  echo "| PostgreSQL settings | $PG_SETTINGS |"
  echo "| Go | $GO_VERSION |"
  echo "| wrk / pgbench | $WRK_VERSION / $PGBENCH_VERSION |"
  echo "| service pool | $SERVER_POOL |"
  echo "| load average before / after the run | $LOAD_BEFORE / $LOAD_AFTER |"
  echo
  echo "### Data"
  echo
  for scale in $SCALES; do
    r=DATA_${scale}_ROWS
    [[ -n ${!r:-} ]] || continue
    sz=DATA_${scale}_SIZE u=DATA_${scale}_USERS wp=DATA_${scale}_WORD_PCT wr=DATA_${scale}_WORD_ROWS wb=DATA_${scale}_WORD_BENCH
    nd=DATA_${scale}_NULL_DESC nu=DATA_${scale}_NULL_DUE co=DATA_${scale}_COMPLETED
    echo "- $scale: ${!r} todos (todos table with indexes: ${!sz}), ${!u} users, 10,000 todos owned by the bench user;" \
      "${!nd}% NULL descriptions, ${!nu}% NULL due dates, ${!co}% completed." \
      "\"$SEARCH_WORD\" matches ${!wr} rows (${!wp}%), ${!wb} of the bench user's."
  done
  echo
  if grep -q $'^large\t' "$RESULTS/api.tsv"; then
    echo "### Scenarios at 1,000,000 rows"
    echo
    echo "Medians of $RUNS run(s); non-2xx is the total over all runs."
    echo
    main_table large
    echo
  fi
  if grep -q $'^small\t' "$RESULTS/api.tsv" && ! grep -q $'^large\t' "$RESULTS/api.tsv"; then
    echo "### Scenarios at 10,000 rows"
    echo
    main_table small
    echo
  fi
  if grep -q $'^large\t' "$RESULTS/api.tsv" && grep -q $'^small\t' "$RESULTS/api.tsv"; then
    echo "### 1,000,000 rows against 10,000 rows"
    echo
    echo "The bench user owns 10,000 todos in both databases; only the size of the table around them changes."
    echo
    scale_table
    echo
  fi
  echo "### Service"
  echo
  echo "| | |"
  echo "|---|---|"
  for scale in $SCALES; do
    grep -q $'^'"$scale"$'\t' "$RESULTS/startup.tsv" || continue
    echo "| start-up to ready, $scale database (median of $STARTUP_SAMPLES; samples $(awk -F'\t' -v s="$scale" 'NR > 1 && $1 == s { printf "%s%s", sep, $3; sep = ", " }' "$RESULTS/startup.tsv") ms) | $(startup_median "$scale") ms |"
  done
  for scale in $SCALES; do
    l=LOOKUPS_$scale c=CEILING_LOOKUP_$scale
    [[ -n ${!l:-} ]] || continue
    echo "| user lookups per request (reads of \`users\` over a 1 s burst of GET /todos/{id}), $scale | ${!l}: the ceiling $( (( ${!c} )) && echo includes || echo leaves out) the lookup |"
  done
  echo "| RSS after start-up (idle) | $(kb_to_mib "$IDLE_RSS_KB") |"
  echo "| peak RSS during the mixed run (VmRSS sampled every 100 ms) | $(kb_to_mib "$MIX_RSS_MAX_KB") |"
  echo "| VmHWM after the mixed run (peak since the process started) | $(kb_to_mib "${MIX_HWM_KB:-}") |"
  for scale in $SCALES; do
    [[ -f $RESULTS/server-errors-$scale.txt ]] &&
      echo "| lines logged at WARN and ERROR by the server, $scale (\`server-$scale.log.kept\`) | $(cat "$RESULTS/server-errors-$scale.txt") |"
  done
  echo
  echo "### Where the time goes"
  echo
  echo "Server CPU is the service process's user + system time over the timed API runs, divided by requests."
  echo "Pool waits come from the service's \`/metrics\` (\`go_sql_wait_count_total\`, \`go_sql_wait_duration_seconds_total\`, \`go_sql_max_idle_closed_total\`) over the same runs."
  echo
  diagnostics_table
  echo
  echo "<details><summary>Every run</summary>"
  echo
  runs_table
  echo
  echo "</details>"
  echo
  if [[ -s $RESULTS/explain-large.md ]]; then
    echo "### EXPLAIN (ANALYZE, BUFFERS) at 1,000,000 rows"
    echo
    echo "For the bench user, run after the benchmark (\`bench/explain.sql\`). \"literal\" is the plan for the values written into the SQL;"
    echo "\"prepared\" is the statement prepared with parameters, as pgx's statement cache and \`pgbench -M prepared\` run it, on its 7th execution,"
    echo "by when PostgreSQL may have switched to a generic plan."
    echo
    cat "$RESULTS/explain-large.md"
    echo
  fi
  echo "$END_MARK"
} >"$FRAG"

if [[ $WRITE_DOC == 1 ]]; then
  mkdir -p "$(dirname "$DOC")"
  if [[ -f $DOC ]] && grep -qxF "$BEGIN_MARK" "$DOC" && grep -qxF "$END_MARK" "$DOC"; then
    # The hand-written text around the markers stays as it is.
    awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v frag="$FRAG" '
      $0 == b { while ((getline line < frag) > 0) print line; skip = 1; next }
      $0 == e { skip = 0; next }
      !skip { print }' "$DOC" >"$DOC.tmp"
    mv "$DOC.tmp" "$DOC"
  else
    { [[ -f $DOC ]] && cat "$DOC" && echo; cat "$FRAG"; } >"$DOC.tmp"
    mv "$DOC.tmp" "$DOC"
  fi
  log "wrote ${DOC#"$REPO"/}"
fi

echo
for scale in $SCALES; do
  grep -q $'^'"$scale"$'\t' "$RESULTS/api.tsv" || continue
  echo "$scale:"
  main_table "$scale"
  echo
done
if grep -q $'^large\t' "$RESULTS/api.tsv" && grep -q $'^small\t' "$RESULTS/api.tsv"; then
  scale_table
  echo
fi
echo "start-up to ready (median): $(for s in $SCALES; do printf '%s %s ms  ' "$s" "$(startup_median "$s")"; done)"
echo "peak RSS during the mixed run: $(kb_to_mib "$MIX_RSS_MAX_KB") (VmHWM $(kb_to_mib "${MIX_HWM_KB:-}"))"
log "done in $(( RUNTIME_S / 60 )) min $(( RUNTIME_S % 60 )) s; raw results in ${RESULTS#"$REPO"/}"
