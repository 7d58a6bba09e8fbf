package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{593}, 593},
		{[]float64{598, 585, 593}, 593},
		{[]float64{3949.32, 4187.52, 1900.23}, 3949.32},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.in[i] {
				t.Fatalf("Median reordered its argument: %v", tt.in)
			}
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"rate below 100", fmtRate(20.72), "20.7"},
		{"rate", fmtRate(3949.32), "3949"},
		{"rate NaN", fmtRate(math.NaN()), "–"},
		{"ms below 10", fmtMS(6.727), "6.73 ms"},
		{"ms below 100", fmtMS(89.508), "89.5 ms"},
		{"ms", fmtMS(1225.483), "1225 ms"},
		{"ms NaN", fmtMS(math.NaN()), "–"},
		{"ratio", fmtRatio(3949.32, 18548.692690), "0.21"},
		{"ratio by zero", fmtRatio(1, 0), "–"},
		{"num", fmtNum(593), "593"},
		{"num half", fmtNum(592.5), "592.5"},
		{"num unknown", fmtNum(-1), "–"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestSplice(t *testing.T) {
	gen := BeginMark + "\nnew\n" + EndMark + "\n"
	tests := []struct {
		name, doc, want string
	}{
		{"between the markers", "# Title\n\nhand-written\n\n" + BeginMark + "\nold\nold\n" + EndMark + "\nafter\n",
			"# Title\n\nhand-written\n\n" + gen + "after\n"},
		{"markers at the edges", BeginMark + "\nold\n" + EndMark, gen},
		{"no markers", "# Title\n", "# Title\n\n" + gen},
		{"no document", "", gen},
		{"an end marker only", "# Title\n" + EndMark + "\n", "# Title\n" + EndMark + "\n\n" + gen},
	}
	for _, tt := range tests {
		if got := Splice(tt.doc, gen); got != tt.want {
			t.Errorf("%s: Splice =\n%q\nwant\n%q", tt.name, got, tt.want)
		}
	}
}

// writeRun builds a results directory as bench/run.sh writes it, from the
// recorded samples: a large scale with get (3 runs), first and mix (1 run
// each), and a small scale with first (1 run).
func writeRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"meta.txt": "started=1795705140\nruns=3\nduration_s=2\nwarmup_s=0\nthreads=2\nconnections=8\nscales=large small\n" +
			"startup_samples=3\nsearch_word=invoice\nnproc=2\ncpu_model=Intel(R) Xeon(R) Processor\nmem_total_kb=24746394\n" +
			"kernel=Linux 6.18.44\npg_version=PostgreSQL 15.20\npg_settings=jit=on, work_mem=4096kB\ngo_version=go version go1.26.8 linux/amd64\n" +
			"wrk_version=wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\npgbench_version=pgbench (PostgreSQL) 15.20\n" +
			"git_rev=abc1234\nserver_pool=DB_MAX_OPEN_CONNS=10 (default)\nclk_tck=100\nload_before=0.50 0.40 0.30\n" +
			"finished=1795706074\nload_after=1.00 0.90 0.80\n",
		"large/data.txt":         "rows=1000000\nsize=590 MB\nusers=1000\nbench_rows=10000\nnull_desc=40.0\nnull_due=50.1\ncompleted=29.9\nword_rows=83782\nword_pct=8.38\nword_bench_rows=839\n",
		"small/data.txt":         "rows=10000\nsize=14 MB\nusers=1\nbench_rows=10000\nnull_desc=40.4\nnull_due=50.5\ncompleted=30.1\nword_rows=804\nword_pct=8.04\nword_bench_rows=804\n",
		"large/auth.txt":         "probe_requests=4000\nusers_reads=34\nceiling_lookup=0\n",
		"large/startup-ms.txt":   "598\n585\n593\n",
		"small/startup-ms.txt":   "622\n",
		"large/status-idle.txt":  strings.Replace(readTestdata(t, "status.txt"), "VmRSS:\t    1636 kB", "VmRSS:\t   29696 kB", 1),
		"large/mix-status.txt":   strings.Replace(readTestdata(t, "status.txt"), "VmHWM:\t    1636 kB", "VmHWM:\t   40141 kB", 1),
		"large/mix-rss-kb-1.txt": "30000\n39424\n35000\n",
		"large/explain.md":       readTestdata(t, "explain.md"),
		"large/server.log.kept":  "time=t level=INFO msg=start\ntime=t level=WARN msg=slow\ntime=t level=ERROR msg=gone\ntime=t level=WARN msg=slow\n",
		"large/get-metrics-before.txt": "go_sql_wait_count_total{db_name=\"todo\"} 0\ngo_sql_wait_duration_seconds_total{db_name=\"todo\"} 0\n" +
			"go_sql_max_idle_closed_total{db_name=\"todo\"} 0\n",
		"large/get-metrics-after.txt": readTestdata(t, "metrics.txt"),
		"large/mix-wrk-1.txt":         readTestdata(t, "wrk-mix.txt"),
		"large/mix-pgbench-1.txt":     readTestdata(t, "pgbench-mix.txt"),
		"large/mix-cpu-1.txt":         "cpu_ticks=1245\n",
		"large/first-wrk-1.txt":       readTestdata(t, "wrk-plain.txt"),
		"large/first-pgbench-1.txt":   readTestdata(t, "pgbench-mix.txt"),
		"small/first-wrk-1.txt":       readTestdata(t, "wrk-errors.txt"),
		"small/first-pgbench-1.txt":   readTestdata(t, "pgbench-get.txt"),
	}
	// The three get runs differ only in their request rate and tps.
	for i, rps := range []string{"9216.88", "4187.52", "12000.00"} {
		n := string(rune('1' + i))
		files["large/get-wrk-"+n+".txt"] = strings.ReplaceAll(readTestdata(t, "wrk-get.txt"), "9216.88", rps)
		files["large/get-pgbench-"+n+".txt"] = strings.Replace(readTestdata(t, "pgbench-get.txt"), "14354.947262", []string{"14354.947262", "10000.5", "20000.25"}[i], 1)
		files["large/get-cpu-"+n+".txt"] = "cpu_ticks=" + []string{"367", "400", "300"}[i] + "\n"
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRender(t *testing.T) {
	r, err := Load(writeRun(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		BeginMark + "\n\n## Results\n",
		"Generated by `bench/run.sh` on 2026-11-26 15:14 UTC (commit abc1234) in 15 min 34 s.",
		"Settings: RUNS=3, DURATION=2s, WARMUP=0s, wrk -t2 -c8, pgbench -c 8 -j 2 -M prepared.",
		"| memory | 23.6 GiB |",
		"| wrk / pgbench | wrk debian/4.1.0-3+b2 / pgbench (PostgreSQL) 15.20 |",
		"| load average before / after the run | 0.50 0.40 0.30 / 1.00 0.90 0.80 |",
		"- large: 1000000 todos (todos table with indexes: 590 MB), 1000 users,",
		"- small: 10000 todos (todos table with indexes: 14 MB), 1 user,",
		"### Scenarios at 1,000,000 rows",
		// Medians of the three get runs: 9216.88 req/s and 14354.947262 tps.
		"| get one todo (random id) | 9217 | 0.42 ms | 35.2 ms | 0 | 14355 | 0.64 |",
		"| mix 80/20 read/write | 20400 | 0.25 ms | 153 ms | 4025 | 4985 | 4.09 |",
		"| first page (limit=20) | 8491 | 0.10 ms | 7.94 ms | 0 | 4985 | 1.70 |",
		"### 1,000,000 rows against 10,000 rows",
		"| first page (limit=20) | 7.94 ms | 17.3 ms | 8491 | 32506 | 4985 | 14355 | 1.70 | 2.26 |",
		"| first page (limit=20): p99 at 1M rows ≤ 1.5× at 10k | 7.94 ms vs 17.3 ms (0.46×) | met |",
		"### Service",
		"| start-up to ready, large database (median of 3; samples 598, 585, 593 ms) | 593 ms |",
		"| start-up to ready, small database (median of 1; samples 622 ms) | 622 ms |",
		"| reads of `users` per request over a 1 s burst of GET /todos/{id}, large (the account check inside each statement counts one) | 0.0085; the ceiling runs no separate user lookup |",
		"| RSS after start-up (idle) | 29.0 MiB |",
		"| peak RSS during the mixed run (VmRSS sampled every 100 ms) | 38.5 MiB |",
		"| VmHWM after the mixed run (peak since the process started) | 39.2 MiB |",
		"| lines logged at WARN and ERROR by the server, large (`large/server.log.kept`) | 2 WARN, 1 ERROR |",
		"### Targets",
		"| get one todo (random id) at 1M rows ≥ 50% of the ceiling | 0.64 (9217 req/s against 14355 tps) | met |",
		"| cursor page (after row 5,000) ≤ 1.2× the first page | 24 vs 25 shared buffers (0.96×)",
		"| peak RSS in the mixed run ≤ 64 MiB | 38.5 MiB | met |",
		"| start-up to ready ≤ 100 ms | median 593 ms (large), 622 ms (small) | **not met** |",
		"| no non-2xx | 39470 non-2xx over 6 runs, and 723 socket errors | **not met** |",
		"### Where the time goes",
		// 367 ticks at 100 Hz over 19429 requests; 38512 waits over 3 * 19429 requests.
		"| large | get one todo (random id) | 189 µs | 0.66 | 4.7 ms | 508 |",
		"| large | mix 80/20 read/write | 300 µs | – | – | – |",
		"| large | get | 2 | 4187.52 | 0.424 | 5.092 | 35.209 | 62.950 | 200:19429 | 206 | 10000.500000 |",
		"| small | first | 1 | 32505.53 | 0.066 | 2.283 | 17.267 | 29.753 | 503:35445 | – | 14354.947262 |",
		"### EXPLAIN (ANALYZE, BUFFERS) at 1,000,000 rows",
		"#### cursor page (after row 5,000): (created_at, id) < (cursor) LIMIT 21",
		"```\n\n" + EndMark + "\n",
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	if strings.Contains(got, "<no value>") {
		t.Error("the report shows <no value>")
	}
	if !strings.HasSuffix(got, EndMark+"\n") {
		t.Errorf("the report does not end with the end marker: ...%q", got[max(0, len(got)-80):])
	}
	if t.Failed() {
		t.Log(got)
	}
}

// A run of the small scale alone has no comparison, no EXPLAIN and no
// figures of the mixed run.
func TestRenderSmallOnly(t *testing.T) {
	dir := writeRun(t)
	if err := os.RemoveAll(filepath.Join(dir, "large")); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"### Scenarios at 10,000 rows", "| first page (limit=20) | 32506 |", "| RSS after start-up (idle) | – |"} {
		if !strings.Contains(got, w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	for _, w := range []string{"### 1,000,000 rows against", "### EXPLAIN", "at 1M rows ≥", "<no value>"} {
		if strings.Contains(got, w) {
			t.Errorf("the report has %q", w)
		}
	}
}

func TestRunKeepsHandWrittenText(t *testing.T) {
	in := writeRun(t)
	out := filepath.Join(t.TempDir(), "benchmarks.md")
	doc := "# Benchmarks\n\nhand-written\n\n" + BeginMark + "\nstale\n" + EndMark + "\n\nfooter\n"
	if err := os.WriteFile(out, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-in", in, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("run = %d, stderr %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.HasPrefix(got, "# Benchmarks\n\nhand-written\n\n"+BeginMark+"\n\n## Results\n") ||
		!strings.HasSuffix(got, "\n"+EndMark+"\n\nfooter\n") || strings.Contains(got, "stale") {
		t.Errorf("run wrote\n%s", got)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no -in", nil, 2},
		{"unknown flag", []string{"-x"}, 2},
		{"missing directory", []string{"-in", filepath.Join(t.TempDir(), "none")}, 1},
		{"no meta.txt", []string{"-in", t.TempDir()}, 1},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if got := run(tt.args, &stdout, &stderr); got != tt.want {
			t.Errorf("%s: run = %d, want %d (stderr %s)", tt.name, got, tt.want, stderr.String())
		}
	}
	// A wrk output that is not one is an error naming the file.
	dir := writeRun(t)
	if err := os.WriteFile(filepath.Join(dir, "large", "get-wrk-2.txt"), []byte("wrk: connection refused\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if got := run([]string{"-in", dir}, &stdout, &stderr); got != 1 || !strings.Contains(stderr.String(), "get-wrk-2.txt") {
		t.Errorf("run with a broken wrk file = %d, stderr %q; want 1 naming get-wrk-2.txt", got, stderr.String())
	}
}

// wrkWith returns wrk-get.txt with another request rate and p99.
func wrkWith(t *testing.T, rps, p99 string) string {
	t.Helper()
	s := strings.ReplaceAll(readTestdata(t, "wrk-get.txt"), "9216.88", rps)
	return strings.Replace(s, "p99_ms=35.209", "p99_ms="+p99, 1)
}

// writeSideBySide adds what OLD_REV=, PEER=1 and FLOOR=1 write to a run:
// the old build, the peer and the floor in get; the peer skipped in first
// (its check answered 404); search at both scales, for search_p99_ratio.
func writeSideBySide(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"large/startup-old-ms.txt":     "120\n130\n125\n",
		"large/startup-peer-ms.txt":    "1500\n",
		"large/first-peer-skipped.txt": "code=404\n",
		"large/search-wrk-1.txt":       wrkWith(t, "300.00", "240.000"),
		"large/search-pgbench-1.txt":   readTestdata(t, "pgbench-get.txt"),
		"large/search-old-wrk-1.txt":   wrkWith(t, "20.00", "3300.000"),
		"large/search-peer-wrk-1.txt":  wrkWith(t, "10.00", "4000.000"),
		"small/search-wrk-1.txt":       wrkWith(t, "350.00", "160.000"),
		"small/search-pgbench-1.txt":   readTestdata(t, "pgbench-get.txt"),
		"small/search-old-wrk-1.txt":   wrkWith(t, "200.00", "110.000"),
		"small/search-peer-wrk-1.txt":  wrkWith(t, "100.00", "400.000"),
	}
	for i := 1; i <= 3; i++ {
		n := string(rune('0' + i))
		files["large/get-old-wrk-"+n+".txt"] = wrkWith(t, []string{"4000.00", "4500.00", "5000.00"}[i-1], "40.000")
		files["large/get-peer-wrk-"+n+".txt"] = wrkWith(t, []string{"250.00", "300.00", "200.00"}[i-1], "900.000")
		files["large/get-floor-wrk-"+n+".txt"] = wrkWith(t, []string{"20000.00", "18000.00", "19000.00"}[i-1], "5.000")
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRenderSideBySide(t *testing.T) {
	dir := writeRun(t)
	writeSideBySide(t, dir)
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"### Every build side by side",
		"| scenario | new req/s | old req/s | peer req/s | new / peer | new / old | new / ceiling | p99 (new / old / peer) | non-2xx (new / old / peer) |",
		// get: new 9217 (median), old 4500, peer 250; ceiling 14355.
		"| get one todo (random id) | 9217 | 4500 | 250 | 36.9× | 2.05× | 0.64 | 35.2 ms / 40.0 ms / 900 ms | 0 / 0 / 0 |",
		"| first page (limit=20) | 8491 | – | skipped (404) | – | – | 1.70 | 7.94 ms / – / – | 0 / – / – |",
		"| search (q=invoice) | 300 | 20.0 | 10.0 | 30.0× | 15.0× | 0.02 | 240 ms / 3300 ms / 4000 ms | 0 / 0 / 0 |",
		"| search (q=invoice), 10k rows | 350 | 200 | 100 | 3.50× | 1.75× |",
		"| first page (limit=20), 10k rows | 32506 | – | – | – | – | 2.26 | 17.3 ms / – / – | 35445 (+723 socket errors) / – / – |",
		"| search_p99_ratio: search p99 at 1M rows / at 10k (target ≤ 1.5×) | 1.50× | 30.00× | 10.00× | – | – | – | 240 ms / 160 ms / 3300 ms / 110 ms / 4000 ms / 400 ms | – |",
		"Get one as a fraction of the `/healthz` floor: 9217 req/s against 19000 req/s = **0.49** (floor p99 5.00 ms, 0 non-2xx).",
		"- start-up to ready, large database: new 593 ms, old 125 ms, peer 1500 ms",
		"| ≥ 10× the seed stack (bench/peer) on every scenario | lowest 3.5× (search (q=invoice), 10k rows), over 3 scenarios | **not met** |",
		"<details><summary>Every run of the other builds</summary>",
		"| large | get | floor | 2 | 18000.00 | 0.424 | 5.000 | 62.950 | 200:19429 |",
		"| small | search | peer | 1 | 100.00 |",
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	if strings.Contains(got, "<no value>") || strings.Contains(got, "¹") {
		t.Error("the report shows <no value>, or a cursor note without a cursor row")
	}
	if t.Failed() {
		t.Log(got)
	}
}

// A run of the current build alone has no side-by-side part.
func TestRenderWithoutOtherBuilds(t *testing.T) {
	r, err := Load(writeRun(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"### Every build side by side", "Every run of the other builds", "seed stack"} {
		if strings.Contains(got, w) {
			t.Errorf("the report has %q", w)
		}
	}
}
