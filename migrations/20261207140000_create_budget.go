package migrations

// createBudget20261207140000 gives each user a write budget, kept on the
// user's row so that the create statement that checks the account (an
// UPDATE of that row, see services.Todos.insert) also checks and spends it,
// in one round trip and on every instance alike:
//
//   - create_tat is the generic cell rate algorithm's theoretical arrival
//     time of the user's todo creations (TODO_CREATE_RATE per minute with
//     bursts of TODO_CREATE_BURST): one timestamp, no table of events;
//   - todo_count is how many todos the user has, held to
//     MAX_TODOS_PER_USER. A statement-level trigger keeps it exact from
//     every path that inserts or deletes todos (cascades, hand-written
//     SQL, an older build still running during a rollout), one UPDATE per
//     statement, not per row.
//
// The count is filled in the same transaction that creates the triggers:
// CREATE TRIGGER locks todos against writes until it commits, so no todo
// is missed; that takes as long as counting todos (about a second at a
// million).
func createBudget20261207140000() Migration {
	return Migration{
		ID:          "20261207140000",
		Description: "per-user write budget: users.create_tat and users.todo_count",
		Up: []string{
			`ALTER TABLE users
				ADD COLUMN todo_count integer NOT NULL DEFAULT 0,
				ADD COLUMN create_tat timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00',
				ADD CONSTRAINT chk_users_todo_count CHECK (todo_count >= 0)`,
			`CREATE FUNCTION todos_count_per_user() RETURNS trigger
				LANGUAGE plpgsql AS $$
				BEGIN
					IF TG_OP = 'INSERT' THEN
						UPDATE users u SET todo_count = u.todo_count + c.n
						FROM (SELECT user_id, count(*) AS n FROM new_rows GROUP BY user_id) AS c
						WHERE u.id = c.user_id;
					ELSE
						UPDATE users u SET todo_count = greatest(u.todo_count - c.n, 0)
						FROM (SELECT user_id, count(*) AS n FROM old_rows GROUP BY user_id) AS c
						WHERE u.id = c.user_id;
					END IF;
					RETURN NULL;
				END
				$$`,
			`CREATE TRIGGER trg_todos_count_insert AFTER INSERT ON todos
				REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION todos_count_per_user()`,
			`CREATE TRIGGER trg_todos_count_delete AFTER DELETE ON todos
				REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION todos_count_per_user()`,
			`UPDATE users u SET todo_count = c.n
				FROM (SELECT user_id, count(*) AS n FROM todos GROUP BY user_id) AS c
				WHERE u.id = c.user_id`,
		},
		Down: []string{
			`DROP TRIGGER trg_todos_count_delete ON todos`,
			`DROP TRIGGER trg_todos_count_insert ON todos`,
			`DROP FUNCTION todos_count_per_user()`,
			`ALTER TABLE users DROP CONSTRAINT chk_users_todo_count, DROP COLUMN create_tat, DROP COLUMN todo_count`,
		},
	}
}
