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
-- Every statement carries the account check the service adds (the EXISTS,
-- services/caller.go); the bench user's token version is 0.
--
-- psql variables: bench_user, pattern (%word%), cur_ts, cur_id.

\set ON_ERROR_STOP on
\pset pager off
\pset format unaligned
\pset tuples_only on
\set QUIET on

\echo '#### count(*): the "total" of every listing without q (first page, offset, cursor)'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
SELECT count(*) FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0);
\o
EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0);
\echo '```'
PREPARE q_count(bigint) AS SELECT count(*) FROM "todos" WHERE user_id = $1 AND EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0);
\o /dev/null
EXECUTE q_count(:bench_user); EXECUTE q_count(:bench_user); EXECUTE q_count(:bench_user);
EXECUTE q_count(:bench_user); EXECUTE q_count(:bench_user); EXECUTE q_count(:bench_user);
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_count(:bench_user);
\echo '```'
\echo

\echo '#### first page: ORDER BY created_at DESC, id DESC LIMIT 21'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) ORDER BY created_at DESC, id DESC LIMIT 21;
\o
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) ORDER BY created_at DESC, id DESC LIMIT 21;
\echo '```'
PREPARE q_first(bigint, bigint) AS SELECT * FROM "todos" WHERE user_id = $1 AND EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0) ORDER BY created_at DESC, id DESC LIMIT $2;
\o /dev/null
EXECUTE q_first(:bench_user, 21); EXECUTE q_first(:bench_user, 21); EXECUTE q_first(:bench_user, 21);
EXECUTE q_first(:bench_user, 21); EXECUTE q_first(:bench_user, 21); EXECUTE q_first(:bench_user, 21);
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_first(:bench_user, 21);
\echo '```'
\echo

\echo '#### search count: count(*) with q (per-user search keys, then title ILIKE or description ILIKE)'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
SELECT count(*) FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) AND todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :'word') AND ((title ILIKE :'pattern' ESCAPE '\' OR description ILIKE :'pattern' ESCAPE '\'));
\o
EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) AND todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :'word') AND ((title ILIKE :'pattern' ESCAPE '\' OR description ILIKE :'pattern' ESCAPE '\'));
\echo '```'
PREPARE q_search_count(bigint, bigint, text, text, text) AS SELECT count(*) FROM "todos" WHERE user_id = $1 AND EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0) AND todo_search_keys(user_id, title, description) @> todo_search_query_keys($2, $3) AND ((title ILIKE $4 ESCAPE '\' OR description ILIKE $5 ESCAPE '\'));
\o /dev/null
EXECUTE q_search_count(:bench_user, :bench_user, :'word', :'pattern', :'pattern'); EXECUTE q_search_count(:bench_user, :bench_user, :'word', :'pattern', :'pattern');
EXECUTE q_search_count(:bench_user, :bench_user, :'word', :'pattern', :'pattern'); EXECUTE q_search_count(:bench_user, :bench_user, :'word', :'pattern', :'pattern');
EXECUTE q_search_count(:bench_user, :bench_user, :'word', :'pattern', :'pattern'); EXECUTE q_search_count(:bench_user, :bench_user, :'word', :'pattern', :'pattern');
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_search_count(:bench_user, :bench_user, :'word', :'pattern', :'pattern');
\echo '```'
\echo

\echo '#### search page: q with ORDER BY created_at DESC, id DESC LIMIT 21'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) AND todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :'word') AND ((title ILIKE :'pattern' ESCAPE '\' OR description ILIKE :'pattern' ESCAPE '\')) ORDER BY created_at DESC, id DESC LIMIT 21;
\o
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) AND todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :'word') AND ((title ILIKE :'pattern' ESCAPE '\' OR description ILIKE :'pattern' ESCAPE '\')) ORDER BY created_at DESC, id DESC LIMIT 21;
\echo '```'
PREPARE q_search(bigint, bigint, text, text, text, bigint) AS SELECT * FROM "todos" WHERE user_id = $1 AND EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0) AND todo_search_keys(user_id, title, description) @> todo_search_query_keys($2, $3) AND ((title ILIKE $4 ESCAPE '\' OR description ILIKE $5 ESCAPE '\')) ORDER BY created_at DESC, id DESC LIMIT $6;
\o /dev/null
EXECUTE q_search(:bench_user, :bench_user, :'word', :'pattern', :'pattern', 21); EXECUTE q_search(:bench_user, :bench_user, :'word', :'pattern', :'pattern', 21);
EXECUTE q_search(:bench_user, :bench_user, :'word', :'pattern', :'pattern', 21); EXECUTE q_search(:bench_user, :bench_user, :'word', :'pattern', :'pattern', 21);
EXECUTE q_search(:bench_user, :bench_user, :'word', :'pattern', :'pattern', 21); EXECUTE q_search(:bench_user, :bench_user, :'word', :'pattern', :'pattern', 21);
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_search(:bench_user, :bench_user, :'word', :'pattern', :'pattern', 21);
\echo '```'
\echo

\echo '#### offset 5000: LIMIT 21 OFFSET 5000'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) ORDER BY created_at DESC, id DESC LIMIT 21 OFFSET 5000;
\o
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) ORDER BY created_at DESC, id DESC LIMIT 21 OFFSET 5000;
\echo '```'
PREPARE q_offset(bigint, bigint, bigint) AS SELECT * FROM "todos" WHERE user_id = $1 AND EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0) ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3;
\o /dev/null
EXECUTE q_offset(:bench_user, 21, 5000); EXECUTE q_offset(:bench_user, 21, 5000); EXECUTE q_offset(:bench_user, 21, 5000);
EXECUTE q_offset(:bench_user, 21, 5000); EXECUTE q_offset(:bench_user, 21, 5000); EXECUTE q_offset(:bench_user, 21, 5000);
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_offset(:bench_user, 21, 5000);
\echo '```'
\echo

\echo '#### cursor page (after row 5,000): (created_at, id) < (cursor) LIMIT 21'
\echo
\echo 'literal:'
\echo '```'
\o /dev/null
SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) AND (created_at, id) < (:'cur_ts'::timestamptz, :cur_id) ORDER BY created_at DESC, id DESC LIMIT 21;
\o
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = 0) AND (created_at, id) < (:'cur_ts'::timestamptz, :cur_id) ORDER BY created_at DESC, id DESC LIMIT 21;
\echo '```'
PREPARE q_cursor(bigint, timestamptz, bigint, bigint) AS SELECT * FROM "todos" WHERE user_id = $1 AND EXISTS (SELECT 1 FROM users WHERE users.id = $1 AND users.is_active AND users.token_version = 0) AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4;
\o /dev/null
EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id, 21); EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id, 21);
EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id, 21); EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id, 21);
EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id, 21); EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id, 21);
\o
\echo 'prepared (7th execution):'
\echo '```'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_cursor(:bench_user, :'cur_ts', :cur_id, 21);
\echo '```'
