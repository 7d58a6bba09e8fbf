-- GET /todos?q=<word>: count, page. The service narrows
-- with the per-user search keys (todo_search_query_keys of the user and the
-- word), then binds the pattern twice; so does pgbench (one parameter per
-- reference).
-- Variables: bench_user, word, pattern (%<word>%), from -D.
\set one 1
\set ver 0
\set lim 21
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT count(*) FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver) AND todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :word) AND ((title ILIKE :pattern ESCAPE '\' OR description ILIKE :pattern ESCAPE '\'));
SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver) AND todo_search_keys(user_id, title, description) @> todo_search_query_keys(:bench_user, :word) AND ((title ILIKE :pattern ESCAPE '\' OR description ILIKE :pattern ESCAPE '\')) ORDER BY created_at DESC, id DESC LIMIT :lim;
