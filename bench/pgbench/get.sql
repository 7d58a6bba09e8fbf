-- GET /todos/{id}: the auth middleware's user lookup, then the todo.
-- The SQL is what GORM sends (services/auth.go Authenticate,
-- services/todos.go Get), LIMIT included as a parameter as GORM does.
-- Variables from bench/run.sh (-D): bench_user, id_base, id_stride,
-- id_count, auth_lookup. Every script starts with the user lookup the auth
-- middleware does, run only when auth_lookup is 1: bench/run.sh measures
-- whether the service really loads the user on every request (it does not
-- while AUTH_CACHE_TTL caches it) and sets auth_lookup to match.
\set one 1
\set k random(0, :id_count - 1)
\set id :id_base + :id_stride * :k
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT * FROM todos WHERE id = :id AND user_id = :bench_user LIMIT :one;
