package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/internal/pgharness"
)

// lwOp is one write the load made, and what it was told.
type lwOp struct {
	kind   string // create, batch, patch, delete
	marker string // the title (create), title prefix (batch) or description (patch)
	todoID int64  // patch and delete
	status int    // 0: no answer (transport error)
}

func (o lwOp) acked() bool { return o.status >= 200 && o.status < 300 }

// lwTarget is where the load sends requests; it moves when the service is
// restarted on another port.
type lwTarget struct{ url atomic.Pointer[string] }

func (t *lwTarget) client() *client {
	return &client{base: *t.url.Load(), hc: lwHTTP}
}

var lwHTTP = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

// lwLoad runs create/batch/patch/delete writes from several workers until
// stop is closed, and returns every write with its answer. Each worker
// patches and deletes only todos it created itself, one request at a time,
// so the order of its writes to a todo is known.
func lwLoad(target *lwTarget, token string, workers int, stop <-chan struct{}) []lwOp {
	var (
		mu  sync.Mutex
		ops []lwOp
		wg  sync.WaitGroup
	)
	record := func(o lwOp) {
		mu.Lock()
		ops = append(ops, o)
		mu.Unlock()
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int64
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				c := target.client()
				switch {
				case n%9 == 4:
					prefix := fmt.Sprintf("lwb-%d-%d-", w, n)
					items := []map[string]any{{"title": prefix + "0"}, {"title": prefix + "1"}, {"title": prefix + "2"}}
					r := c.do("POST", "/api/v1/todos/batch", token, map[string]any{"items": items})
					record(lwOp{kind: "batch", marker: prefix, status: r.Status})
				case n%7 == 6 && len(mine) > 3:
					id := mine[0]
					mine = mine[1:]
					r := c.do("DELETE", fmt.Sprintf("/api/v1/todos/%d", id), token, nil)
					record(lwOp{kind: "delete", todoID: id, status: r.Status})
				case n%3 == 2 && len(mine) > 0:
					id := mine[n%len(mine)]
					marker := fmt.Sprintf("lwp-%d-%d", w, n)
					r := c.do("PATCH", fmt.Sprintf("/api/v1/todos/%d", id), token, map[string]any{"description": marker})
					record(lwOp{kind: "patch", marker: marker, todoID: id, status: r.Status})
				default:
					title := fmt.Sprintf("lwc-%d-%d", w, n)
					r := c.do("POST", "/api/v1/todos", token, map[string]any{"title": title})
					var td apiTodo
					if r.Status == http.StatusCreated && r.json(&td) == nil {
						mine = append(mine, td.ID)
					}
					record(lwOp{kind: "create", marker: title, todoID: td.ID, status: r.Status})
				}
			}
		}()
	}
	wg.Wait()
	return ops
}

// lwReport is what the check found.
type lwReport struct {
	requests, acked, found, lost, duplicated, torn, fiveXX, fiveHundred, unanswered int
	problems                                                                        []string
}

func (r *lwReport) problem(format string, args ...any) {
	if len(r.problems) < 20 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// lwVerify compares every write with the database: an acknowledged write is
// there exactly once (or was later removed by a delete of the same worker);
// an unacknowledged one is wholly there or wholly absent, never twice.
func lwVerify(t *testing.T, dbURL string, ops []lwOp) lwReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	titles := map[string]int{}
	byID := map[int64]*string{}
	rows, err := conn.Query(ctx, "SELECT id, title, description FROM todos")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var title string
		var desc *string
		if err := rows.Scan(&id, &title, &desc); err != nil {
			t.Fatal(err)
		}
		titles[title]++
		byID[id] = desc
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	var rep lwReport
	deleted := map[int64]lwOp{} // the delete of each todo, if any
	patches := map[int64][]lwOp{}
	for _, o := range ops {
		rep.requests++
		if o.status >= 500 {
			rep.fiveXX++
		}
		if o.status == http.StatusInternalServerError {
			rep.fiveHundred++
		}
		if o.status == 0 {
			rep.unanswered++
		}
		if o.acked() {
			rep.acked++
		}
		switch o.kind {
		case "delete":
			deleted[o.todoID] = o
		case "patch":
			patches[o.todoID] = append(patches[o.todoID], o)
		}
	}
	for _, o := range ops {
		switch o.kind {
		case "create":
			n := titles[o.marker]
			_, deleteTried := deleted[o.todoID]
			switch {
			case n > 1:
				rep.duplicated++
				rep.problem("%s stored %d times (answer %d)", o.marker, n, o.status)
			case o.acked() && n == 1:
				rep.found++
			case o.acked() && deleteTried:
				rep.found++ // created, then deleted by its worker
			case o.acked():
				rep.lost++
				rep.problem("create %s acknowledged (id %d) but absent", o.marker, o.todoID)
			}
		case "batch":
			n := titles[o.marker+"0"] + titles[o.marker+"1"] + titles[o.marker+"2"]
			switch {
			case n != 0 && n != 3:
				rep.torn++
				rep.problem("batch %s half applied: %d of 3 (answer %d)", o.marker, n, o.status)
			case o.acked() && n == 3:
				rep.found++
			case o.acked():
				rep.lost++
				rep.problem("batch %s acknowledged but absent", o.marker)
			}
		case "delete":
			if _, still := byID[o.todoID]; still && o.acked() {
				rep.lost++
				rep.problem("delete of %d acknowledged but the row is there", o.todoID)
			} else if o.acked() {
				rep.found++
			}
		}
	}
	// Patches: the final description is the last acknowledged patch, or a
	// later one that got no answer or an error (it may have applied).
	for id, ps := range patches {
		desc, exists := byID[id]
		if !exists {
			continue // deleted later
		}
		last := -1
		for i, p := range ps {
			if p.acked() {
				last = i
			}
		}
		allowed := map[string]bool{}
		if last < 0 {
			allowed[""] = true
		}
		for i := max(last, 0); i < len(ps); i++ {
			if i == last || !ps[i].acked() {
				allowed[ps[i].marker] = true
			}
		}
		got := ""
		if desc != nil {
			got = *desc
		}
		if !allowed[got] {
			rep.lost++
			rep.problem("todo %d ends with description %q; the last acknowledged patch wrote %q", id, got, ps[max(last, 0)].marker)
		} else if last >= 0 {
			rep.found++
		}
	}
	return rep
}

func lwCheck(t *testing.T, name string, rep lwReport) {
	t.Helper()
	t.Logf("RELIABILITY | %s | requests %d | acknowledged writes %d | verified %d | lost %d | duplicated %d | half-applied batches %d | 5xx %d | no answer %d",
		name, rep.requests, rep.acked, rep.found, rep.lost, rep.duplicated, rep.torn, rep.fiveXX, rep.unanswered)
	for _, p := range rep.problems {
		t.Error(p)
	}
	if rep.lost != 0 || rep.duplicated != 0 || rep.torn != 0 {
		t.Errorf("%s: %d lost, %d duplicated, %d half-applied", name, rep.lost, rep.duplicated, rep.torn)
	}
	if rep.fiveHundred != 0 {
		t.Errorf("%s: %d answers were 500 (503 is the answer while the database is away)", name, rep.fiveHundred)
	}
	if rep.acked < 50 {
		t.Errorf("%s: only %d acknowledged writes; the load did not run", name, rep.acked)
	}
}

// TestNoLostWritesAcrossDatabaseRestart: under a create/patch/delete/batch
// load, PostgreSQL (default durability settings) restarts twice in fast
// mode. Every acknowledged write is there exactly once; every other one is
// wholly there or wholly absent. 503s are allowed while it is down; 500s
// are not.
func TestNoLostWritesAcrossDatabaseRestart(t *testing.T) {
	env := map[string]string{"DB_STARTUP_TIMEOUT": "20s"}
	rep, s := lwUnderFaults(t, env, func(c *pgharness.Cluster, s *server) *server {
		c.Restart()
		return s
	})
	lwCheck(t, "pg_ctl restart -m fast ×2 under load", rep)
	for _, l := range s.logLines("internal error") {
		t.Errorf("a 500 was logged: %s", l)
	}
}

// TestNoLostWritesAcrossServiceKill: the service is killed with SIGKILL
// under load and started again on the same database. In-flight requests get
// no answer; whatever they did is wholly there or wholly absent, and every
// acknowledged write is there once.
func TestNoLostWritesAcrossServiceKill(t *testing.T) {
	env := map[string]string{}
	rep, _ := lwUnderFaults(t, env, func(_ *pgharness.Cluster, s *server) *server {
		s.Signal(t, syscall.SIGKILL)
		s.Wait(10 * time.Second)
		return startServer(t, env)
	})
	lwCheck(t, "kill -9 of the service ×2 under load", rep)
	if rep.fiveXX != 0 {
		t.Errorf("%d answers were 5xx; a killed service gives no answer, a live one must not fail", rep.fiveXX)
	}
}

// lwUnderFaults serves a durable private cluster's database (env gets its
// DATABASE_URL), runs the write load, applies fault twice 1.5 s apart (it
// returns the server to use from then on), and checks the database
// against every answer. It returns the report and the last server.
func lwUnderFaults(t *testing.T, env map[string]string, fault func(*pgharness.Cluster, *server) *server) (lwReport, *server) {
	t.Helper()
	c := pgharness.StartCluster(t, pgharness.Options{Durable: true})
	c.CreateDatabase("app", "")
	dbURL := c.URLFor("app")
	env["DATABASE_URL"] = dbURL
	s := startServer(t, env)
	token := register(t, newClient(s.URL), "lw_user")
	target := &lwTarget{}
	target.url.Store(&s.URL)

	stop := make(chan struct{})
	done := make(chan []lwOp)
	go func() { done <- lwLoad(target, token, 6, stop) }()
	for range 2 {
		time.Sleep(1500 * time.Millisecond)
		s = fault(c, s)
		target.url.Store(&s.URL)
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	return lwVerify(t, dbURL, <-done), s
}
