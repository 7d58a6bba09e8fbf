package migrations

// addUsersTokenVersion20261130120000 gives each user a credential version.
// Every token carries the version it was issued under; changing the
// password or email, or deactivating the account, bumps it, so every
// earlier token stops working on every instance at once.
func addUsersTokenVersion20261130120000() Migration {
	return Migration{
		ID:          "20261130120000",
		Description: "add users.token_version",
		Up: []string{
			`ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0`,
		},
		Down: []string{
			`ALTER TABLE users DROP COLUMN token_version`,
		},
	}
}
