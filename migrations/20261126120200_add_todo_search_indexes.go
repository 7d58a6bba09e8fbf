package migrations

// addTodoSearchIndexes20261126120200 builds the trigram indexes behind q=
// without blocking writes: CREATE INDEX CONCURRENTLY cannot run inside a
// transaction, so each statement is made safe to repeat after a failure
// (a failed concurrent build leaves an invalid index behind; it is dropped
// and built again).
func addTodoSearchIndexes20261126120200() Migration {
	return Migration{
		ID:            "20261126120200",
		Description:   "add trigram search indexes on todos (concurrently)",
		NoTransaction: true,
		Up: []string{
			`CREATE EXTENSION IF NOT EXISTS pg_trgm`,
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_title_trgm`,
			`CREATE INDEX CONCURRENTLY idx_todos_title_trgm ON todos USING gin (title gin_trgm_ops)`,
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_description_trgm`,
			`CREATE INDEX CONCURRENTLY idx_todos_description_trgm ON todos USING gin (description gin_trgm_ops)`,
		},
		Down: []string{
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_description_trgm`,
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_title_trgm`,
			// Kept when something else still uses it (no CASCADE).
			`DO $$ BEGIN
				DROP EXTENSION IF EXISTS pg_trgm;
			EXCEPTION WHEN dependent_objects_still_exist THEN
				RAISE NOTICE 'pg_trgm is still in use; keeping it';
			END $$`,
		},
	}
}
