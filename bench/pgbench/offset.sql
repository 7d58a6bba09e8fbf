-- GET /todos?offset=5000: count, page at OFFSET 5000.
\set one 1
\set ver 0
\set lim 21
\set off 5000
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT count(*) FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver);
SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver) ORDER BY created_at DESC, id DESC LIMIT :lim OFFSET :off;
