// Package migrations holds the ordered list of schema migrations and the
// runner that applies them.
//
// Each migration lives in its own file, named by its ID
// (20261126120000_create_users.go), and declares the SQL it needs: the SQL
// is the snapshot of the schema at that point, so a migration never changes
// when the models do. This package never imports models.
package migrations

// Migration is one schema change with its real rollback.
type Migration struct {
	// ID is a UTC timestamp, YYYYMMDDHHMMSS, equal to the file name prefix.
	ID string
	// Description is a short human summary, shown by `migrate status`.
	Description string
	// NoTransaction runs the statements outside a transaction, for those
	// PostgreSQL refuses inside one (CREATE INDEX CONCURRENTLY). Such a
	// migration must be safe to run again after failing midway: drop what a
	// failed attempt may have left (an invalid index) before creating it.
	NoTransaction bool
	// Up and Down are run in order, each statement on its own.
	Up   []string
	Down []string
}

// All returns every migration in the order it must be applied. Append only:
// never edit or reorder a migration that has been released.
func All() []Migration {
	return []Migration{
		createUsers20261126120000(),
		createTodos20261126120100(),
		addTodoSearchIndexes20261126120200(),
		addUsersTokenVersion20261130120000(),
		createAuthFailures20261130120100(),
		addUsersExternalIdentity20261130130000(),
		addTodoSearchKeys20261130140000(),
		createIdempotencyKeys20261130150000(),
		createAuthRateLimits20261130160000(),
		plpgsqlTodoSearchKeys20261130170000(),
		createRevokedTokens20261207120000(),
		usersEmailUniqueAmongPasswords20261207120100(),
		boundedTodoSearchKeys20261207130000(),
		createBudget20261207140000(),
		// `migrate new` adds new migrations above this line.
	}
}
