-- GET /todos?limit=20: count(*) for "total", then the page
-- with LIMIT 21 (one more row tells whether a next_cursor is due)
-- (services/todo_list.go List).
\set one 1
\set ver 0
\set lim 21
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT count(*) FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver);
SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver) ORDER BY created_at DESC, id DESC LIMIT :lim;
