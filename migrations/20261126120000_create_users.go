package migrations

func createUsers20261126120000() Migration {
	return Migration{
		ID:          "20261126120000",
		Description: "create users",
		Up: []string{
			`CREATE TABLE users (
				id bigserial,
				email varchar(255) NOT NULL,
				username varchar(50) NOT NULL,
				hashed_password varchar(255) NOT NULL,
				is_active boolean NOT NULL DEFAULT true,
				created_at timestamptz NOT NULL DEFAULT now(),
				updated_at timestamptz NOT NULL DEFAULT now(),
				PRIMARY KEY (id),
				CONSTRAINT chk_users_email_lower CHECK (email = lower(email)),
				CONSTRAINT chk_users_username_format CHECK (username ~ '^[A-Za-z0-9_.-]{3,50}$')
			)`,
			`CREATE UNIQUE INDEX uq_users_email ON users (email)`,
			`CREATE UNIQUE INDEX uq_users_username_lower ON users (lower(username))`,
		},
		Down: []string{
			`DROP TABLE users`,
		},
	}
}
