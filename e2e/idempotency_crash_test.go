package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/internal/testdb"
)

// An Idempotency-Key is stored with the todo it answers for, in one
// transaction, so a kill -9 of the service between that commit and the
// client reading the answer cannot cost the client its todo, nor give it a
// second one: the retry, on a restarted service, gets the stored answer.
// A kill before the commit leaves neither, and the retry writes the todo.

// ikStored is the answer an idempotency_keys row keeps: the create's body.
type ikStored struct {
	Body []byte
}

// ikLookup reads the committed answer stored for (user, key); ok is false
// while there is none (no row, or only a claim without an answer).
func ikLookup(t testing.TB, dbURL string, userID int64, key string) (ikStored, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var st ikStored
	err = conn.QueryRow(ctx, `SELECT body FROM idempotency_keys WHERE user_id = $1 AND key = $2`, userID, key).Scan(&st.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return ikStored{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return st, len(st.Body) > 0
}

// ikRequest is a complete POST /api/v1/todos as bytes, sent with an
// Idempotency-Key; body is sent as it is (the key's fingerprint is over
// these bytes, so a replay sends the same ones).
func ikRequest(host, token, key string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST /api/v1/todos HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n",
		host, token, key, len(body))
	b.Write(body)
	return b.Bytes()
}

// ikWriteRaw dials the server and writes req whole, without reading.
func ikWriteRaw(t testing.TB, s *server, req []byte) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return conn
}

// ikKill ends s with SIGKILL and waits until the database has no session
// of it left, so that what it committed is all it will ever commit.
func ikKill(t testing.TB, s *server, dbURL string) {
	t.Helper()
	s.Signal(t, syscall.SIGKILL)
	if err := s.Wait(10 * time.Second); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the killed server did not exit")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := queryCount(dbURL, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed server still open after 10 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ikReplay sends the same create again through c, with the same key and
// the same body bytes. A 409 (the first still holds the key) is retried.
func ikReplay(t testing.TB, c *client, token, key string, body []byte) response {
	t.Helper()
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest("POST", c.base+"/api/v1/todos", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		r := c.send("replay POST /api/v1/todos "+key, req)
		if r.Err == nil && r.Status == http.StatusConflict && attempt < 20 {
			t.Logf("replay of %s: 409 (in flight), retrying", key)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		return r
	}
}

// ikUserID is the id of the user called name.
func ikUserID(t testing.TB, dbURL, name string) int64 {
	t.Helper()
	return countRows(t, dbURL, `SELECT id FROM users WHERE username = $1`, name)
}

// ikTodoID is the id in a create's answer.
func ikTodoID(t testing.TB, body []byte) int64 {
	t.Helper()
	var td apiTodo
	if err := json.Unmarshal(body, &td); err != nil || td.ID == 0 {
		t.Fatalf("create answer without an id: %v %.300s", err, body)
	}
	return td.ID
}

func TestIdempotencyReplayAfterKill(t *testing.T) {
	start := time.Now()
	dbURL := testdb.Fresh(t)
	env := map[string]string{"DATABASE_URL": dbURL} // and the default secret: tokens outlive a restart
	s := startServer(t, env)
	c := newClient(s.URL)
	tokenA := register(t, c, "ikcrash_a")
	tokenB := register(t, c, "ikcrash_b")
	tokenW := register(t, c, "ikcrash_warm")
	userA, userB := ikUserID(t, dbURL, "ikcrash_a"), ikUserID(t, dbURL, "ikcrash_b")

	// Round A: the server is killed after the commit and before the client
	// read a byte of the answer.
	{
		const key, title = "crash-a-0001", "written then killed"
		body := []byte(`{"title":"` + title + `","priority":2}`)
		conn := ikWriteRaw(t, s, ikRequest(strings.TrimPrefix(s.URL, "http://"), tokenA, key, body))
		var stored ikStored
		deadline := time.Now().Add(10 * time.Second)
		for {
			var ok bool
			if stored, ok = ikLookup(t, dbURL, userA, key); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no stored answer for %s after 10 s", key)
			}
			time.Sleep(2 * time.Millisecond)
		}
		ikKill(t, s, dbURL)
		conn.Close() // the answer, if it was sent, is never read
		storedID := ikTodoID(t, stored.Body)
		if n := countRows(t, dbURL, `SELECT count(*) FROM todos WHERE user_id = $1 AND title = $2`, userA, title); n != 1 {
			t.Fatalf("after the kill: %d todos titled %q, want 1 (written with its key)", n, title)
		}

		s = startServer(t, env)
		c = newClient(s.URL)
		r := ikReplay(t, c, tokenA, key, body)
		r.expect(t, http.StatusCreated, nil)
		if got := r.Header.Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("Idempotent-Replayed = %q, want true", got)
		}
		if !bytes.Equal(r.Body, stored.Body) {
			t.Errorf("replayed body %s, stored %s", r.Body, stored.Body)
		}
		location := fmt.Sprintf("/api/v1/todos/%d", storedID)
		if got := r.Header.Get("Location"); got != location {
			t.Errorf("Location = %q, want %q (the stored todo)", got, location)
		}
		id := ikTodoID(t, r.Body)
		if n := countRows(t, dbURL, `SELECT count(*) FROM todos WHERE user_id = $1 AND title = $2 AND id = $3`, userA, title, id); n != 1 {
			t.Errorf("the replayed id %d is not the stored todo", id)
		}
		if n := countRows(t, dbURL, `SELECT count(*) FROM todos WHERE user_id = $1`, userA); n != 1 {
			t.Errorf("user has %d todos after the replay, want 1", n)
		}
		// The todo the replay names is the one the API serves.
		var td apiTodo
		got := c.do("GET", location, tokenA, nil)
		got.expect(t, http.StatusOK, &td)
		if td.ID != id || td.Title != title {
			t.Errorf("GET %s = %+v", location, td)
		}
		if tag := r.Header.Get("ETag"); tag == "" || tag != got.Header.Get("ETag") {
			t.Errorf("replayed ETag %q, the todo's %q", tag, got.Header.Get("ETag"))
		}
	}
	if t.Failed() {
		return
	}

	// Round B: the server is killed at a random moment after the requests
	// were written; each key is then sent again to a restarted server.
	{
		const perRound = 3
		rounds := 20
		type sent struct {
			key      string
			body     []byte
			answered []byte // the 201 body read before the kill, if any
		}
		var (
			all                                    []*sent
			answered, replayed, written            int
			roundsAfter, roundsBefore, roundsMixed int
			delays                                 []time.Duration
		)
		budget := time.Now().Add(35 * time.Second)
		for round := 0; round < rounds; round++ {
			if round >= 8 && time.Now().After(budget) {
				t.Logf("stopping after %d rounds: time budget spent", round)
				rounds = round
				break
			}
			// A restarted server opens its database connections and
			// prepares its statements on first use: warm them up, so that
			// the kill falls around the creates' commits, not before.
			var warm sync.WaitGroup
			warmed := make([]response, perRound)
			for i := range perRound {
				warm.Go(func() {
					warmed[i] = c.do("POST", "/api/v1/todos", tokenW, map[string]any{"title": "warm"}, "Idempotency-Key", fmt.Sprintf("warm-%02d-%d", round, i))
				})
			}
			warm.Wait()
			for _, r := range warmed {
				r.expect(t, http.StatusCreated, nil)
			}
			batch := make([]*sent, perRound)
			conns := make([]net.Conn, perRound)
			for i := range batch {
				key := fmt.Sprintf("crash-b-%02d-%d", round, i)
				batch[i] = &sent{key: key, body: []byte(`{"title":"` + key + `"}`)}
			}
			// Dial first, so that the writes go out back to back.
			for i := range conns {
				conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				conn.SetDeadline(time.Now().Add(30 * time.Second))
				conns[i] = conn
			}
			var wg sync.WaitGroup
			host := strings.TrimPrefix(s.URL, "http://")
			for i, conn := range conns {
				if _, err := conn.Write(ikRequest(host, tokenB, batch[i].key, batch[i].body)); err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
					if err != nil {
						return // killed first
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode == http.StatusCreated {
						batch[i].answered = b
					} else if err == nil {
						t.Errorf("%s before the kill: %d %.300s", batch[i].key, resp.StatusCode, b)
					}
				})
			}
			delay := rand.N(30 * time.Millisecond)
			delays = append(delays, delay)
			time.Sleep(delay)
			ikKill(t, s, dbURL)
			wg.Wait()
			for _, conn := range conns {
				conn.Close()
			}

			// What the killed server committed, before anything replays.
			stored := make([]*ikStored, perRound)
			for i, x := range batch {
				if st, ok := ikLookup(t, dbURL, userB, x.key); ok {
					stored[i] = &st
				}
				n := countRows(t, dbURL, `SELECT count(*) FROM todos WHERE user_id = $1 AND title = $2`, userB, x.key)
				if want := map[bool]int64{true: 1, false: 0}[stored[i] != nil]; n != want {
					t.Errorf("%s after the kill: %d todos, stored answer %v: a key and its todo must commit together", x.key, n, stored[i] != nil)
				}
				if x.answered != nil && (stored[i] == nil || !bytes.Equal(stored[i].Body, x.answered)) {
					t.Errorf("%s was answered before the kill but its stored answer is %v", x.key, stored[i])
				}
			}

			s = startServer(t, env)
			c = newClient(s.URL)
			after, before := 0, 0
			for i, x := range batch {
				r := ikReplay(t, c, tokenB, x.key, x.body)
				r.expect(t, http.StatusCreated, nil)
				isReplay := r.Header.Get("Idempotent-Replayed") == "true"
				switch {
				case stored[i] != nil:
					if !isReplay || !bytes.Equal(r.Body, stored[i].Body) {
						t.Errorf("%s committed before the kill; the retry answered replayed=%v %s, stored %s", x.key, isReplay, r.Body, stored[i].Body)
					}
					if want := fmt.Sprintf("/api/v1/todos/%d", ikTodoID(t, stored[i].Body)); r.Header.Get("Location") != want || r.Header.Get("ETag") == "" {
						t.Errorf("%s: Location %q ETag %q, want Location %q and an ETag", x.key, r.Header.Get("Location"), r.Header.Get("ETag"), want)
					}
					if x.answered != nil {
						answered++
					} else {
						replayed++
						after++
					}
				default:
					if isReplay {
						t.Errorf("%s had no stored answer after the kill, yet the retry was a replay", x.key)
					}
					written++
					before++
				}
				id := ikTodoID(t, r.Body)
				if n := countRows(t, dbURL, `SELECT count(*) FROM todos WHERE user_id = $1 AND title = $2 AND id = $3`, userB, x.key, id); n != 1 {
					t.Errorf("%s: the answer's id %d is not the todo with that title", x.key, id)
				}
			}
			switch {
			case after > 0 && before > 0:
				roundsMixed++
			case after > 0:
				roundsAfter++
			case before > 0:
				roundsBefore++
			}
			all = append(all, batch...)
			if t.Failed() {
				return
			}
		}

		keys := int64(len(all))
		if n := countRows(t, dbURL, `SELECT count(*) FROM todos WHERE user_id = $1`, userB); n != keys {
			t.Errorf("%d todos for %d distinct keys", n, keys)
		}
		if n := countRows(t, dbURL, `SELECT count(DISTINCT title) FROM todos WHERE user_id = $1`, userB); n != keys {
			t.Errorf("%d distinct titles for %d distinct keys (duplicates or losses)", n, keys)
		}
		if n := countRows(t, dbURL, `SELECT count(*) FROM idempotency_keys WHERE user_id = $1 AND status = 201`, userB); n != keys {
			t.Errorf("%d stored answers for %d keys", n, keys)
		}
		t.Logf("%d rounds × %d creates, kill %v–%v after the writes", rounds, perRound, slices.Min(delays).Round(time.Microsecond), slices.Max(delays).Round(time.Microsecond))
		t.Logf("creates: %d answered before the kill, %d killed after commit (replayed), %d killed before commit (written on replay); %d todos for %d keys",
			answered, replayed, written, countRows(t, dbURL, `SELECT count(*) FROM todos WHERE user_id = $1`, userB), keys)
		t.Logf("rounds: %d killed after commit (replayed), %d before commit (written on replay), %d mixed, %d fully answered before the kill",
			roundsAfter, roundsBefore, roundsMixed, rounds-roundsAfter-roundsBefore-roundsMixed)
	}
	t.Logf("run time %v", time.Since(start).Round(time.Millisecond))
}
