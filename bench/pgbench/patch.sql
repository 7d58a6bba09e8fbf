-- PATCH /todos/{id} {"completed", "priority"} without If-Match: the
-- UPDATE ... RETURNING * the service sends (services/todos.go Update).
\set one 1
\set ver 0
\set k random(0, :id_count - 1)
\set id :id_base + :id_stride * :k
\set p random(0, 5)
\set c random(1, 10)
\if :auth_lookup
SELECT * FROM users WHERE id = :bench_user LIMIT :one;
\endif
UPDATE "todos" SET "completed" = :c <= 3, "priority" = :p, "updated_at" = GREATEST(now(), updated_at + interval '1 microsecond') WHERE id = :id AND user_id = :bench_user AND (EXISTS (SELECT 1 FROM users WHERE users.id = :bench_user AND users.is_active AND users.token_version = :ver AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = :tid))) RETURNING *;
