-- EXPLAIN (ANALYZE, BUFFERS) of every list query the API runs, for the
-- bench user, printed as Markdown (bench/run.sh pastes it into
-- docs/benchmarks.md). Each query is shown twice:
--   literal:  the values written into the SQL, so the planner sees them
--             (a "custom plan");
--   prepared: the statement prepared with parameters, as pgx's statement
--             cache (DB_QUERY_EXEC_MODE=cache_statement, the default on a
--             direct host) and pgbench -M prepared run it, EXPLAINed on its
--             7th execution: by then PostgreSQL may have switched to a
--             generic plan, which is what the service really runs.
-- Every query runs once before it is explained, so buffers are warm.
--
-- Every statement is the one the service sends (captured from the server's
-- statement log): the page and the exact total in one statement, the
-- per-user listing gate (two advisory-lock slots; always free here), and
-- the account check (services/caller.go: the user's row and a token id no
-- revoked token has); the bench user's token version is 0.
--
-- psql variables: bench_user, word, cur_ts, cur_id.

\set ON_ERROR_STOP on
\pset pager off
\pset format unaligned
\pset tuples_only on
\set QUIET on

\echo '#### first page and total: ORDER BY created_at DESC, id DESC LIMIT 21, the total (the sum of todo_counts) in the same statement'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) AS list_total FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21;
\o
EXPLAIN (ANALYZE, BUFFERS) SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) AS list_total FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21;
\echo '```'
PREPARE q_first(bigint) AS SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = $1) AS list_total FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = $1 AND (EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21;
\o /dev/null
EXECUTE q_first(:bench_user); EXECUTE q_first(:bench_user); EXECUTE q_first(:bench_user);
EXECUTE q_first(:bench_user); EXECUTE q_first(:bench_user); EXECUTE q_first(:bench_user);
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_first(:bench_user);
\echo '```'
\echo

\echo '#### search q=word: the matches once (CTE m), the page and count(*) of m'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
WITH m AS MATERIALIZED (SELECT todos.id, todos.created_at FROM "todos" WHERE (todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :'word') OR todo_search_keys(user_id, title, description) @> todo_search_overflow_key(:bench_user)) AND ((strpos(lower(title), lower(:'word')) > 0 OR strpos(lower(description), lower(:'word')) > 0)) AND ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea)))), p AS (SELECT m.id FROM "m" ORDER BY m.created_at DESC, m.id DESC LIMIT 21) SELECT todos.*, (SELECT count(*) FROM m) AS list_total FROM p JOIN todos ON todos.id = p.id ORDER BY todos.created_at DESC, todos.id DESC;
\o
EXPLAIN (ANALYZE, BUFFERS) WITH m AS MATERIALIZED (SELECT todos.id, todos.created_at FROM "todos" WHERE (todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :'word') OR todo_search_keys(user_id, title, description) @> todo_search_overflow_key(:bench_user)) AND ((strpos(lower(title), lower(:'word')) > 0 OR strpos(lower(description), lower(:'word')) > 0)) AND ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea)))), p AS (SELECT m.id FROM "m" ORDER BY m.created_at DESC, m.id DESC LIMIT 21) SELECT todos.*, (SELECT count(*) FROM m) AS list_total FROM p JOIN todos ON todos.id = p.id ORDER BY todos.created_at DESC, todos.id DESC;
\echo '```'
PREPARE q_search(bigint, text) AS WITH m AS MATERIALIZED (SELECT todos.id, todos.created_at FROM "todos" WHERE (todo_search_keys(user_id, title, description) @> todo_search_query_keys($1, $2) OR todo_search_keys(user_id, title, description) @> todo_search_overflow_key($1)) AND ((strpos(lower(title), lower($2)) > 0 OR strpos(lower(description), lower($2)) > 0)) AND ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = $1 AND (EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea)))), p AS (SELECT m.id FROM "m" ORDER BY m.created_at DESC, m.id DESC LIMIT 21) SELECT todos.*, (SELECT count(*) FROM m) AS list_total FROM p JOIN todos ON todos.id = p.id ORDER BY todos.created_at DESC, todos.id DESC;
\o /dev/null
EXECUTE q_search(:bench_user, :'word'); EXECUTE q_search(:bench_user, :'word'); EXECUTE q_search(:bench_user, :'word');
EXECUTE q_search(:bench_user, :'word'); EXECUTE q_search(:bench_user, :'word'); EXECUTE q_search(:bench_user, :'word');
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_search(:bench_user, :'word');
\echo '```'
\echo

\echo '#### offset 5000: the ids of LIMIT 21 OFFSET 5000 (index-only), then their rows, with the total'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
WITH p AS (SELECT todos.id FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21 OFFSET 5000) SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) AS list_total FROM p JOIN todos ON todos.id = p.id ORDER BY todos.created_at DESC, todos.id DESC;
\o
EXPLAIN (ANALYZE, BUFFERS) WITH p AS (SELECT todos.id FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21 OFFSET 5000) SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) AS list_total FROM p JOIN todos ON todos.id = p.id ORDER BY todos.created_at DESC, todos.id DESC;
\echo '```'
PREPARE q_offset(bigint) AS WITH p AS (SELECT todos.id FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND user_id = $1 AND (EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21 OFFSET 5000) SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = $1) AS list_total FROM p JOIN todos ON todos.id = p.id ORDER BY todos.created_at DESC, todos.id DESC;
\o /dev/null
EXECUTE q_offset(:bench_user); EXECUTE q_offset(:bench_user); EXECUTE q_offset(:bench_user);
EXECUTE q_offset(:bench_user); EXECUTE q_offset(:bench_user); EXECUTE q_offset(:bench_user);
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_offset(:bench_user);
\echo '```'
\echo

\echo '#### cursor page (after row 5,000): (created_at, id) < (cursor) LIMIT 21, with the total'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) AS list_total FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND (todos.created_at, todos.id) < (:'cur_ts', :cur_id) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21;
\o
EXPLAIN (ANALYZE, BUFFERS) SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) AS list_total FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND (todos.created_at, todos.id) < (:'cur_ts', :cur_id) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21;
\echo '```'
PREPARE q_cursor(bigint, timestamptz, bigint) AS SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = $1) AS list_total FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(1953457152, :bench_user) OR pg_try_advisory_xact_lock(1953457153, :bench_user))) AND (todos.created_at, todos.id) < ($2, $3) AND user_id = $1 AND (EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0 AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = '\x00'::bytea))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT 21;
\o /dev/null
EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id); EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id); EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id);
EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id); EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id); EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id);
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id);
\echo '```'
\echo
