-- GET /todos?offset=5000: page and total in one statement, at OFFSET 5000;
-- the page's ids first (an index-only scan skips the offset), then its rows.
-- The account check (services/caller.go accountCheck) carries the token's
-- id (:tid, from -D, a hash no revoked token has). The listing gate
-- (services/todo_list.go listGate) tries two advisory-lock slots of the
-- user; each pgbench client has its own (client_id), so it always gets
-- one, as the service does with LIST_CONCURRENCY above the clients.
\set one 1
\set ver 0
\set lim 21
\set off 5000
\set slot_a 1953457152 + :client_id
\set slot_b 1953457152 + :client_id + 1000
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
WITH p AS (SELECT todos.id FROM "todos" WHERE ((SELECT pg_try_advisory_xact_lock(:slot_a, :bench_user) OR pg_try_advisory_xact_lock(:slot_b, :bench_user))) AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = :tid))) ORDER BY todos.created_at DESC, todos.id DESC LIMIT :lim OFFSET :off) SELECT todos.*, (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) AS list_total FROM p JOIN todos ON todos.id = p.id ORDER BY todos.created_at DESC, todos.id DESC;
