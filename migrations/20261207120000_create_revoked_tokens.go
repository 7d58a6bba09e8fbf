package migrations

// createRevokedTokens20261207120000 records the tokens ended early by
// POST /auth/logout. token_id is the SHA-256 of a token's signed part;
// every statement of a request checks that its token is not here, in the
// same EXISTS that checks the account (one primary-key probe). A row is
// kept until the token would have expired anyway; expires_at is indexed
// for the sweep that then deletes it.
func createRevokedTokens20261207120000() Migration {
	return Migration{
		ID:          "20261207120000",
		Description: "create revoked_tokens",
		Up: []string{
			`CREATE TABLE revoked_tokens (
				token_id bytea NOT NULL,
				expires_at timestamptz NOT NULL,
				PRIMARY KEY (token_id),
				CONSTRAINT chk_revoked_tokens_id_length CHECK (octet_length(token_id) = 32)
			)`,
			`CREATE INDEX idx_revoked_tokens_expires_at ON revoked_tokens (expires_at)`,
		},
		Down: []string{
			`DROP TABLE revoked_tokens`,
		},
	}
}
