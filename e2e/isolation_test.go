package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The attacks of one ordinary user on everyone else, each measured by
// what another user's requests meet: their p99 alone, then during the
// attack (docs/reliability.md has a row for each). The servers run with
// the shipped limits (shipped), not the e2e package's raised ones.

// shipped are the shipped defaults of the limits an attack meets, where
// launchServer raises them for the load tests.
var shipped = map[string]string{
	"AUTH_RATE_LIMIT": "5", "AUTH_RATE_BURST": "20", "REGISTER_LIMIT": "10",
	"TODO_CREATE_RATE": "", "TODO_CREATE_BURST": "", "LIST_CONCURRENCY": "",
}

// withShipped is env over the shipped limits.
func withShipped(env map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range shipped {
		out[k] = v
	}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// victimLatency runs do every pace (back to back for 0) for d and returns
// the p99 and how many answers were not want.
func victimLatency(d, pace time.Duration, want int, do func() response) (p99 time.Duration, n, bad int) {
	var lat []time.Duration
	for start := time.Now(); time.Since(start) < d; time.Sleep(pace) {
		r := do()
		if r.Err != nil || r.Status != want {
			bad++
		}
		lat = append(lat, r.Latency)
	}
	slices.Sort(lat)
	return lat[len(lat)*99/100], len(lat), bad
}

// attack runs fn in workers goroutines until stop is called, counting
// answers by status. A worker refused with Retry-After waits that long
// (at most a second) before its next request: the attack is what a user
// can do within the limits. A client that ignores them floods the API
// with refusals, which costs the machine like any flood of requests and
// is for the load balancer to cut (docs/reliability.md).
func attack(workers int, fn func() response) (stop func() map[int]int) {
	done := make(chan struct{})
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				r := fn()
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
				if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err == nil && r.Status >= 400 {
					time.Sleep(min(time.Duration(secs)*time.Second, time.Second))
				}
			}
		})
	}
	return func() map[int]int {
		close(done)
		wg.Wait()
		return statuses
	}
}

// isolated reports another user's p99 during the attack beside its quiet
// value (the target is 2×; docs/reliability.md keeps the measurements)
// and fails when that user is starved: over 5× and 100 ms slower, which
// is what a full pool or every core busy hashing looks like (seconds, or
// a bcrypt hash per request), and what scheduler noise on a loaded
// two-core machine running the other packages' tests beside this one
// never reaches. The ratio itself is a measurement, not a pass mark: a
// timed assertion as tight as 2× fails on a busy machine, not on a
// regression.
func isolated(t *testing.T, what string, quiet, loud time.Duration) {
	t.Helper()
	t.Logf("RELIABILITY | %s | victim p99 quiet %s | under attack %s | %.2f×", what, quiet.Round(10*time.Microsecond), loud.Round(10*time.Microsecond), float64(loud)/float64(quiet))
	if loud > 5*quiet && loud > quiet+100*time.Millisecond {
		t.Errorf("%s: another user's p99 went from %s to %s: starved", what, quiet, loud)
	}
}

// TestIsolationSlowSearches: a user stores 2,000 todos of 10,000
// characters and runs twelve searches at once, each for a 200-character q
// that the search keys do not narrow; another user's reads keep their
// latency. Before, one search took 7.3 s (ILIKE backtracking, twice) and
// twelve filled the pool.
func TestIsolationSlowSearches(t *testing.T) {
	// The budget is raised for the attacker to store its 20 MB at once;
	// at the shipped rate that takes it four minutes, not none.
	s := startServer(t, withShipped(map[string]string{"TODO_CREATE_RATE": "1000000", "TODO_CREATE_BURST": "1000000"}))
	cl := newClient(s.URL)
	attacker := register(t, cl, fmt.Sprintf("searcher_%d", time.Now().UnixNano()%1e9))
	victim := register(t, cl, fmt.Sprintf("reader_%d", time.Now().UnixNano()%1e9))
	desc := "aab" + strings.Repeat("a", 9987)
	for range 20 {
		items := make([]map[string]any, 100)
		for i := range items {
			items[i] = map[string]any{"title": "a", "description": desc}
		}
		cl.do("POST", "/api/v1/todos/batch", attacker, map[string]any{"items": items}).expect(t, http.StatusCreated, nil)
	}
	var todo struct{ ID int64 }
	cl.do("POST", "/api/v1/todos", victim, map[string]any{"title": "mine"}).expect(t, http.StatusCreated, &todo)
	get := func() response { return cl.do("GET", fmt.Sprintf("/api/v1/todos/%d", todo.ID), victim, nil) }
	quiet, _, _ := victimLatency(3*time.Second, 0, http.StatusOK, get)

	q := "/api/v1/todos?q=" + strings.Repeat("a", 199) + "b"
	start := time.Now()
	one := cl.do("GET", q, attacker, nil)
	one.expect(t, http.StatusOK, nil)
	t.Logf("one attack search alone: %s", time.Since(start).Round(time.Millisecond))
	stop := attack(12, func() response { return cl.do("GET", q, attacker, nil) })
	loud, n, bad := victimLatency(5*time.Second, 0, http.StatusOK, get)
	statuses := stop()
	t.Logf("attacker's searches: %v; victim: %d reads, %d not 200", statuses, n, bad)
	if bad > 0 {
		t.Errorf("%d of the victim's reads failed during the attack", bad)
	}
	isolated(t, "12 searches at once over 2,000 × 10 KB todos", quiet, loud)
}

// TestIsolationBatchWrites: three users send 1 MB batches of random text
// for 8 s; another user's single creates all succeed, with their latency
// kept. Before, idx_todos_search_keys' pending list grew to 268 MB and the
// next inserter spent 15 s merging it (503).
func TestIsolationBatchWrites(t *testing.T) {
	s := startServer(t, withShipped(nil))
	cl := newClient(s.URL)
	var attackers []string
	for i := range 3 {
		attackers = append(attackers, register(t, cl, fmt.Sprintf("writer%d_%d", i, time.Now().UnixNano()%1e9)))
	}
	victim := register(t, cl, fmt.Sprintf("creator_%d", time.Now().UnixNano()%1e9))
	create := func() response { return cl.do("POST", "/api/v1/todos", victim, map[string]any{"title": "my one todo"}) }
	// The victim creates every 10 ms, within its own budget for the run.
	quiet, _, _ := victimLatency(3*time.Second, 10*time.Millisecond, http.StatusCreated, create)

	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var next atomic.Int64
	stop := attack(3, func() response {
		r := rand.New(rand.NewPCG(uint64(next.Add(1)), 7))
		items := make([]map[string]any, 100)
		for i := range items {
			b := make([]byte, 9990)
			for j := range b {
				b[j] = letters[r.IntN(len(letters))]
			}
			items[i] = map[string]any{"title": "noise", "description": string(b)}
		}
		return cl.do("POST", "/api/v1/todos/batch", attackers[r.IntN(len(attackers))], map[string]any{"items": items})
	})
	loud, n, bad := victimLatency(8*time.Second, 10*time.Millisecond, http.StatusCreated, create)
	statuses := stop()
	t.Logf("attackers' batches: %v; victim: %d creates, %d not 201", statuses, n, bad)
	if bad > 0 {
		t.Errorf("%d of the victim's creates failed during the attack", bad)
	}
	// The failure was a stall: one create paying for everyone's pending
	// list. What remains is sharing two cores and one WAL with 12 MB of
	// writes, for the few seconds the write budget allows them each
	// minute: the victim's creates slow down, none waits seconds.
	t.Logf("RELIABILITY | 3 users sending 1 MB batches for 8 s | victim p99 quiet %s | under attack %s | %.2f×", quiet.Round(10*time.Microsecond), loud.Round(10*time.Microsecond), float64(loud)/float64(quiet))
	if loud > 500*time.Millisecond {
		t.Errorf("another user's create p99 under batch writes: %s, want well under a second", loud)
	}
}

// TestIsolationRegistrations: one address registering as fast as it can
// (bcrypt at cost 12 each) is held to REGISTER_LIMIT an hour, and the
// bcrypt it can still cause is bounded; another user's reads keep their
// latency. Before: 74 accounts in 20 s, and another user's p50 went from
// 1.4 to 36 ms.
func TestIsolationRegistrations(t *testing.T) {
	s := startServer(t, withShipped(map[string]string{"BCRYPT_COST": "12"}))
	cl := newClient(s.URL)
	victim := register(t, cl, fmt.Sprintf("steady_%d", time.Now().UnixNano()%1e9))
	list := func() response { return cl.do("GET", "/api/v1/todos", victim, nil) }
	quiet, _, _ := victimLatency(3*time.Second, 0, http.StatusOK, list)

	var seq atomic.Int64
	stop := attack(8, func() response {
		name := fmt.Sprintf("flood%d_%d", seq.Add(1), time.Now().UnixNano()%1e6)
		return cl.do("POST", "/api/v1/auth/register", "", map[string]any{"email": name + "@example.com", "username": name, "password": "correct horse battery"})
	})
	loud, n, bad := victimLatency(5*time.Second, 0, http.StatusOK, list)
	statuses := stop()
	t.Logf("registrations: %v; victim: %d reads, %d not 200", statuses, n, bad)
	if statuses[http.StatusCreated] > 10 {
		t.Errorf("one address registered %d accounts, the limit is 10 an hour", statuses[http.StatusCreated])
	}
	if bad > 0 {
		t.Errorf("%d of the victim's reads failed during the attack", bad)
	}
	isolated(t, "one address registering as fast as it can (bcrypt cost 12)", quiet, loud)
}
