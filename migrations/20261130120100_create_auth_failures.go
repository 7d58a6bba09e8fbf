package migrations

// createAuthFailures20261130120100 holds the failed-password counters, one
// row per (account, client) pair and per client, each for a fixed window.
// They live in PostgreSQL so that every instance counts the same attempts.
// Keys are HMACs, so the table holds no email or address in clear; the
// window_start index lets expired rows be deleted without a full scan.
func createAuthFailures20261130120100() Migration {
	return Migration{
		ID:          "20261130120100",
		Description: "create auth_failures",
		Up: []string{
			`CREATE TABLE auth_failures (
				key varchar(64) NOT NULL,
				failures integer NOT NULL,
				window_start timestamptz NOT NULL,
				PRIMARY KEY (key),
				CONSTRAINT chk_auth_failures_count CHECK (failures >= 0)
			)`,
			`CREATE INDEX idx_auth_failures_window_start ON auth_failures (window_start)`,
		},
		Down: []string{
			`DROP TABLE auth_failures`,
		},
	}
}
