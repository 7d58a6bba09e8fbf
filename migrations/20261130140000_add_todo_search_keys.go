package migrations

// addTodoSearchKeys20261130140000 replaces the two global trigram indexes
// behind q= with one whose entries are per user. todo_search_keys turns a
// todo into the set of "<user id>:<trigram>" strings of its title and
// description (pg_trgm's trigrams, lower-cased, without the blank-padded
// ones at word edges), so a GIN index over it has one posting list per
// user and trigram. A search reads the lists of its own user's trigrams
// only: its cost follows that user's matches, not how many todos other
// users have. With the global indexes the planner read every user's
// matches (~84,000 entries at 1M rows to find one user's 829) and the cost
// grew with the table.
//
// A search uses the index with
//
//	todo_search_keys(user_id, title, description) @> todo_search_query_keys($user, $q)
//
// which every row containing $q as a case-insensitive substring satisfies:
// the query's keys are only its inner trigrams of three single-byte
// letters or digits (shown as themselves; pg_trgm hashes a trigram with a
// multibyte character, and a hash hides whether it is padded at a word
// edge), and each of those is a trigram of any row that contains q. The
// ILIKE beside it decides. The function names pg_trgm's schema, found at migration time, so
// that it resolves whatever the search_path of the session that evaluates
// it (autovacuum, a restore).
//
// The indexes are built CONCURRENTLY (no transaction), each step safe to
// repeat after a failure, like 20261126120200.
func addTodoSearchKeys20261130140000() Migration {
	return Migration{
		ID:            "20261130140000",
		Description:   "search todos through per-user trigram keys (concurrently)",
		NoTransaction: true,
		Up: []string{
			`DO $$
			DECLARE
				trgm text := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm');
			BEGIN
				EXECUTE format($f$
					CREATE OR REPLACE FUNCTION todo_search_keys(uid bigint, title text, description text) RETURNS text[]
					LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $body$
						SELECT coalesce(array_agg(DISTINCT uid::text || ':' || t), '{}')
						FROM unnest(%I.show_trgm(coalesce(title, '') || ' ' || coalesce(description, ''))) AS t
						WHERE position(' ' in t) = 0
					$body$
				$f$, trgm);
				EXECUTE format($f$
					CREATE OR REPLACE FUNCTION todo_search_query_keys(uid bigint, q text) RETURNS text[]
					LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $body$
						SELECT coalesce(array_agg(DISTINCT uid::text || ':' || t), '{}')
						FROM unnest(%I.show_trgm(coalesce(q, ''))) AS t
						WHERE length(t) = 3 AND position(' ' in t) = 0
					$body$
				$f$, trgm);
			END $$`,
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_search_keys`,
			`CREATE INDEX CONCURRENTLY idx_todos_search_keys ON todos USING gin (todo_search_keys(user_id, title, description))`,
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_title_trgm`,
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_description_trgm`,
		},
		Down: []string{
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_title_trgm`,
			`CREATE INDEX CONCURRENTLY idx_todos_title_trgm ON todos USING gin (title gin_trgm_ops)`,
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_description_trgm`,
			`CREATE INDEX CONCURRENTLY idx_todos_description_trgm ON todos USING gin (description gin_trgm_ops)`,
			`DROP INDEX CONCURRENTLY IF EXISTS idx_todos_search_keys`,
			`DROP FUNCTION IF EXISTS todo_search_query_keys(bigint, text)`,
			`DROP FUNCTION IF EXISTS todo_search_keys(bigint, text, text)`,
		},
	}
}
