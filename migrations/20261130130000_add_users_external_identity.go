package migrations

// addUsersExternalIdentity20261130130000 lets an account be created from a
// Better Auth token: the token's issuer and subject identify the account
// (unique together), and such an account may have no password here. Every
// account keeps a way to sign in: a password, an external identity or both.
//
// The rollback refuses while any account signs in only through Better Auth:
// putting hashed_password back to NOT NULL would need a password they never
// set, and dropping the identity would lock them out of their todos for
// good. Delete or link those accounts first (see the README).
func addUsersExternalIdentity20261130130000() Migration {
	return Migration{
		ID:          "20261130130000",
		Description: "add users.auth_issuer and users.auth_subject",
		Up: []string{
			`ALTER TABLE users
				ADD COLUMN auth_issuer varchar(255),
				ADD COLUMN auth_subject varchar(255),
				ALTER COLUMN hashed_password DROP NOT NULL,
				ADD CONSTRAINT chk_users_auth_identity CHECK ((auth_issuer IS NULL) = (auth_subject IS NULL)),
				ADD CONSTRAINT chk_users_sign_in CHECK (hashed_password IS NOT NULL OR auth_subject IS NOT NULL)`,
			`CREATE UNIQUE INDEX uq_users_auth_subject ON users (auth_issuer, auth_subject)`,
		},
		Down: []string{
			`DO $$
			BEGIN
				IF EXISTS (SELECT 1 FROM users WHERE hashed_password IS NULL) THEN
					RAISE EXCEPTION 'some users sign in only through Better Auth and have no password here; delete them or give them a password before rolling back';
				END IF;
			END $$`,
			`DROP INDEX uq_users_auth_subject`,
			`ALTER TABLE users
				DROP CONSTRAINT chk_users_sign_in,
				DROP CONSTRAINT chk_users_auth_identity,
				ALTER COLUMN hashed_password SET NOT NULL,
				DROP COLUMN auth_subject,
				DROP COLUMN auth_issuer`,
		},
	}
}
