package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
)

// haproxyPath is Debian's HAProxy, which test.sh installs when missing.
const haproxyPath = "/usr/sbin/haproxy"

// The cluster-wide limits the three instances share in this test.
const (
	lbRateBurst = 10
	lbRatePerS  = 0.2
)

// lbProxy is a running HAProxy in front of the instances.
type lbProxy struct {
	URL  string
	sock string // the stats socket
	cmd  *exec.Cmd
	logs *pgharness.LogBuffer
	done chan error
}

// lbConfig is the HAProxy configuration the test runs, and the one
// docs/deploy.md shows: round robin over the instances, each checked on
// /readyz every 200 ms (down after 2 failures, up after 1 success); a
// request whose connection fails, or whose server closes without
// answering or does not answer in time, is sent again, to another server.
// Such a retry is only allowed when repeating the request is harmless:
// methods that are idempotent, and creates that carry an Idempotency-Key
// (the service replays the first answer). The client's own
// X-Forwarded-For is dropped and replaced by its address, which the
// instances trust from the balancer only (TRUSTED_PROXIES).
func lbConfig(listen, statsSocket string, servers []string) string {
	var b strings.Builder
	b.WriteString(`global
    log stderr format raw local0 notice
    stats socket ` + statsSocket + ` mode 600 level user

defaults
    mode http
    log global
    timeout connect 1s
    timeout client 30s
    timeout server 20s
    timeout check 1s
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend api
    bind ` + listen + `
    http-request del-header X-Forwarded-For
    option forwardfor
    default_backend todo_api

backend todo_api
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server inter 200ms fall 2 rise 1
    acl retry_safe method GET HEAD OPTIONS PUT DELETE
    acl has_key req.hdr(Idempotency-Key) -m found
    http-request disable-l7-retry unless retry_safe || has_key
    http-response set-header X-Served-By %s
`)
	for i, s := range servers {
		fmt.Fprintf(&b, "    server %s %s check\n", lbName(i), s)
	}
	return b.String()
}

// lbName is the HAProxy server name of instance i: app1, app2, app3.
func lbName(i int) string { return "app" + strconv.Itoa(i+1) }

// startHAProxy runs HAProxy in the foreground on a free loopback port in
// front of servers, and stops it when the test ends.
func startHAProxy(t *testing.T, servers []*server) *lbProxy {
	t.Helper()
	if _, err := os.Stat(haproxyPath); err != nil {
		t.Fatalf("%s is missing (%v): test.sh installs it (apt-get install -y haproxy)", haproxyPath, err)
	}
	addrs := make([]string, len(servers))
	for i, s := range servers {
		addrs[i] = "127.0.0.1:" + strconv.Itoa(s.Port)
	}
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	dir := t.TempDir()
	cfgPath, sock := filepath.Join(dir, "haproxy.cfg"), filepath.Join(dir, "haproxy.sock")
	if err := os.WriteFile(cfgPath, []byte(lbConfig(listen, sock, addrs)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxyPath, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c refused the configuration: %v\n%s", err, out)
	}
	p := &lbProxy{URL: "http://" + listen, sock: sock, logs: &pgharness.LogBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(haproxyPath, "-db", "-f", cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("haproxy log:\n%s", p.logs.String())
		}
	})
	// Ready when every instance has answered through it.
	c := newClient(p.URL)
	seen := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); len(seen) < len(servers); {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("haproxy exited at start: %v\n%s", err, p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy on %s: only %v answered after 10s\n%s", listen, seen, p.logs.String())
		}
		if r := c.do("GET", "/healthz", "", nil); r.Err == nil && r.Status == http.StatusOK {
			seen[r.Header.Get("X-Served-By")] = true
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p
}

// serverStats returns HAProxy's counters (`show stat`) of each server of
// the backend, by server name and column name.
func (p *lbProxy) serverStats(t *testing.T) map[string]map[string]string {
	t.Helper()
	conn, err := net.DialTimeout("unix", p.sock, 5*time.Second)
	if err != nil {
		t.Fatalf("haproxy stats socket: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("show stat\n")); err != nil {
		t.Fatalf("haproxy stats socket: %v", err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("haproxy stats socket: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		t.Fatalf("haproxy show stat: %q", out)
	}
	cols := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	stats := map[string]map[string]string{}
	for _, l := range lines[1:] {
		vals := strings.Split(l, ",")
		row := map[string]string{}
		for i, c := range cols {
			if i < len(vals) {
				row[c] = vals[i]
			}
		}
		if row["pxname"] == "todo_api" && row["svname"] != "BACKEND" {
			stats[row["svname"]] = row
		}
	}
	return stats
}

// lbTally counts the answers of every instance, by X-Served-By.
type lbTally struct {
	mu  sync.Mutex
	per map[string]int
}

func (l *lbTally) add(r response) string {
	who := r.Header.Get("X-Served-By")
	if r.Err != nil {
		who = "" // no answer
	} else if who == "" {
		who = "haproxy" // the balancer answered itself (502, 503)
	}
	if who != "" {
		l.mu.Lock()
		l.per[who]++
		l.mu.Unlock()
	}
	return who
}

func (l *lbTally) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.per))
	for n := range l.per {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, l.per[n])
	}
	return strings.Join(parts, " ")
}

// lbClient sends through the balancer and counts who answered.
type lbClient struct {
	*client
	tally *lbTally
}

// send is client.do, returning the answer and the instance that gave it.
func (c lbClient) send(method, path, token string, body any, hdr ...string) (response, string) {
	r := c.do(method, path, token, body, hdr...)
	return r, c.tally.add(r)
}

// lbWrite is one attempt of a retried create.
type lbWrite struct {
	sent     time.Time
	server   string
	status   int  // 0: no answer
	replayed bool // a 201 replayed from the key
}

// TestThreeInstancesBehindHAProxy: three instances, started at the same
// moment on one database behind PgBouncer in transaction mode (as Neon's
// pooler), serve through HAProxy in round robin. Exactly one applies the
// migrations; a cursor walk takes each page from another instance; an
// Idempotency-Key gives one row however many instances see it, also sent
// by 16 clients at once; the auth rate limit holds in total, not per
// instance; a deactivation is refused at once on every instance even with
// AUTH_CACHE_TTL=1m; and a SIGKILL of one instance under a write load
// that retries with its keys loses and duplicates nothing while HAProxy
// routes around it.
func TestThreeInstancesBehindHAProxy(t *testing.T) {
	if _, err := os.Stat(haproxyPath); err != nil {
		t.Fatalf("%s is missing (%v): test.sh installs it (apt-get install -y haproxy)", haproxyPath, err)
	}
	direct := testdb.Fresh(t)
	du, err := pgx.ParseConfig(direct)
	if err != nil {
		t.Fatal(err)
	}
	bouncer := pgharness.StartPgBouncer(t, "127.0.0.1", freePort(t), du.Host, int(du.Port))
	pooled := bouncer.URL(du.Database)
	env := map[string]string{
		"DATABASE_URL":          pooled,
		"DATABASE_URL_UNPOOLED": direct,
		// A loopback pooler has no -pooler host name for auto to see.
		"DB_QUERY_EXEC_MODE":   "exec",
		"DB_MAX_OPEN_CONNS":    "5",
		"DB_MAX_IDLE_CONNS":    "5",
		"EMBEDDED_POSTGRES":    "never",
		"AUTH_CACHE_TTL":       "1m",
		"AUTH_RATE_BURST":      strconv.Itoa(lbRateBurst),
		"AUTH_RATE_LIMIT":      strconv.FormatFloat(lbRatePerS, 'f', -1, 64),
		"TRUSTED_PROXIES":      "127.0.0.1/32",
		"SHUTDOWN_DRAIN_DELAY": "0s",
	}

	// Three instances launched before any is ready.
	servers := make([]*server, 3)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { servers[i] = launchServer(t, env) })
	}
	wg.Wait()
	for i, s := range servers {
		if err := s.waitReady(60 * time.Second); err != nil {
			t.Fatalf("instance %s not ready: %v\n%s", lbName(i), err, s.logs.String())
		}
	}
	applied := appliedAtStart(t, servers)
	appliers := 0
	for _, n := range applied {
		if n != 0 {
			appliers++
		}
	}
	if len(applied) != 3 || appliers != 1 || applied[0]+applied[1]+applied[2] != len(migrations.All()) {
		t.Fatalf("migrations applied per instance: %v, want %d by one and 0 by the others", applied, len(migrations.All()))
	}
	t.Logf("migrations applied per instance: %v", applied)

	// HAProxy in front of them.
	proxy := startHAProxy(t, servers)
	tally := &lbTally{per: map[string]int{}}
	lb := lbClient{newClient(proxy.URL), tally}

	// Everything below goes through the balancer.
	token := lbRegister(t, lb, "lb_main")
	lbUserID := lbMe(t, lb, token)
	items := make([]map[string]any, 40)
	for i := range items {
		items[i] = map[string]any{"title": fmt.Sprintf("walk %02d", i)}
	}
	r, _ := lb.send("POST", "/api/v1/todos/batch", token, map[string]any{"items": items})
	r.expect(t, http.StatusCreated, nil)
	for i := 40; i < 45; i++ {
		r, _ := lb.send("POST", "/api/v1/todos", token, map[string]any{"title": fmt.Sprintf("walk %02d", i)})
		r.expect(t, http.StatusCreated, nil)
	}
	seen := map[int64]bool{}
	var pageServers []string
	path := "/api/v1/todos?limit=10&q=walk"
	for {
		r, who := lb.send("GET", path, token, nil)
		var p apiPage
		r.expect(t, http.StatusOK, &p)
		if n := len(pageServers); n > 0 && pageServers[n-1] == who {
			t.Errorf("page %d came from %s, as the page before it", n, who)
		}
		pageServers = append(pageServers, who)
		for _, it := range p.Items {
			if seen[it.ID] {
				t.Fatalf("page %d repeats todo %d", len(pageServers)-1, it.ID)
			}
			seen[it.ID] = true
		}
		if p.NextCursor == nil {
			break
		}
		path = "/api/v1/todos?limit=10&q=walk&cursor=" + *p.NextCursor
	}
	if len(seen) != 45 {
		t.Fatalf("the walk saw %d todos, want 45 (pages from %v)", len(seen), pageServers)
	}
	t.Logf("cursor walk: %d pages from %v", len(pageServers), pageServers)

	// Idempotency-Key replays, one after another: round robin takes them
	// to every instance.
	body := map[string]any{"title": "replayed create", "priority": 2}
	first, firstWho := lb.send("POST", "/api/v1/todos", token, body, "Idempotency-Key", "lb-replay-1")
	first.expect(t, http.StatusCreated, nil)
	replayedOn := map[string]bool{firstWho: true}
	for range 5 {
		again, who := lb.send("POST", "/api/v1/todos", token, body, "Idempotency-Key", "lb-replay-1")
		again.expect(t, http.StatusCreated, nil)
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
			t.Errorf("replay on %s: Idempotent-Replayed %q, body %s, first body %s", who, again.Header.Get("Idempotent-Replayed"), again.Body, first.Body)
		}
		replayedOn[who] = true
	}
	if len(replayedOn) != 3 {
		t.Errorf("the create and its replays were answered by %v, want all three instances", replayedOn)
	}
	if n := countRows(t, direct, "SELECT count(*) FROM todos WHERE user_id = $1 AND title = 'replayed create'", lbUserID); n != 1 {
		t.Errorf("a create and 5 replays on 3 instances: %d rows, want 1", n)
	}

	// The same key from 16 clients at once; a 409 (the first still
	// running) is retried until the answer is there.
	const sameKeyClients = 16
	var (
		start       = make(chan struct{})
		mu          sync.Mutex
		sameBodies  = map[string]int{}
		sameServers = map[string]bool{}
		conflicts   int
	)
	for range sameKeyClients {
		wg.Go(func() {
			<-start
			for deadline := time.Now().Add(15 * time.Second); ; {
				r, who := lb.send("POST", "/api/v1/todos", token, map[string]any{"title": "same key at once"}, "Idempotency-Key", "lb-concurrent-1")
				mu.Lock()
				if r.Err == nil && r.Status == http.StatusCreated {
					sameBodies[string(r.Body)]++
					sameServers[who] = true
					mu.Unlock()
					return
				}
				if r.Status == http.StatusConflict {
					conflicts++
				}
				mu.Unlock()
				if time.Now().After(deadline) || (r.Err == nil && r.Status != http.StatusConflict && r.Status < 500) {
					t.Errorf("same key at once: %d %v %.200s", r.Status, r.Err, r.Body)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	close(start)
	wg.Wait()
	sameKeyRows := countRows(t, direct, "SELECT count(*) FROM todos WHERE user_id = $1 AND title = 'same key at once'", lbUserID)
	t.Logf("same key from %d clients at once: %d row(s); %d distinct 201 bodies from %d instance(s); %d answers were 409 and retried",
		sameKeyClients, sameKeyRows, len(sameBodies), len(sameServers), conflicts)
	if sameKeyRows != 1 || len(sameBodies) != 1 {
		t.Errorf("same key from %d clients at once: %d rows and %d distinct answers, want 1 and 1", sameKeyClients, sameKeyRows, len(sameBodies))
	}

	// Deactivation, after every instance has served the user with
	// AUTH_CACHE_TTL=1m (under which each used to keep its own copy):
	// refused at once everywhere. Not fatal, so the kill below still runs.
	revokedToken := lbRegister(t, lb, "lb_revoked")
	r, _ = lb.send("POST", "/api/v1/todos", revokedToken, map[string]any{"title": "before deactivation"})
	var own apiTodo
	r.expect(t, http.StatusCreated, &own)
	cachedOn := map[string]bool{}
	for range 6 {
		r, who := lb.send("GET", "/api/v1/users/me", revokedToken, nil)
		r.expect(t, http.StatusOK, nil)
		cachedOn[who] = true
	}
	if len(cachedOn) != 3 {
		t.Errorf("the user was read by %v before deactivation, want all three instances", cachedOn)
	}
	r, _ = lb.send("DELETE", "/api/v1/users/me", revokedToken, nil)
	r.expect(t, http.StatusNoContent, nil)
	revocationSent, revocationRefused := 0, 0
	refusedOn := map[string]int{}
	for i := range 9 {
		var r response
		var who string
		switch i % 3 {
		case 0:
			r, who = lb.send("GET", "/api/v1/todos", revokedToken, nil)
		case 1:
			r, who = lb.send("GET", fmt.Sprintf("/api/v1/todos/%d", own.ID), revokedToken, nil)
		case 2:
			r, who = lb.send("POST", "/api/v1/todos", revokedToken, map[string]any{"title": "after deactivation"})
		}
		revocationSent++
		if r.Err == nil && r.Status == http.StatusUnauthorized {
			revocationRefused++
			refusedOn[who]++
		} else {
			t.Errorf("deactivated user's token, %s on %s: %d %v, want 401", r.Name, who, r.Status, r.Err)
		}
	}
	if len(refusedOn) != 3 {
		t.Errorf("the deactivated token was refused by %v, want all three instances", refusedOn)
	}

	// The auth rate limit in total. This client connects from
	// 127.0.0.5, a client of its own (HAProxy names it in
	// X-Forwarded-For, which the instances trust from 127.0.0.1 only), so
	// the registrations above did not spend its budget. It also sends a
	// forged X-Forwarded-For, which HAProxy must drop.
	rl := lbClient{lbClientFrom(proxy.URL, "127.0.0.5"), tally}
	const rlSent = 40
	rlPassed, rlRefused := map[string]int{}, map[string]int{}
	rlStart := time.Now()
	for i := range rlSent {
		name := fmt.Sprintf("lb_rate_%02d", i)
		r, who := rl.send("POST", "/api/v1/auth/register", "", map[string]any{"email": name + "@example.com", "username": name, "password": "correct horse " + name},
			"X-Forwarded-For", "203.0.113.9")
		switch {
		case r.Err != nil:
			t.Errorf("rate limit: %s: %v", r.Name, r.Err)
		case r.Status == http.StatusTooManyRequests:
			rlRefused[who]++
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("429 on %s without Retry-After", who)
			}
		default:
			rlPassed[who]++
			if r.Status != http.StatusCreated {
				t.Errorf("rate limit: register on %s: %d %.200s", who, r.Status, r.Body)
			}
		}
	}
	rlElapsed := time.Since(rlStart)
	rlTotal := 0
	for _, n := range rlPassed {
		rlTotal += n
	}
	rlAllowed := lbRateBurst + int(lbRatePerS*rlElapsed.Seconds()) + 1
	t.Logf("rate limit: %d registrations in %s from one client: %d let through %v, %d refused %v; allowed at most %d (burst %d + %.1f/s)",
		rlSent, rlElapsed.Round(time.Millisecond), rlTotal, rlPassed, rlSent-rlTotal, rlRefused, rlAllowed, lbRateBurst, lbRatePerS)
	rlOn := map[string]bool{}
	for who := range rlPassed {
		rlOn[who] = true
	}
	for who := range rlRefused {
		rlOn[who] = true
	}
	if len(rlOn) != 3 {
		t.Errorf("rate limit: answered by %v, want all three instances", rlOn)
	}
	if rlTotal > rlAllowed {
		t.Errorf("rate limit: %d of %d requests let through across %d instances, want at most %d: the limit holds per instance, not in total",
			rlTotal, rlSent, len(rlOn), rlAllowed)
	}
	if rlTotal == 0 {
		t.Errorf("rate limit: nothing let through")
	}
	forged, fromClient := 0, 0
	for _, s := range servers {
		forged += len(s.logLines("203.0.113.9"))
		fromClient += len(s.logLines("/auth/register", "client_ip=127.0.0.5"))
	}
	if forged != 0 || fromClient != rlSent {
		t.Errorf("client address behind HAProxy: %d log lines name the forged address, %d of %d registrations name 127.0.0.5", forged, fromClient, rlSent)
	}

	// SIGKILL of one instance under a write load whose clients retry
	// with the same Idempotency-Key until they get a 201.
	const writers = 8
	killed := 1
	var (
		attemptsMu sync.Mutex
		attempts   []lbWrite
		acked      = map[string]int64{} // key → todo id answered
	)
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("kill-%d-%d", w, n)
				for try, deadline := 0, time.Now().Add(20*time.Second); ; try++ {
					sent := time.Now()
					r, who := lb.send("POST", "/api/v1/todos", token, map[string]any{"title": "kill " + key}, "Idempotency-Key", key)
					attemptsMu.Lock()
					attempts = append(attempts, lbWrite{sent: sent, server: who, status: r.Status, replayed: r.Header.Get("Idempotent-Replayed") == "true"})
					var td apiTodo
					if r.Err == nil && r.Status == http.StatusCreated && r.json(&td) == nil {
						acked[key] = td.ID
						attemptsMu.Unlock()
						break
					}
					attemptsMu.Unlock()
					if r.Err == nil && r.Status < 500 && r.Status != http.StatusConflict {
						t.Errorf("write %s: %d %.200s", key, r.Status, r.Body)
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("write %s: no 201 within 20s; last %d %v", key, r.Status, r.Err)
						break
					}
					time.Sleep(time.Duration(min(25*(try+1), 250)) * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	killedAt := time.Now()
	servers[killed].Signal(t, syscall.SIGKILL)
	servers[killed].Wait(10 * time.Second)
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	wg.Wait()

	rows := map[string][]int64{}
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, direct)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		q, err := conn.Query(ctx, "SELECT id, title FROM todos WHERE user_id = $1 AND title LIKE 'kill %'", lbUserID)
		if err != nil {
			t.Fatal(err)
		}
		for q.Next() {
			var id int64
			var title string
			if err := q.Scan(&id, &title); err != nil {
				t.Fatal(err)
			}
			key := strings.TrimPrefix(title, "kill ")
			rows[key] = append(rows[key], id)
		}
		if err := q.Err(); err != nil {
			t.Fatal(err)
		}
	}()
	lost, duplicated, wrongID := 0, 0, 0
	for key, id := range acked {
		switch ids := rows[key]; {
		case len(ids) == 0:
			lost++
			t.Errorf("write %s acknowledged (id %d) but not in the database", key, id)
		case ids[0] != id && len(ids) == 1:
			wrongID++
			t.Errorf("write %s acknowledged as id %d, stored as %d", key, id, ids[0])
		}
	}
	for key, ids := range rows {
		if len(ids) > 1 {
			duplicated += len(ids) - 1
			t.Errorf("write %s stored %d times: %v", key, len(ids), ids)
		}
	}
	killedName := lbName(killed)
	afterKill := map[string]int{}
	var failedAfterKill, retried, replayed int
	for _, a := range attempts {
		if a.status != http.StatusCreated {
			retried++
		}
		if a.replayed {
			replayed++
		}
		if !a.sent.After(killedAt) {
			continue
		}
		if a.status != http.StatusCreated {
			failedAfterKill++
		}
		if a.sent.After(killedAt.Add(time.Second)) && a.server != "" && a.server != "haproxy" {
			afterKill[a.server]++
		}
	}
	stats := proxy.serverStats(t)
	lbRetries, lbRedispatches := 0, 0
	for _, st := range stats {
		n, _ := strconv.Atoi(st["wretr"])
		m, _ := strconv.Atoi(st["wredis"])
		lbRetries, lbRedispatches = lbRetries+n, lbRedispatches+m
	}
	t.Logf("kill -9 of %s: %d writes acknowledged, %d rows, %d lost, %d duplicated; %d attempts, %d not a 201 (retried by the client), %d of them after the kill, %d 201s were replays; HAProxy retried %d and redispatched %d; answered from 1 s after the kill by %v",
		killedName, len(acked), len(rows), lost, duplicated, len(attempts), retried, failedAfterKill, replayed, lbRetries, lbRedispatches, afterKill)
	if st := stats[killedName]["status"]; !strings.HasPrefix(st, "DOWN") {
		t.Errorf("haproxy says %s is %q after its kill, want DOWN", killedName, st)
	}
	if len(acked) < 50 {
		t.Errorf("only %d writes acknowledged: the load did not run", len(acked))
	}
	if len(rows) != len(acked) {
		t.Errorf("%d distinct writes in the database, %d acknowledged: every logical write is retried to a 201", len(rows), len(acked))
	}
	if afterKill[killedName] != 0 || len(afterKill) != 2 {
		t.Errorf("after the kill of %s, answers came from %v, want the two others only", killedName, afterKill)
	}
	if !strings.Contains(proxy.logs.String(), "todo_api/"+killedName+" is DOWN") {
		t.Errorf("haproxy did not log %s as DOWN:\n%s", killedName, proxy.logs.String())
	}

	// The numbers docs/deploy.md reports.
	t.Logf("BALANCER | requests per instance: %s | same key from %d clients at once: %d row(s) | rate limit burst %d + %.1f/s: %d of %d let through in %s (allowed ≤ %d), per instance %v, refused %v | deactivated token: %d of %d refused, on %d instances | kill -9 of %s under %d writers: %d acknowledged, %d lost, %d duplicated, %d client retries, %d replays, HAProxy retries %d / redispatches %d",
		tally, sameKeyClients, sameKeyRows, lbRateBurst, lbRatePerS, rlTotal, rlSent, rlElapsed.Round(time.Millisecond), rlAllowed, rlPassed, rlRefused,
		revocationRefused, revocationSent, len(refusedOn), killedName, writers, len(acked), lost, duplicated, retried, replayed, lbRetries, lbRedispatches)
}

// lbRegister registers name through the balancer and logs in (register's
// steps, counted).
func lbRegister(t *testing.T, c lbClient, name string) string {
	t.Helper()
	pw := "correct horse " + name
	r, _ := c.send("POST", "/api/v1/auth/register", "", map[string]any{"email": name + "@example.com", "username": name, "password": pw})
	r.expect(t, http.StatusCreated, nil)
	r, _ = c.send("POST", "/api/v1/auth/login", "", map[string]any{"username": name, "password": pw})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	r.expect(t, http.StatusOK, &tok)
	return tok.AccessToken
}

// lbMe returns the id of the token's user.
func lbMe(t *testing.T, c lbClient, token string) int64 {
	t.Helper()
	r, _ := c.send("GET", "/api/v1/users/me", token, nil)
	var me struct {
		ID int64 `json:"id"`
	}
	r.expect(t, http.StatusOK, &me)
	return me.ID
}

// lbClientFrom is a client whose connections leave from the loopback
// address from, so that the balancer sees another client.
func lbClientFrom(base, from string) *client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	return &client{base: base, hc: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}
