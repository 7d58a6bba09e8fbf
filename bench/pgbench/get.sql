-- GET /todos/{id}: the one statement the service sends (services/todos.go
-- Get). The token is verified in the process; the statement checks the
-- account and that the token is not revoked. Variables from bench/run.sh
-- (-D): bench_user, id_base, id_stride, id_count, tid, auth_lookup.
\set one 1
\set ver 0
\set k random(0, :id_count - 1)
\set id :id_base + :id_stride * :k
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT * FROM "todos" WHERE id = :id AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = :tid))) LIMIT :one;
