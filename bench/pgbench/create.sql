-- POST /todos: the statements the service sends (services/todos.go
-- insertRows) when one user's creates run 32 at once. The write budget is
-- the user's create_budgets row; a create that goes there locks it, takes up to
-- 16 creates' worth of units (ask) and leaves the rest to the creates
-- that follow in the process (services/budget.go), which send the plain
-- INSERT, checked against the account and the todo limit (the sum of the
-- user's todo_counts). One in 16 goes to the row, as the service's do at
-- this concurrency. The limits are the bench's raised ones.
\set one 1
\set ver 0
\set p random(0, 5)
\set c random(1, 10)
\set r random(1, 16)
\set ask 16
\set unit 0.0000006
\set allow 60
\set max_todos 100000000
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
\if :r = 1
WITH account AS (INSERT INTO create_budgets AS b (user_id, tat, granted) SELECT :bench_user::bigint, now() + make_interval(secs => g.units * :unit::float8), g.units FROM (SELECT least(:ask::int, floor((:allow::float8 - extract(epoch FROM greatest(now(), now()) - now())) / :unit::float8 + 1e-9))::int AS units) AS g WHERE g.units >= :one AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = :tid))) ON CONFLICT (user_id) DO UPDATE SET tat = greatest(b.tat, now()) + make_interval(secs => least(:ask::int, floor((:allow::float8 - extract(epoch FROM greatest(b.tat, now()) - now())) / :unit::float8 + 1e-9))::int * :unit::float8), granted = least(:ask::int, floor((:allow::float8 - extract(epoch FROM greatest(b.tat, now()) - now())) / :unit::float8 + 1e-9))::int WHERE least(:ask::int, floor((:allow::float8 - extract(epoch FROM greatest(b.tat, now()) - now())) / :unit::float8 + 1e-9))::int >= :one RETURNING b.granted) INSERT INTO todos (user_id, title, description, completed, priority, due_date, created_at, updated_at) SELECT * FROM (VALUES (:bench_user::bigint, 'Pay invoice'::varchar, 'Remember the invoice before Friday.'::text, (:c <= 3)::boolean, :p::smallint, (now() + interval '7 days')::timestamptz, now()::timestamptz, now()::timestamptz)) AS v WHERE EXISTS (SELECT 1 FROM account) AND (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) + :one <= :max_todos RETURNING id, (SELECT granted FROM account) AS granted;
\else
INSERT INTO todos (user_id, title, description, completed, priority, due_date, created_at, updated_at) SELECT * FROM (VALUES (:bench_user::bigint, 'Pay invoice'::varchar, 'Remember the invoice before Friday.'::text, (:c <= 3)::boolean, :p::smallint, (now() + interval '7 days')::timestamptz, now()::timestamptz, now()::timestamptz)) AS v WHERE (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = :tid))) AND (SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = :bench_user) + :one <= :max_todos RETURNING id, 0 AS granted;
\endif
