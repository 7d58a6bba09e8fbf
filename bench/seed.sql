-- Seeds a benchmark database whose schema the server's migrations built.
-- Plain SQL, INSERT ... SELECT over generate_series (no COPY), deterministic
-- (setseed) so every run benchmarks the same rows.
--
-- psql variables (bench/run.sh passes them with -v):
--   bench_user   id of the bench user (registered through the API beforehand)
--   n_users      users in total, the bench user included (1000, or 1)
--   n_todos      todos in total (1000000, or 10000)
--   bench_every  the bench user owns todo g when g % bench_every = 0
--                (100: 10,000 of 1,000,000, interleaved with everybody
--                else's as a real user's would be; 1: all of them)
--
-- Todo ids are g itself, so the bench user's ids are bench_every,
-- 2*bench_every, ... n_todos: run.sh and the pgbench scripts draw random
-- ids from that formula.
--
-- Distribution: titles "<verb> <noun>[ <qualifier>]" from small word lists;
-- ~40% NULL descriptions, the rest one to three sentences that mention the
-- title's noun; ~50% NULL due dates; 30% completed; priority 0-5 uniform;
-- created_at increases with the id over the past year (rows are inserted
-- in time order, as in production) with an hour of jitter. Each of the 12
-- nouns appears in ~1/12 (8.3%) of the rows and nowhere else, so any of them
-- is a search word matching ~8% of the rows; run.sh verifies its word with
-- the service's own ILIKE.

\set ON_ERROR_STOP on
SELECT setseed(0.2026);

INSERT INTO users (id, email, username, hashed_password, is_active, created_at, updated_at)
SELECT :bench_user + u, 'user' || u || '@bench.example.com',
       'user' || u,
       -- Not a usable password: only the bench user logs in.
       '$2a$04$benchbenchbenchbenchbeOmTRf0uuFxmOWXTr7iV3lYLmbOcl5Qi',
       true,
       now() - interval '400 days' + u * interval '1 minute',
       now() - interval '400 days' + u * interval '1 minute'
FROM generate_series(1, :n_users - 1) AS u;
SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));

-- The search index is dropped for the bulk insert and built again after
-- it, from its own definition (so with whatever options the build under
-- test gave it): built once it takes a minute at 1M rows; kept, with
-- fastupdate off, every row would update it one by one.
CREATE TEMP TABLE seed_indexes AS
SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def
FROM pg_index WHERE indrelid = 'todos'::regclass AND indexrelid::regclass::text = 'idx_todos_search_keys';
DO $$ DECLARE i record; BEGIN
  FOR i IN SELECT name FROM seed_indexes LOOP EXECUTE format('DROP INDEX %I', i.name); END LOOP;
END $$;

INSERT INTO todos (id, user_id, title, description, completed, priority, due_date, created_at, updated_at)
SELECT g,
       uid,
       verbs[1 + (rv * 16)::int % 16] || ' ' || nouns[noun] || coalesce(' ' || quals[1 + (rq * 20)::int % 20], ''),
       CASE WHEN rd < 0.40 THEN NULL
            ELSE openers[1 + (ro * 10)::int % 10] || ' ' || nouns[noun] || ' ' || details[1 + (rt * 12)::int % 12] || '.'
                 || CASE WHEN rd < 0.70 THEN ''
                         WHEN rd < 0.90 THEN ' ' || extras[1 + (re * 14)::int % 14]
                         ELSE ' ' || extras[1 + (re * 14)::int % 14] || ' ' || extras[1 + (re * 140)::int % 14]
                    END
       END,
       rc < 0.30,
       (rp * 6)::int % 6,
       CASE WHEN rdd < 0.50 THEN NULL ELSE created + (rdd - 0.6) * interval '60 days' END,
       created,
       least(created + rc * interval '3 days', now())
FROM (
    SELECT g,
           CASE WHEN g % :bench_every = 0 THEN :bench_user::bigint
                ELSE :bench_user + 1 + (g::bigint * 7919) % nullif(:n_users - 1, 0) END AS uid,
           1 + (random() * 12)::int % 12 AS noun,
           random() AS rv, random() AS rq, random() AS rd, random() AS ro,
           random() AS rt, random() AS re, random() AS rc, random() AS rp, random() AS rdd,
           date_trunc('hour', now()) - interval '1 hour' - interval '365 days'
             + (g::float8 / :n_todos) * interval '365 days'
             + (random() - 0.5) * interval '1 hour' AS created
    FROM generate_series(1, :n_todos) AS g
) AS r,
LATERAL (SELECT
    ARRAY['Buy', 'Call about the', 'Email', 'Fix', 'Review', 'Book', 'Pay', 'Sort out',
          'Prepare', 'Check', 'Renew', 'Pick up', 'Finish', 'Organise', 'Return', 'Print'] AS verbs,
    ARRAY['invoice', 'groceries', 'dentist appointment', 'quarterly report', 'car service',
          'concert tickets', 'laundry', 'garden hose', 'passport', 'slides', 'budget',
          'birthday present'] AS nouns,
    ARRAY[NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          'for Mom', 'before the trip', 'today', 'this weekend', 'for the team',
          'ASAP', '(again)', 'next week', 'tomorrow morning', 'after lunch'] AS quals,
    ARRAY['Do not forget the', 'Ask Sam about the', 'Need to sort out the', 'Follow up on the',
          'Double-check the', 'Talk to Alex about the', 'Look into the', 'Remember the',
          'Ping the office about the', 'Get a quote for the'] AS openers,
    ARRAY['before Friday', 'this week', 'after the meeting', 'by the end of the month',
          'when back home', 'if there is time', 'first thing on Monday', 'before the deadline',
          'while in town', 'on the way to work', 'together with Jo', 'before it gets late'] AS details,
    ARRAY['Keep the receipt.', 'Notes are in the shared folder.', 'Compare prices online first.',
          'It took two hours last time.', 'Bring the blue folder.', 'Call ahead to confirm.',
          'Write down what was agreed.', 'Use the new account.', 'Costs should stay under fifty.',
          'Check the opening hours.', 'Ask for a discount.', 'Leave a note on the fridge.',
          'Take photos of everything.', 'Cancel if it rains.'] AS extras
) AS w;

SELECT setval(pg_get_serial_sequence('todos', 'id'), (SELECT max(id) FROM todos));

DO $$ DECLARE i record; BEGIN
  FOR i IN SELECT def FROM seed_indexes LOOP EXECUTE i.def; END LOOP;
END $$;
