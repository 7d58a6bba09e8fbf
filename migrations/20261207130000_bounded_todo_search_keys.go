package migrations

// boundedTodoSearchKeys20261207130000 bounds what one todo adds to
// idx_todos_search_keys, and stops the index's pending list from growing
// without bound under concurrent writers.
//
// Pending list: GIN's fastupdate (on by default) queues new keys in a
// pending list that an inserter merges once it passes
// gin_pending_list_limit; but an inserter that finds another merging skips
// it, so under concurrent batch writers the list grew to 34,307 pages
// (268 MB), and the next inserter, someone else's one-todo create, spent
// 15 s merging it and answered 503. With fastupdate off every insert puts
// its own keys in the index: creates cost about a fifth more (docs/
// benchmarks.md), and none pays for another's. What is queued now is
// merged here.
//
// Keys: a row's keys are the distinct trigrams of its text, so 10,000
// random characters give about 10,000 keys (a 1 MB batch of 100 such rows
// grew the table and indexes by 19.6 MB). A row with more than 1,000 keys
// now gets the one overflow key "<user id>:*" instead (a trigram never
// holds '*'), and a search reads the user's overflow rows beside the rows
// holding every trigram of q (todo_search_overflow_key); the match itself
// is decided on the text as before. Rows indexed before keep their full
// keys, a superset that still finds them, so the index is not rebuilt on
// the way up; the rollback rebuilds it (concurrently), because the old
// query would miss the overflow rows.
func boundedTodoSearchKeys20261207130000() Migration {
	return Migration{
		ID:            "20261207130000",
		Description:   "bounded search keys per todo; idx_todos_search_keys without fastupdate",
		NoTransaction: true,
		Up: []string{
			`DO $$
			DECLARE
				trgm text := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm');
			BEGIN
				EXECUTE format($f$
					CREATE OR REPLACE FUNCTION todo_search_keys(uid bigint, title text, description text) RETURNS text[]
					LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $body$
					DECLARE
						keys text[];
					BEGIN
						-- Text whose first 1,500 characters alone hold more
						-- than 1,000 trigrams overflows without reading the
						-- rest: random text does (about 1,480), and for it
						-- show_trgm over 10,000 characters is most of an
						-- insert's cost.
						IF octet_length(description) > 1500
						   AND cardinality(%I.show_trgm(left(coalesce(title, '') || ' ' || description, 1500))) > 1000 THEN
							RETURN ARRAY[uid::text || ':*'];
						END IF;
						keys := ARRAY(
							SELECT uid::text || ':' || t
							FROM unnest(%I.show_trgm(coalesce(title, '') || ' ' || coalesce(description, ''))) AS t
							WHERE position(' ' in t) = 0);
						IF cardinality(keys) > 1000 THEN
							RETURN ARRAY[uid::text || ':*'];
						END IF;
						RETURN keys;
					END
					$body$
				$f$, trgm, trgm);
			END $$`,
			`CREATE OR REPLACE FUNCTION todo_search_overflow_key(uid bigint) RETURNS text[]
				LANGUAGE sql IMMUTABLE PARALLEL SAFE
				RETURN ARRAY[uid::text || ':*']`,
			`ALTER INDEX idx_todos_search_keys SET (fastupdate = off)`,
			`SELECT gin_clean_pending_list('idx_todos_search_keys'::regclass)`,
		},
		Down: []string{
			`ALTER INDEX idx_todos_search_keys RESET (fastupdate)`,
			`DROP FUNCTION IF EXISTS todo_search_overflow_key(bigint)`,
			// 20261130170000's body: every trigram, however many.
			`DO $$
			DECLARE
				trgm text := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm');
			BEGIN
				EXECUTE format($f$
					CREATE OR REPLACE FUNCTION todo_search_keys(uid bigint, title text, description text) RETURNS text[]
					LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $body$
					BEGIN
						RETURN ARRAY(
							SELECT uid::text || ':' || t
							FROM unnest(%I.show_trgm(coalesce(title, '') || ' ' || coalesce(description, ''))) AS t
							WHERE position(' ' in t) = 0);
					END
					$body$
				$f$, trgm);
			END $$`,
			// The overflow rows hold only "<id>:*": give them their keys back.
			`REINDEX INDEX CONCURRENTLY idx_todos_search_keys`,
		},
	}
}
