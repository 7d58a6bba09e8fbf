package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// loadConfig is what one soak load run does.
type loadConfig struct {
	Base, Prefix, Metrics   string
	Username, Password      string
	Duration, Interval      time.Duration
	Rate                    float64
	Concurrency             int
	IDBase, IDStride, IDCnt int64
	SearchWord              string
	MonitorURL, VerifyURL   string
	Database                string
	Out                     string
}

func runLoad(args []string) error {
	var c loadConfig
	fl := flag.NewFlagSet("load", flag.ContinueOnError)
	fl.StringVar(&c.Base, "base", "http://127.0.0.1:18090", "the service's base URL")
	fl.StringVar(&c.Prefix, "prefix", "/api/v1", "API prefix")
	fl.StringVar(&c.Metrics, "metrics", "", "the service's /metrics URL (METRICS_ADDR)")
	fl.StringVar(&c.Username, "username", "bench", "the user the load logs in as")
	fl.StringVar(&c.Password, "password", "bench-password-2026", "its password")
	fl.DurationVar(&c.Duration, "duration", 30*time.Minute, "how long the load runs")
	fl.DurationVar(&c.Interval, "interval", time.Minute, "one row of samples.csv per interval")
	fl.Float64Var(&c.Rate, "rate", 200, "requests per second offered (open loop: a request that finds every worker busy is counted as dropped)")
	fl.IntVar(&c.Concurrency, "concurrency", 16, "requests in flight at most")
	fl.Int64Var(&c.IDBase, "id-base", 10, "the user's todo ids are base + stride*k, k in [0, count)")
	fl.Int64Var(&c.IDStride, "id-stride", 10, "")
	fl.Int64Var(&c.IDCnt, "id-count", 10000, "")
	fl.StringVar(&c.SearchWord, "q", "invoice", "the search word")
	fl.StringVar(&c.MonitorURL, "monitor-url", "", "a direct (unpooled) URL of the server, for pg_stat_activity (another database than the bench's)")
	fl.StringVar(&c.VerifyURL, "verify-url", "", "a direct URL of the bench database, to check the acknowledged ids at the end")
	fl.StringVar(&c.Database, "database", "", "the bench database's name, for pg_stat_activity")
	fl.StringVar(&c.Out, "out", "", "directory for samples.csv, errors.csv, acked.txt, verify.txt")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if c.Out == "" || c.Metrics == "" || c.Rate <= 0 || c.Concurrency < 1 || c.Interval <= 0 {
		return errors.New("load: -out and -metrics are required; -rate, -concurrency and -interval must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return load(ctx, c)
}

// stats are the answers of one interval.
type stats struct {
	latencies                             []float64 // ms, of every answer that came back
	requests, ok, s4xx, s429, s5xx, other int64
	transport, dropped, acked             int64
	byKind                                map[string]int64
}

type loader struct {
	c      loadConfig
	client *http.Client
	token  string
	tokMu  sync.Mutex

	mu    sync.Mutex
	cur   *stats
	acked []int64
	errW  *csv.Writer
	errF  *os.File
}

func load(ctx context.Context, c loadConfig) error {
	tr := &http.Transport{MaxIdleConns: c.Concurrency * 2, MaxIdleConnsPerHost: c.Concurrency * 2, IdleConnTimeout: time.Minute}
	l := &loader{c: c, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, cur: newStats()}
	if err := l.login(ctx); err != nil {
		return err
	}
	var err error
	if l.errF, err = os.Create(filepath.Join(c.Out, "errors.csv")); err != nil {
		return err
	}
	defer l.errF.Close()
	l.errW = csv.NewWriter(l.errF)
	l.errW.Write([]string{"unix_ms", "kind", "status", "method", "path", "detail"})

	samples, err := os.Create(filepath.Join(c.Out, "samples.csv"))
	if err != nil {
		return err
	}
	defer samples.Close()
	sw := csv.NewWriter(samples)
	sw.Write(sampleHeader)
	sw.Flush()

	var monitor *sql.DB
	if c.MonitorURL != "" {
		if monitor, err = sql.Open("pgx", c.MonitorURL); err != nil {
			return err
		}
		monitor.SetMaxOpenConns(1)
		defer monitor.Close()
	}

	runCtx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	work := make(chan struct{}, c.Concurrency)
	var wg sync.WaitGroup
	for range c.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for range work {
				l.one(runCtx, r)
			}
		}()
	}

	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / c.Rate))
	defer tick.Stop()
	sample := time.NewTicker(c.Interval)
	defer sample.Stop()
	fmt.Fprintf(os.Stderr, "soak load: %s at %.0f req/s offered, %d in flight at most, a row every %s\n", c.Duration, c.Rate, c.Concurrency, c.Interval)
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case <-tick.C:
			select {
			case work <- struct{}{}:
			default:
				l.mu.Lock()
				l.cur.dropped++
				l.mu.Unlock()
			}
		case now := <-sample.C:
			l.writeSample(ctx, sw, monitor, start, now)
		}
	}
	close(work)
	wg.Wait()
	l.writeSample(ctx, sw, monitor, start, time.Now())
	l.errW.Flush()

	if err := l.writeAcked(); err != nil {
		return err
	}
	if c.VerifyURL != "" {
		return l.verify(ctx)
	}
	return nil
}

func newStats() *stats { return &stats{byKind: map[string]int64{}} }

var sampleHeader = []string{"unix_ms", "elapsed_s", "rss_bytes", "goroutines", "go_sql_open_connections", "go_sql_in_use",
	"pg_backends", "requests", "ok", "s4xx", "s429", "s5xx", "transport_errors", "dropped", "acked_creates",
	"p50_ms", "p99_ms", "max_ms", "rps"}

// writeSample closes the interval: the service's /metrics, the server's
// backends on the bench database, and the interval's answers.
func (l *loader) writeSample(ctx context.Context, w *csv.Writer, monitor *sql.DB, start, now time.Time) {
	l.mu.Lock()
	s := l.cur
	l.cur = newStats()
	l.mu.Unlock()

	m := l.scrape(ctx)
	backends := ""
	if monitor != nil {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var n int64
		if err := monitor.QueryRowContext(qctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", l.c.Database).Scan(&n); err == nil {
			backends = strconv.FormatInt(n, 10)
		}
		cancel()
	}
	slices.Sort(s.latencies)
	pct := func(p float64) string {
		if len(s.latencies) == 0 {
			return ""
		}
		i := int(p*float64(len(s.latencies))+0.5) - 1
		return strconv.FormatFloat(s.latencies[max(0, min(i, len(s.latencies)-1))], 'f', 3, 64)
	}
	maxMS := ""
	if len(s.latencies) > 0 {
		maxMS = strconv.FormatFloat(s.latencies[len(s.latencies)-1], 'f', 3, 64)
	}
	f := func(v int64) string { return strconv.FormatInt(v, 10) }
	w.Write([]string{f(now.UnixMilli()), strconv.FormatFloat(now.Sub(start).Seconds(), 'f', 1, 64),
		m["process_resident_memory_bytes"], m["go_goroutines"], m["go_sql_open_connections"], m["go_sql_in_use_connections"],
		backends, f(s.requests), f(s.ok), f(s.s4xx), f(s.s429), f(s.s5xx), f(s.transport), f(s.dropped), f(s.acked),
		pct(0.50), pct(0.99), maxMS, strconv.FormatFloat(float64(s.requests)/l.c.Interval.Seconds(), 'f', 1, 64)})
	w.Flush()
	l.errW.Flush()
	fmt.Fprintf(os.Stderr, "soak load: %5.0f s  requests %d (5xx %d, 429 %d, other 4xx %d, transport %d, dropped %d)  p99 %s ms  rss %s  goroutines %s  open conns %s  pg backends %s\n",
		now.Sub(start).Seconds(), s.requests, s.s5xx, s.s429, s.s4xx-s.s429, s.transport, s.dropped, pct(0.99),
		m["process_resident_memory_bytes"], m["go_goroutines"], m["go_sql_open_connections"], backends)
}

// scrape reads the few metrics a sample keeps; missing ones are "".
func (l *loader) scrape(ctx context.Context) map[string]string {
	out := map[string]string{}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, l.c.Metrics, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			if j := strings.LastIndexByte(line, '}'); j >= 0 {
				rest = strings.TrimSpace(line[j+1:])
			}
		}
		switch name {
		case "process_resident_memory_bytes", "go_goroutines", "go_sql_open_connections", "go_sql_in_use_connections":
			if v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64); err == nil {
				out[name] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	return out
}

func (l *loader) login(ctx context.Context) error {
	body, _ := json.Marshal(map[string]string{"username": l.c.Username, "password": l.c.Password})
	var last error
	for attempt := 0; attempt < 10; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.c.Base+l.c.Prefix+"/auth/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := l.client.Do(req)
		if err == nil {
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &tok) == nil && tok.AccessToken != "" {
				l.tokMu.Lock()
				l.token = tok.AccessToken
				l.tokMu.Unlock()
				return nil
			}
			err = fmt.Errorf("login answered %d: %s", resp.StatusCode, b)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return last
}

var (
	verbs = []string{"Buy", "Call about the", "Email", "Fix", "Review", "Book", "Pay", "Sort out",
		"Prepare", "Check", "Renew", "Pick up", "Finish", "Organise", "Return", "Print"}
	nouns = []string{"invoice", "groceries", "dentist appointment", "quarterly report", "car service",
		"concert tickets", "laundry", "garden hose", "passport", "slides", "budget", "birthday present"}
)

// one sends one request of the mix bench/lua/mix.lua sends: 40% get, 30%
// first page, 10% search, 10% create, 10% patch.
func (l *loader) one(ctx context.Context, r *rand.Rand) {
	id := l.c.IDBase + l.c.IDStride*r.Int64N(l.c.IDCnt)
	var method, path, kind string
	var body []byte
	switch p := r.Float64(); {
	case p < 0.4:
		method, path, kind = http.MethodGet, fmt.Sprintf("/todos/%d", id), "get"
	case p < 0.7:
		method, path, kind = http.MethodGet, "/todos?limit=20", "first"
	case p < 0.8:
		method, path, kind = http.MethodGet, "/todos?q="+l.c.SearchWord, "search"
	case p < 0.9:
		noun := nouns[r.IntN(len(nouns))]
		t := map[string]any{"title": verbs[r.IntN(len(verbs))] + " " + noun, "priority": r.IntN(6)}
		if r.Float64() < 0.6 {
			t["description"] = "Remember the " + noun + " before Friday."
		}
		if r.Float64() < 0.5 {
			t["due_date"] = fmt.Sprintf("2027-%02d-%02dT%02d:00:00Z", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24))
		}
		body, _ = json.Marshal(t)
		method, path, kind = http.MethodPost, "/todos", "create"
	default:
		body, _ = json.Marshal(map[string]any{"completed": r.Float64() < 0.3, "priority": r.IntN(6)})
		method, path, kind = http.MethodPatch, fmt.Sprintf("/todos/%d", id), "patch"
	}
	req, err := http.NewRequestWithContext(ctx, method, l.c.Base+l.c.Prefix+path, bytes.NewReader(body))
	if err != nil {
		return
	}
	l.tokMu.Lock()
	req.Header.Set("Authorization", "Bearer "+l.token)
	l.tokMu.Unlock()
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	t0 := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // the run ended with this request in flight: not an answer
		}
		l.record(kind, method, path, 0, time.Since(t0), err.Error(), 0)
		return
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	elapsed := time.Since(t0)
	var created int64
	if kind == "create" && resp.StatusCode == http.StatusCreated {
		var t struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(b, &t) == nil {
			created = t.ID
		}
	}
	detail := ""
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		detail = strings.Join(strings.Fields(string(b)), " ")
		if len(detail) > 300 {
			detail = detail[:300]
		}
		if rid := resp.Header.Get("X-Request-Id"); rid != "" {
			detail = "request " + rid + ": " + detail
		}
	}
	l.record(kind, method, path, resp.StatusCode, elapsed, detail, created)
	if resp.StatusCode == http.StatusUnauthorized {
		_ = l.login(ctx) // a token past its TTL: log in again
	}
}

func (l *loader) record(kind, method, path string, status int, elapsed time.Duration, detail string, created int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.cur
	s.requests++
	s.byKind[kind]++
	switch {
	case status == 0:
		s.transport++
	case status >= 200 && status <= 299:
		s.ok++
	case status == 429:
		s.s429++
		s.s4xx++
	case status >= 400 && status <= 499:
		s.s4xx++
	case status >= 500:
		s.s5xx++
	default:
		s.other++
	}
	if status != 0 {
		s.latencies = append(s.latencies, float64(elapsed.Microseconds())/1000)
	}
	if created > 0 {
		s.acked++
		l.acked = append(l.acked, created)
	}
	if status < 200 || status > 299 {
		errKind := "status"
		if status == 0 {
			errKind = "transport"
		}
		l.errW.Write([]string{strconv.FormatInt(time.Now().UnixMilli(), 10), errKind, strconv.Itoa(status), method, path, detail})
	}
}

func (l *loader) writeAcked() error {
	var b strings.Builder
	for _, id := range l.acked {
		b.WriteString(strconv.FormatInt(id, 10))
		b.WriteByte('\n')
	}
	return os.WriteFile(filepath.Join(l.c.Out, "acked.txt"), []byte(b.String()), 0o644)
}

// verify checks that every acknowledged create is in the database.
func (l *loader) verify(ctx context.Context) error {
	db, err := sql.Open("pgx", l.c.VerifyURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var lost int64
	var missing []int64
	// In chunks, so one statement never carries too many parameters' worth of text.
	for i := 0; i < len(l.acked); i += 10000 {
		chunk := l.acked[i:min(i+10000, len(l.acked))]
		ids := make([]string, len(chunk))
		for j, id := range chunk {
			ids[j] = strconv.FormatInt(id, 10)
		}
		gone, err := missingIDs(ctx, db, ids)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		lost += int64(len(gone))
		missing = append(missing, gone[:min(len(gone), 20-len(missing))]...)
	}
	distinct := map[int64]bool{}
	for _, id := range l.acked {
		distinct[id] = true
	}
	text := fmt.Sprintf("acked=%d\ndistinct=%d\nlost=%d\nlost_examples=%v\n", len(l.acked), len(distinct), lost, missing)
	fmt.Fprint(os.Stderr, "soak load: acknowledged writes checked: "+strings.ReplaceAll(text, "\n", " ")+"\n")
	return os.WriteFile(filepath.Join(l.c.Out, "verify.txt"), []byte(text), 0o644)
}

// missingIDs returns those of ids (decimal text) that no row of todos has.
func missingIDs(ctx context.Context, db *sql.DB, ids []string) ([]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT a.id FROM unnest($1::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM todos t WHERE t.id = a.id)`,
		"{"+strings.Join(ids, ",")+"}")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
