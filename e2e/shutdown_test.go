package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/testdb"
)

// Graceful shutdown against the real process: a load balancer (the
// watcher) polls /readyz and, when it turns 503, stops sending new
// requests; meanwhile mixed requests, some slow, are in flight. Nothing
// that was started may be lost.

// shutOptions shape one shutdown run.
type shutOptions struct {
	sig         os.Signal
	workers     int           // goroutines sending mixed requests
	batchSize   int           // items per POST /todos/batch
	loadFor     time.Duration // load before the signal
	slowUploads int           // batch requests whose body is held open across the listener's close
	drainDelay  time.Duration // SHUTDOWN_DRAIN_DELAY
	timeout     time.Duration // SHUTDOWN_TIMEOUT
}

// TestShutdownUnderLoad: SIGTERM during a mixed load of 16 workers.
func TestShutdownUnderLoad(t *testing.T) {
	shutRun(t, shutOptions{
		sig:         syscall.SIGTERM,
		workers:     16,
		batchSize:   300,
		loadFor:     1500 * time.Millisecond,
		slowUploads: 2,
		drainDelay:  time.Second,
		timeout:     5 * time.Second,
	})
}

// TestSIGINTShutdown: Ctrl-C drains the same way as SIGTERM.
func TestSIGINTShutdown(t *testing.T) {
	shutRun(t, shutOptions{
		sig:         os.Interrupt,
		workers:     4,
		batchSize:   50,
		loadFor:     500 * time.Millisecond,
		slowUploads: 1,
		drainDelay:  time.Second,
		timeout:     5 * time.Second,
	})
}

// shutOp names the kinds of request the workers send.
type shutOp int

const (
	shutList shutOp = iota
	shutCreate
	shutBatch
	shutPatch
	shutSlowBatch
	shutNumOps
)

func (o shutOp) String() string {
	return [...]string{"GET /todos", "POST /todos", "POST /todos/batch", "PATCH /todos/{id}", "POST /todos/batch (slow body)"}[o]
}

// shutStats is what the load saw.
type shutStats struct {
	started      atomic.Int64
	completed    atomic.Int64 // complete 2xx answers
	inFlight     atomic.Int64
	rowsAnswered atomic.Int64 // todos the server said (201) it created

	mu        sync.Mutex
	perOp     [shutNumOps]int64
	failures  []string // transport errors on requests started before stop, and non-2xx answers
	late      []string // transport errors on requests started after stop reached the workers
	intervals [][2]time.Time
}

// shutWatch is what the load balancer saw.
type shutWatch struct {
	polls        int
	slowest      time.Duration // the slowest probe answered before the signal
	n200, n503   int
	first503     time.Time
	firstClosed  time.Time // first transport error after the signal: the listener is gone
	closedErr    error
	reason503    string
	errorsBefore []string // transport errors or odd statuses before any 503
}

func shutRun(t *testing.T, o shutOptions) {
	dbURL := testdb.Fresh(t)
	s := startServer(t, map[string]string{
		"DATABASE_URL":         dbURL,
		"SHUTDOWN_DRAIN_DELAY": o.drainDelay.String(),
		"SHUTDOWN_TIMEOUT":     o.timeout.String(),
	})
	// A new connection per request, as from many clients.
	cl := &client{base: s.URL, hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}}
	// The load balancer's probe gives up after 2 s, as probes do.
	probe := &client{base: s.URL, hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}}
	token := register(t, cl, fmt.Sprintf("shut_%d", time.Now().UnixNano()%1e9))

	// Each worker patches a todo of its own.
	patchIDs := make([]int64, o.workers)
	for i := range patchIDs {
		var td struct{ ID int64 }
		cl.do("POST", "/api/v1/todos", token, map[string]any{"title": fmt.Sprintf("patch target %d", i)}).expect(t, http.StatusCreated, &td)
		patchIDs[i] = td.ID
	}
	setupRows := int64(o.workers)

	var (
		stats    shutStats
		watch    shutWatch
		stop     = make(chan struct{}) // the watcher saw 503: start nothing new
		stopOnce sync.Once
		stopAt   atomic.Int64          // unix nanos when stop closed
		closed   = make(chan struct{}) // the watcher saw the listener closed
		signaled = make(chan struct{}) // the signal has been sent
		quit     = make(chan struct{}) // the test is done
		sigAt    time.Time
	)
	closeStop := func() {
		stopOnce.Do(func() {
			stopAt.Store(time.Now().UnixNano())
			close(stop)
		})
	}

	// record accounts for one request.
	// A transport error counts as a failure when the request started before
	// the stop reached the workers; any answer but the expected 2xx does.
	record := func(op shutOp, start, end time.Time, status, want int, rows int64, err error) {
		stats.inFlight.Add(-1)
		stats.mu.Lock()
		defer stats.mu.Unlock()
		stats.intervals = append(stats.intervals, [2]time.Time{start, end})
		switch {
		case err != nil:
			msg := fmt.Sprintf("%s started at %s: %v", op, start.Format("15:04:05.000"), err)
			if sa := stopAt.Load(); sa != 0 && start.UnixNano() >= sa {
				stats.late = append(stats.late, msg)
			} else {
				stats.failures = append(stats.failures, msg)
			}
		case status != want:
			stats.failures = append(stats.failures, fmt.Sprintf("%s → %d, want %d", op, status, want))
		default:
			stats.completed.Add(1)
			stats.perOp[op]++
			stats.rowsAnswered.Add(rows)
		}
	}

	// The load balancer: polls /readyz; on 503 it stops new traffic, and it
	// goes on polling until the listener refuses connections. A probe that
	// fails after the signal means the listener is gone even when no 503 was
	// seen: that is recorded as readiness misbehaving, and closed is closed
	// all the same, because the slow uploads wait for it. (They used to wait
	// for a close seen after a 503 only, so a missed 503 held them, and with
	// them http.Server.Shutdown, until their own fallback: the run then
	// failed as "still running after SHUTDOWN_TIMEOUT", which hid the cause.)
	var watchDone sync.WaitGroup
	watchDone.Add(1)
	go func() {
		defer watchDone.Done()
		defer closeStop()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			probeStart := time.Now()
			r := probe.do("GET", "/readyz", "", nil)
			status, body, err := r.Status, r.Body, r.Err
			watch.polls++
			afterSignal := false
			select {
			case <-signaled:
				afterSignal = true
			default:
				watch.slowest = max(watch.slowest, time.Since(probeStart))
			}
			switch {
			case err != nil && !afterSignal:
				watch.errorsBefore = append(watch.errorsBefore, err.Error())
			case err != nil:
				if watch.first503.IsZero() {
					watch.errorsBefore = append(watch.errorsBefore, "the listener closed before /readyz answered 503: "+err.Error())
				}
				watch.firstClosed, watch.closedErr = time.Now(), err
				close(closed)
				return
			case status == http.StatusOK:
				watch.n200++
				if !watch.first503.IsZero() {
					watch.errorsBefore = append(watch.errorsBefore, "readyz went back to 200 after 503")
				}
			case status == http.StatusServiceUnavailable:
				watch.n503++
				if watch.first503.IsZero() {
					watch.first503 = time.Now()
					var r struct{ Reason string }
					json.Unmarshal(body, &r)
					watch.reason503 = r.Reason
					closeStop()
				}
			default:
				watch.errorsBefore = append(watch.errorsBefore, fmt.Sprintf("readyz answered %d", status))
			}
		}
	}()

	var workers sync.WaitGroup
	for w := 0; w < o.workers; w++ {
		workers.Add(1)
		go func(w int) {
			defer workers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-quit:
					return
				default:
				}
				op := shutOp((w + i) % 4)
				var (
					method, path string
					body         any
					want         = http.StatusOK
					rows         int64
				)
				switch op {
				case shutList:
					method, path = "GET", "/api/v1/todos?limit=50"
				case shutCreate:
					method, path, want, rows = "POST", "/api/v1/todos", http.StatusCreated, 1
					body = map[string]any{"title": fmt.Sprintf("w%d-%d", w, i), "priority": i % 6}
				case shutBatch:
					method, path, want, rows = "POST", "/api/v1/todos/batch", http.StatusCreated, int64(o.batchSize)
					body = map[string]any{"items": shutItems(fmt.Sprintf("w%d-%d", w, i), 0, o.batchSize)}
				case shutPatch:
					method, path = "PATCH", fmt.Sprintf("/api/v1/todos/%d", patchIDs[w])
					body = map[string]any{"completed": i%2 == 0, "priority": i % 6}
				}
				stats.started.Add(1)
				stats.inFlight.Add(1)
				start := time.Now()
				r := cl.do(method, path, token, body)
				status, err := r.Status, r.Err
				record(op, start, time.Now(), status, want, rows, err)
				if err != nil {
					return // a client gives up on a backend that fails it
				}
			}
		}(w)
	}

	time.Sleep(o.loadFor)

	// Slow uploads: batch requests whose body is held open until the
	// listener has closed, so that they are certainly in flight while
	// http.Server.Shutdown waits.
	var uploadsSent sync.WaitGroup // each upload's headers are on the wire
	for u := 0; u < o.slowUploads; u++ {
		workers.Add(1)
		uploadsSent.Add(1)
		go func(u int) {
			defer workers.Done()
			var sent sync.Once
			defer sent.Do(uploadsSent.Done) // also when the request fails first
			n := o.batchSize
			pr, pw := io.Pipe()
			go func() {
				first, _ := json.Marshal(shutItems(fmt.Sprintf("slow%d", u), 0, n/2))
				rest, _ := json.Marshal(shutItems(fmt.Sprintf("slow%d", u), n/2, n))
				pw.Write([]byte(`{"items":`))
				pw.Write(first[:len(first)-1]) // without the closing bracket
				select {
				case <-closed:
					time.Sleep(200 * time.Millisecond)
				case <-quit:
				case <-time.After(o.drainDelay + 5*time.Second):
				}
				pw.Write([]byte(","))
				pw.Write(rest[1:]) // without the opening bracket
				pw.Write([]byte("}"))
				pw.Close()
			}()
			req, err := http.NewRequest("POST", s.URL+"/api/v1/todos/batch", pr)
			if err != nil {
				panic(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				WroteHeaders: func() { sent.Do(uploadsSent.Done) },
			}))
			stats.started.Add(1)
			stats.inFlight.Add(1)
			start := time.Now()
			r := cl.send("POST /api/v1/todos/batch (slow upload)", req)
			status, err := r.Status, r.Err
			pr.CloseWithError(errors.New("request over"))
			record(shutSlowBatch, start, time.Now(), status, http.StatusCreated, int64(n), err)
		}(u)
	}
	// The signal waits until the slow uploads' headers are on the wire,
	// rather than a fixed 100 ms: on an overloaded machine the uploads
	// could still be unsent after that, which measured the scheduler.
	uploadsOnWire := make(chan struct{})
	go func() { uploadsSent.Wait(); close(uploadsOnWire) }()
	select {
	case <-uploadsOnWire:
	case <-time.After(10 * time.Second):
		t.Errorf("the slow uploads' headers were not sent within 10 s")
	}

	inFlightAtSignal := stats.inFlight.Load()
	completedAtSignal := stats.completed.Load()
	sigAt = time.Now()
	s.Signal(t, o.sig)
	close(signaled)

	exitErr := s.Wait(o.timeout)
	exitAfter := time.Since(sigAt)
	if errors.Is(exitErr, context.DeadlineExceeded) {
		// Still running when it should be gone: a goroutine dump (in the
		// logs printed below) says what it waits for.
		s.Signal(t, syscall.SIGQUIT)
		s.Wait(5 * time.Second)
		exitErr = fmt.Errorf("still running %s after the signal; sent SIGQUIT for a goroutine dump", o.timeout)
	}
	closeStop() // in case the watcher never saw 503: end the load
	close(quit)
	workers.Wait()
	watchDone.Wait()

	stats.mu.Lock()
	defer stats.mu.Unlock()
	closedAt := watch.firstClosed
	inFlightAtClose := 0
	if !closedAt.IsZero() {
		for _, iv := range stats.intervals {
			if iv[0].Before(closedAt) && iv[1].After(closedAt) {
				inFlightAtClose++
			}
		}
	}
	var stopDelay time.Duration
	if sa := stopAt.Load(); sa != 0 {
		stopDelay = time.Unix(0, sa).Sub(sigAt)
	}
	t.Logf("%v: %d requests started, %d completed with 2xx (%d before the signal); in flight at the signal: %d; in flight when the listener closed: %d; failures: %d; transport errors after stop: %d",
		o.sig, stats.started.Load(), stats.completed.Load(), completedAtSignal, inFlightAtSignal, inFlightAtClose, len(stats.failures), len(stats.late))
	for op := shutOp(0); op < shutNumOps; op++ {
		t.Logf("  %-30s %d ok", op, stats.perOp[op])
	}
	// The server's own log says, to the millisecond (so -1ms can appear),
	// when it turned readiness off, which splits "503 seen after the signal"
	// into the process acting on the signal and the watcher hearing of it.
	var drainAt time.Time
	if lines := s.logLines("shutting down: readiness off"); len(lines) > 0 {
		drainAt = shutLogTime(lines[0])
	}
	t.Logf("watcher: %d polls (slowest before the signal %s), %d×200, %d×503 (reason %q); readiness off %s after the signal (server log), 503 seen %s after the signal, workers stopped %s after it; listener closed %s after the first 503 (%v); process exited %s after the signal",
		watch.polls, watch.slowest.Round(time.Millisecond), watch.n200, watch.n503, watch.reason503, shutSince(sigAt, drainAt), shutSince(sigAt, watch.first503), stopDelay.Round(time.Millisecond),
		shutSince(watch.first503, watch.firstClosed), watch.closedErr, exitAfter.Round(time.Millisecond))

	// The process exits 0, within SHUTDOWN_TIMEOUT, and says so.
	if exitErr != nil {
		t.Errorf("process exit: %v, want status 0", exitErr)
	}
	if exitAfter > o.timeout {
		t.Errorf("process exited %s after the signal, want within SHUTDOWN_TIMEOUT=%s", exitAfter, o.timeout)
	}
	// Readiness turned off first, while connections were still accepted.
	if len(watch.errorsBefore) > 0 {
		t.Errorf("readiness misbehaved before shutdown: %q", shutFirst(watch.errorsBefore, 5))
	}
	switch {
	case watch.first503.IsZero():
		t.Errorf("the watcher never saw /readyz answer 503")
	case watch.first503.Before(sigAt):
		t.Errorf("/readyz answered 503 (%q) %s before the signal: readiness flaps under load", watch.reason503, sigAt.Sub(watch.first503))
	case watch.reason503 != "shutting down":
		t.Errorf("/readyz 503 reason = %q, want \"shutting down\"", watch.reason503)
	}
	switch {
	case watch.firstClosed.IsZero():
		t.Errorf("the watcher never saw the listener close")
	case !watch.first503.IsZero() && !watch.firstClosed.After(watch.first503):
		t.Errorf("listener closed before /readyz turned 503")
	case watch.n503 < 1:
		t.Errorf("no 503 was answered while the listener was open")
	case !watch.first503.IsZero() && watch.firstClosed.Sub(watch.first503) < o.drainDelay/4:
		t.Errorf("the listener closed %s after /readyz turned 503, want about SHUTDOWN_DRAIN_DELAY=%s", watch.firstClosed.Sub(watch.first503), o.drainDelay)
	}
	// Nothing that was started was lost.
	if len(stats.failures) > 0 {
		t.Errorf("%d in-flight requests failed, e.g. %q", len(stats.failures), shutFirst(stats.failures, 5))
	}
	if stats.completed.Load() == 0 || completedAtSignal == 0 {
		t.Errorf("no load: %d completed, %d before the signal", stats.completed.Load(), completedAtSignal)
	}
	for op := shutOp(0); op < shutNumOps; op++ {
		if stats.perOp[op] == 0 && (op != shutSlowBatch || o.slowUploads > 0) {
			t.Errorf("no %s completed: the load was not mixed", op)
		}
	}
	if inFlightAtSignal == 0 {
		t.Errorf("nothing was in flight at the signal")
	}
	if inFlightAtClose < o.slowUploads {
		t.Errorf("%d requests were in flight when the listener closed, want at least the %d slow uploads", inFlightAtClose, o.slowUploads)
	}
	// Every answered create is in the database, and nothing else is.
	if rows, err := queryCount(dbURL, "SELECT count(*) FROM todos"); err != nil {
		t.Errorf("count todos: %v", err)
	} else if want := setupRows + stats.rowsAnswered.Load(); rows != want {
		t.Errorf("%d todos in the database, want %d (the setup's %d + the %d answered with 201)", rows, want, setupRows, stats.rowsAnswered.Load())
	}
	// The logs tell the story, in order, and nothing went wrong.
	drainLines := s.logLines("shutting down: readiness off")
	stopLines := s.logLines("stopped: all in-flight requests answered")
	if len(drainLines) != 1 || !strings.Contains(drainLines[0], "drain_delay="+o.drainDelay.String()) || !strings.Contains(drainLines[0], "timeout="+o.timeout.String()) {
		t.Errorf("want one \"shutting down: readiness off\" line with drain_delay=%s timeout=%s, got %q", o.drainDelay, o.timeout, drainLines)
	}
	if len(stopLines) != 1 {
		t.Errorf("want one \"stopped: all in-flight requests answered\" line, got %q", stopLines)
	}
	logs := s.logs.String()
	if i, j := strings.Index(logs, "shutting down: readiness off"), strings.Index(logs, "stopped: all in-flight"); i < 0 || j < i {
		t.Errorf("shutdown lines out of order")
	}
	if errs := s.logLines("level=ERROR"); len(errs) > 0 {
		t.Errorf("error lines in the logs: %q", shutFirst(errs, 5))
	}
	if warns := s.logLines("level=WARN"); len(warns) > 0 {
		t.Logf("%d warning lines in the logs, e.g. %q", len(warns), shutFirst(warns, 3))
	}
}

// shutItems makes batch items [from, to).
func shutItems(prefix string, from, to int) []map[string]any {
	items := make([]map[string]any, 0, to-from)
	for i := from; i < to; i++ {
		items = append(items, map[string]any{"title": fmt.Sprintf("%s item %d", prefix, i), "description": "part of a batch", "priority": i % 6})
	}
	return items
}

// shutLogTime reads the time= field of a server log line.
func shutLogTime(line string) time.Time {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "time="); ok {
			at, _ := time.Parse(time.RFC3339Nano, v)
			return at
		}
	}
	return time.Time{}
}

func shutSince(from, to time.Time) string {
	if from.IsZero() || to.IsZero() {
		return "never"
	}
	return to.Sub(from).Round(time.Millisecond).String()
}

func shutFirst(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
