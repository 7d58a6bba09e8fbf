package migrations

// usersEmailUniqueAmongPasswords20261207120100 makes an email unique among
// the accounts that sign in with a password here, instead of among all
// accounts. An account created from an auth server's token (Better Auth,
// Neon Auth) is that server's subject, and holds its email as the server
// says: with the old index, anyone could register an auth server user's
// email here first, and every request of that user then answered 409. Login
// by email reads only accounts with a password, which is what the partial
// index holds.
//
// The new index is built before the old one goes, concurrently, so logins
// and registrations go on meanwhile; each step drops what a failed attempt
// may have left first. The rollback cannot bring the old rule back while two
// accounts share an email, and says so instead of failing halfway.
func usersEmailUniqueAmongPasswords20261207120100() Migration {
	return Migration{
		ID:            "20261207120100",
		Description:   "make emails unique among password accounts only (concurrently)",
		NoTransaction: true,
		Up: []string{
			`DROP INDEX CONCURRENTLY IF EXISTS uq_users_password_email`,
			`CREATE UNIQUE INDEX CONCURRENTLY uq_users_password_email ON users (email) WHERE hashed_password IS NOT NULL`,
			`DROP INDEX CONCURRENTLY IF EXISTS uq_users_email`,
		},
		Down: []string{
			`DO $$
			DECLARE shared bigint;
			BEGIN
				SELECT count(*) INTO shared FROM (SELECT email FROM users GROUP BY email HAVING count(*) > 1) AS s;
				IF shared > 0 THEN
					RAISE EXCEPTION 'cannot make emails unique among all accounts again: % email(s) are held by more than one account (a password account and an auth server''s user); change or delete one of each first', shared;
				END IF;
			END $$`,
			`DROP INDEX CONCURRENTLY IF EXISTS uq_users_email`,
			`CREATE UNIQUE INDEX CONCURRENTLY uq_users_email ON users (email)`,
			`DROP INDEX CONCURRENTLY IF EXISTS uq_users_password_email`,
		},
	}
}
