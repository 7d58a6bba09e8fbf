-- GET /todos?cursor=<next_cursor of page 250>: count (total is
-- computed on cursor pages too), then the keyset page. cur_ts and cur_id
-- are the created_at and id of the bench user's row 5,000 in the default
-- sort: bench/run.sh reads them with SQL, checks that the API's cursor
-- points after the same row, and passes them with -D.
\set one 1
\set ver 0
\set lim 21
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
SELECT count(*) FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver);
SELECT * FROM todos WHERE user_id = :bench_user AND EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver) AND (created_at, id) < (:cur_ts, :cur_id) ORDER BY created_at DESC, id DESC LIMIT :lim;
