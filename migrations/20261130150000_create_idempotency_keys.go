package migrations

// createIdempotencyKeys20261130150000 keeps the answers of creates sent
// with an Idempotency-Key, per user, so that a client's retry gets the
// first answer instead of a second write. A row is written in the same
// transaction as the todos it answers for, status and body included: a
// crash leaves both or neither. expires_at is indexed for the sweep, which
// deletes expired keys without reading the whole table.
func createIdempotencyKeys20261130150000() Migration {
	return Migration{
		ID:          "20261130150000",
		Description: "create idempotency_keys",
		Up: []string{
			`CREATE TABLE idempotency_keys (
				user_id bigint NOT NULL,
				key varchar(255) NOT NULL,
				fingerprint bytea NOT NULL,
				status smallint NOT NULL,
				location text,
				etag text,
				body bytea NOT NULL,
				created_at timestamptz NOT NULL DEFAULT now(),
				expires_at timestamptz NOT NULL,
				PRIMARY KEY (user_id, key),
				CONSTRAINT fk_idempotency_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
			)`,
			`CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at)`,
		},
		Down: []string{
			`DROP TABLE idempotency_keys`,
		},
	}
}
