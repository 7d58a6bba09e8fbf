-- POST /todos: user lookup, then the INSERT GORM sends (services/todos.go
-- Create). The service wraps it in BEGIN/COMMIT (GORM's default
-- transaction); the ceiling runs what the work needs: one autocommit INSERT.
\set one 1
\set p random(0, 5)
\set c random(1, 10)
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
INSERT INTO todos (user_id, title, description, completed, priority, due_date, created_at, updated_at) VALUES (:bench_user, 'Pay invoice', 'Remember the invoice before Friday.', :c <= 3, :p, now() + interval '7 days', now(), now()) RETURNING created_at, updated_at, id;
