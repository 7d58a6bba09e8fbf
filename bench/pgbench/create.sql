-- POST /todos: the one statement the service sends (services/todos.go
-- insert): the UPDATE of the user's row checks the account and spends the
-- create budget (create_tat, todo_count; the limits here are the bench's
-- raised ones), and the INSERT writes only when that UPDATE returned the row.
\set one 1
\set ver 0
\set p random(0, 5)
\set c random(1, 10)
\set cost 0.000001
\set max_todos 100000000
\set burst_s 1000000
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
WITH account AS (UPDATE users SET create_tat = greatest(create_tat, now()) + make_interval(secs => :cost) WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = :tid) AND todo_count + :one <= :max_todos AND greatest(create_tat, now()) + make_interval(secs => :cost) - now() <= make_interval(secs => :burst_s) RETURNING users.id) INSERT INTO todos (user_id, title, description, completed, priority, due_date, created_at, updated_at) SELECT * FROM (VALUES (:bench_user::bigint, 'Pay invoice'::varchar, 'Remember the invoice before Friday.'::text, (:c <= 3)::boolean, :p::smallint, (now() + interval '7 days')::timestamptz, now()::timestamptz, now()::timestamptz)) AS v WHERE EXISTS (SELECT 1 FROM account) RETURNING id;
