-- GET /todos?offset=5000: user lookup, count, page at OFFSET 5000.
\set one 1
\set lim 21
\set off 5000
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT count(*) FROM todos WHERE user_id = :bench_user;
SELECT * FROM todos WHERE user_id = :bench_user ORDER BY created_at DESC, id DESC LIMIT :lim OFFSET :off;
