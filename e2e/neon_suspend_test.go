package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/pgharness"
)

// TestNeonSuspend: a compute suspending terminates every backend under a
// warm pool; the next reads and writes must still succeed.
func TestNeonSuspend(t *testing.T) {
	c := pgharness.StartCluster(t, pgharness.Options{})
	c.CreateDatabase("neondb", "")
	s := startServer(t, neonServerEnv(c.URLFor("neondb"), map[string]string{"DB_MAX_OPEN_CONNS": "8", "DB_MAX_IDLE_CONNS": "8"}))
	cl := newClient(s.URL)
	token := register(t, cl, "sleeper")
	r := cl.do("POST", "/api/v1/todos", token, map[string]any{"title": "before the suspend"})
	var first apiTodo
	if r.Status != 201 || r.json(&first) != nil {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}

	// burst sends n requests at once, alternating reads and writes.
	burst := func(tl *neonTally, round string, n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 0:
					tl.check(round+" list", cl.do("GET", "/api/v1/todos?limit=5", token, nil), 200)
				case 1:
					tl.check(round+" get", cl.do("GET", fmt.Sprintf("/api/v1/todos/%d", first.ID), token, nil), 200)
				case 2:
					tl.check(round+" me", cl.do("GET", "/api/v1/users/me", token, nil), 200)
				default:
					tl.check(round+" create", cl.do("POST", "/api/v1/todos", token, map[string]any{"title": fmt.Sprintf("%s %d", round, i)}), 201)
				}
			}()
		}
		wg.Wait()
	}
	// sequential sends n requests one after another: each may draw another
	// dead connection from the pool.
	sequential := func(tl *neonTally, round string, n int) {
		for i := range n {
			if i%2 == 0 {
				tl.check(round+" list", cl.do("GET", "/api/v1/todos?limit=5", token, nil), 200)
			} else {
				tl.check(round+" create", cl.do("POST", "/api/v1/todos", token, map[string]any{"title": fmt.Sprintf("%s %d", round, i)}), 201)
			}
		}
	}

	// Rounds 0 and 2: a burst at once; 1: one request after another; 3: one
	// after another after 1.5 s idle (the driver pings such connections).
	tl := newNeonTally()
	for round := range 4 {
		warm := newNeonTally()
		burst(warm, "warm", 16)
		if warm.bad != 0 {
			t.Fatalf("warming the pool failed:\n%s", warm.summary())
		}
		killed := c.TerminateBackends("neondb")
		t.Logf("round %d: terminated %d backends of a warm pool", round, killed)
		if killed < 2 {
			t.Errorf("round %d: only %d backends to terminate; the pool was not warm", round, killed)
		}
		// Right away (rounds 0-2): the dead connections were in use well
		// under a second ago, so the driver's idle ping does not screen them
		// out.
		switch round {
		case 0, 2:
			burst(tl, fmt.Sprintf("after-suspend-%d", round), 16)
		case 1:
			sequential(tl, fmt.Sprintf("after-suspend-%d", round), 12)
		default:
			time.Sleep(1500 * time.Millisecond)
			sequential(tl, fmt.Sprintf("after-suspend-idle-%d", round), 12)
		}
	}
	if tl.bad != 0 {
		t.Errorf("after a suspend every read and write must succeed:\n%s", tl.summary())
	} else {
		t.Logf("requests right after the backends were terminated:\n%s", tl.summary())
	}
	if lines := s.logLines("level=ERROR"); len(lines) > 0 {
		t.Errorf("%d error lines in the server log, first: %s", len(lines), lines[0])
	}
}
