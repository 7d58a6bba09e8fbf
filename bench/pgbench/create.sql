-- POST /todos: the one INSERT the service sends (services/todos.go insert):
-- INSERT ... SELECT from VALUES, written only when the account check holds.
\set one 1
\set ver 0
\set p random(0, 5)
\set c random(1, 10)
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
INSERT INTO todos (user_id, title, description, completed, priority, due_date, created_at, updated_at) SELECT * FROM (VALUES (:bench_user::bigint, 'Pay invoice'::varchar, 'Remember the invoice before Friday.'::text, (:c <= 3)::boolean, :p::smallint, (now() + interval '7 days')::timestamptz, now()::timestamptz, now()::timestamptz)) AS v WHERE EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver) RETURNING id;
