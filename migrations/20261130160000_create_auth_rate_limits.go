package migrations

// createAuthRateLimits20261130160000 holds the auth routes' request budget
// per client, shared by every instance: one row per client (an HMAC of its
// address) with its theoretical arrival time, the state of the generic cell
// rate algorithm (a token bucket in one timestamp). A row whose tat has
// passed is a full bucket, the same as no row; the tat index lets the sweep
// delete those without reading the whole table.
func createAuthRateLimits20261130160000() Migration {
	return Migration{
		ID:          "20261130160000",
		Description: "create auth_rate_limits",
		Up: []string{
			`CREATE TABLE auth_rate_limits (
				key varchar(64) NOT NULL,
				tat timestamptz NOT NULL,
				PRIMARY KEY (key)
			)`,
			`CREATE INDEX idx_auth_rate_limits_tat ON auth_rate_limits (tat)`,
		},
		Down: []string{
			`DROP TABLE auth_rate_limits`,
		},
	}
}
