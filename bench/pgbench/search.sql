-- GET /todos?q=<word>: user lookup, count, page. The service binds the
-- pattern twice ($2, $3); so does pgbench (one parameter per reference).
-- Variables: bench_user, pattern (%<word>%, from -D).
\set one 1
\set lim 21
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT count(*) FROM todos WHERE user_id = :bench_user AND ((title ILIKE :pattern ESCAPE '\' OR description ILIKE :pattern ESCAPE '\'));
SELECT * FROM todos WHERE user_id = :bench_user AND ((title ILIKE :pattern ESCAPE '\' OR description ILIKE :pattern ESCAPE '\')) ORDER BY created_at DESC, id DESC LIMIT :lim;
