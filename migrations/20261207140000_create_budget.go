package migrations

// createBudget20261207140000 gives each user a write budget, checked and
// spent by the create statement itself (services.Todos.insert), in one
// round trip and on every instance alike:
//
//   - create_budgets.tat is the generic cell rate algorithm's theoretical
//     arrival time of the user's todo creations (TODO_CREATE_RATE per
//     minute with bursts of TODO_CREATE_BURST): one timestamp per user, no
//     table of events; granted is how many units the last create that
//     spent there took (it may take some for the creates that follow). It
//     is a table of its own, not columns of users, because it is updated
//     on every create while every statement of the user reads the users
//     row: on users, the row's dead versions piled up under one user's
//     creates (32 connections pinning its page keep it from being pruned)
//     and the next statements walked them (patch at 1,425 tps, 3,577 after
//     a VACUUM of users);
//   - todo_counts holds how many todos each user has, in up to 16 stripes
//     whose sum is the count, held to MAX_TODOS_PER_USER. A statement-level
//     trigger keeps it exact from every path that inserts or deletes todos
//     (cascades, hand-written SQL, an older build still running during a
//     rollout), one upsert per statement into a stripe picked at random.
//     One row per user would be exact too, but every create of that user
//     would queue on it until commit: with the count and the budget on
//     the user's row, one user's creates at 32 connections ran at 1,150 a
//     second; with stripes, and budget units taken ahead (services/
//     budget.go), at 1,890.
//
// The counts are filled in the same transaction that creates the triggers:
// CREATE TRIGGER locks todos against writes until it commits, so no todo
// is missed; that takes as long as counting todos (about a second at a
// million).
func createBudget20261207140000() Migration {
	return Migration{
		ID:          "20261207140000",
		Description: "per-user write budget: create_budgets and todo_counts",
		Up: []string{
			`CREATE TABLE create_budgets (
				user_id bigint NOT NULL,
				tat timestamptz NOT NULL,
				granted integer NOT NULL DEFAULT 0,
				CONSTRAINT create_budgets_pkey PRIMARY KEY (user_id),
				CONSTRAINT fk_create_budgets_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
			)`,
			`CREATE TABLE todo_counts (
				user_id bigint NOT NULL,
				stripe smallint NOT NULL,
				n bigint NOT NULL DEFAULT 0,
				CONSTRAINT todo_counts_pkey PRIMARY KEY (user_id, stripe),
				CONSTRAINT chk_todo_counts_stripe CHECK (stripe >= 0 AND stripe < 16),
				CONSTRAINT fk_todo_counts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
			)`,
			// A delete cascading from a deleted user counts nothing: the
			// user's row is gone (and its stripes with it).
			`CREATE FUNCTION todos_count_per_user() RETURNS trigger
				LANGUAGE plpgsql AS $$
				DECLARE
					pick smallint := floor(random() * 16)::smallint;
				BEGIN
					IF TG_OP = 'INSERT' THEN
						INSERT INTO todo_counts AS t (user_id, stripe, n)
						SELECT user_id, pick, count(*) FROM new_rows GROUP BY user_id
						ON CONFLICT (user_id, stripe) DO UPDATE SET n = t.n + excluded.n;
					ELSE
						INSERT INTO todo_counts AS t (user_id, stripe, n)
						SELECT o.user_id, pick, -count(*) FROM old_rows o
						WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)
						GROUP BY o.user_id
						ON CONFLICT (user_id, stripe) DO UPDATE SET n = t.n + excluded.n;
					END IF;
					RETURN NULL;
				END
				$$`,
			`CREATE TRIGGER trg_todos_count_insert AFTER INSERT ON todos
				REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION todos_count_per_user()`,
			`CREATE TRIGGER trg_todos_count_delete AFTER DELETE ON todos
				REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION todos_count_per_user()`,
			`INSERT INTO todo_counts (user_id, stripe, n)
				SELECT user_id, 0, count(*) FROM todos GROUP BY user_id`,
		},
		Down: []string{
			`DROP TRIGGER trg_todos_count_delete ON todos`,
			`DROP TRIGGER trg_todos_count_insert ON todos`,
			`DROP FUNCTION todos_count_per_user()`,
			`DROP TABLE todo_counts`,
			`DROP TABLE create_budgets`,
		},
	}
}
