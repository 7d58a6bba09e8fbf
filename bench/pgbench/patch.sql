-- PATCH /todos/{id} {"completed", "priority"} without If-Match: user
-- lookup, then the UPDATE ... RETURNING * GORM sends (services/todos.go
-- Update); like create.sql without the BEGIN/COMMIT the service adds.
\set one 1
\set k random(0, :id_count - 1)
\set id :id_base + :id_stride * :k
\set p random(0, 5)
\set c random(1, 10)
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
UPDATE todos SET completed = :c <= 3, priority = :p, updated_at = GREATEST(now(), updated_at + interval '1 microsecond') WHERE id = :id AND user_id = :bench_user RETURNING *;
