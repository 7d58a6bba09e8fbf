-- GET /todos/{id}: the todo, in the one statement the service sends
-- (services/todos.go Get, as GORM writes it, LIMIT as a parameter). The
-- token is verified in the process (no query); the statement itself checks
-- that the account is active and the token's version current (the EXISTS,
-- services/caller.go). Variables from bench/run.sh (-D): bench_user,
-- id_base, id_stride, id_count, auth_lookup. Every script can start with a
-- separate user lookup, run only when auth_lookup is 1 (AUTH_LOOKUP=1, for
-- comparing with a build that read the user per request).
\set one 1
\set ver 0
\set k random(0, :id_count - 1)
\set id :id_base + :id_stride * :k
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT * FROM todos WHERE id = :id AND user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver) LIMIT :one;
