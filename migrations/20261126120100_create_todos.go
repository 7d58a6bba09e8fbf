package migrations

func createTodos20261126120100() Migration {
	return Migration{
		ID:          "20261126120100",
		Description: "create todos with list indexes",
		Up: []string{
			`CREATE TABLE todos (
				id bigserial,
				user_id bigint NOT NULL,
				title varchar(255) NOT NULL,
				description text,
				completed boolean NOT NULL DEFAULT false,
				priority smallint NOT NULL DEFAULT 0,
				due_date timestamptz,
				created_at timestamptz NOT NULL DEFAULT now(),
				updated_at timestamptz NOT NULL DEFAULT now(),
				PRIMARY KEY (id),
				CONSTRAINT fk_users_todos FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
				CONSTRAINT chk_todos_title_length CHECK (char_length(btrim(title)) BETWEEN 1 AND 255),
				CONSTRAINT chk_todos_description_length CHECK (char_length(description) <= 10000),
				CONSTRAINT chk_todos_priority_range CHECK (priority BETWEEN 0 AND 5)
			)`,
			// Why each index exists: see the package comment of models.
			`CREATE INDEX idx_todos_user_created ON todos (user_id, created_at DESC, id DESC)`,
			`CREATE INDEX idx_todos_user_completed ON todos (user_id, completed, created_at DESC, id DESC)`,
			`CREATE INDEX idx_todos_user_priority ON todos (user_id, priority, id)`,
			`CREATE INDEX idx_todos_user_due ON todos (user_id, due_date, id)`,
			`CREATE INDEX idx_todos_user_title ON todos (user_id, title, id)`,
		},
		Down: []string{
			`DROP TABLE todos`,
		},
	}
}
