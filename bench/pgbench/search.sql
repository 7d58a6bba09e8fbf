-- GET /todos?q=<word>: the matches found once (CTE m: the user's search
-- keys narrow, strpos(lower()) decides), the page and count(*) of m.
-- Variables: bench_user, word, from -D.
-- The account check (services/caller.go accountCheck) carries the token's
-- id (:tid, from -D, a hash no revoked token has). The listing gate
-- (services/todo_list.go listGate) tries two advisory-lock slots of the
-- user; each pgbench client has its own (client_id), so it always gets
-- one, as the service does with LIST_CONCURRENCY above the clients.
\set one 1
\set ver 0
\set lim 21
\set slot_a 1953457152 + :client_id
\set slot_b 1953457152 + :client_id + 1000
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
WITH m AS MATERIALIZED (SELECT todos.id, todos.created_at FROM "todos" WHERE (todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :word) OR todo_search_keys(user_id, title, description) @> todo_search_overflow_key(:bench_user)) AND ((strpos(lower(title), lower(:word)) > 0 OR strpos(lower(description), lower(:word)) > 0)) AND ((SELECT pg_try_advisory_xact_lock(:slot_a, :bench_user) OR pg_try_advisory_xact_lock(:slot_b, :bench_user))) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = :tid)))), p AS (SELECT m.id FROM "m" ORDER BY m.created_at DESC, m.id DESC LIMIT :lim) SELECT todos.*, (SELECT count(*) FROM m) AS list_total FROM p JOIN todos ON todos.id = p.id ORDER BY todos.created_at DESC, todos.id DESC;
