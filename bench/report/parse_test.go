package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The testdata files are real output: wrk 4.1.0 with bench/lua scripts (and
// once without) against small local servers, pgbench 15 against a
// throwaway database, and bench/explain.sql at 1M rows.

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseWrk(t *testing.T) {
	tests := []struct {
		file string
		want WrkRun
	}{
		{"wrk-get.txt", WrkRun{Requests: 19429, DurationS: 2.11, RPS: 9216.88,
			P50: 0.424, P90: 5.092, P99: 35.209, Max: 62.95, Statuses: "200:19429"}},
		{"wrk-mix.txt", WrkRun{Requests: 41512, DurationS: 2.03, RPS: 20399.91,
			P50: 0.249, P90: 7.255, P99: 153.265, Max: 210.945, Non2xx: 4025, Statuses: "200:33253,201:4234,404:4025"}},
		{"wrk-errors.txt", WrkRun{Requests: 35445, DurationS: 1.09, RPS: 32505.53,
			P50: 0.066, P90: 2.283, P99: 17.267, Max: 29.753, Non2xx: 35445, SocketErrors: 723, Statuses: "503:35445"}},
		// Without a bench/lua script: wrk's own, rounded figures.
		{"wrk-plain.txt", WrkRun{Requests: 8542, DurationS: 1.01, RPS: 8491.26,
			P50: 0.099, P90: 3.06, P99: 7.94, Max: 16.70}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseWrk(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !approx(got.DurationS, tt.want.DurationS) || !approx(got.P50, tt.want.P50) || !approx(got.P90, tt.want.P90) ||
				!approx(got.P99, tt.want.P99) || !approx(got.Max, tt.want.Max) || !approx(got.RPS, tt.want.RPS) {
				t.Errorf("ParseWrk = %+v, want %+v", got, tt.want)
			}
			got.DurationS, got.P50, got.P90, got.P99, got.Max, got.RPS = 0, 0, 0, 0, 0, 0
			tt.want.DurationS, tt.want.P50, tt.want.P90, tt.want.P99, tt.want.Max, tt.want.RPS = 0, 0, 0, 0, 0, 0
			if got != tt.want {
				t.Errorf("ParseWrk = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseWrkRejects(t *testing.T) {
	for _, file := range []string{"pgbench-get.txt", "explain.md"} {
		if _, err := ParseWrk(readTestdata(t, file)); err == nil {
			t.Errorf("ParseWrk(%s): no error", file)
		}
	}
	bad := readTestdata(t, "wrk-get.txt") + "BENCH scenario=get p50_ms=fast\n"
	if _, err := ParseWrk(bad); err == nil {
		t.Error("ParseWrk with a broken BENCH line: no error")
	}
}

func TestParseWrkTime(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"424.00us", 0.424},
		{"2.59ms", 2.59},
		{"1.23s", 1230},
		{"2.00m", 120000},
		{"1.00h", 3600000},
	}
	for _, tt := range tests {
		got, err := parseWrkTime(tt.in)
		if err != nil || !approx(got, tt.want) {
			t.Errorf("parseWrkTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "12", "fast", "1.2xs"} {
		if _, err := parseWrkTime(in); err == nil {
			t.Errorf("parseWrkTime(%q): no error", in)
		}
	}
}

func TestParsePgbench(t *testing.T) {
	tests := []struct {
		file string
		want PgbenchRun
	}{
		{"pgbench-get.txt", PgbenchRun{TPS: 14354.947262, LatencyMS: 0.279, Transactions: 27621}},
		// Several scripts: the totals, not the tps of script 1.
		{"pgbench-mix.txt", PgbenchRun{TPS: 4985.274125, LatencyMS: 0.802, Transactions: 9149}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParsePgbench(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParsePgbench = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := ParsePgbench(readTestdata(t, "wrk-get.txt")); err == nil {
		t.Error("ParsePgbench(wrk output): no error")
	}
}

func TestSumMetric(t *testing.T) {
	page := readTestdata(t, "metrics.txt") + `go_sql_wait_count_total{db_name="other",x="a b}"} 12
go_sql_wait_count_total_extra 1000
go_sql_open_connections 3
`
	tests := []struct {
		name      string
		want      float64
		wantFound bool
	}{
		{"go_sql_wait_count_total", 38512 + 12, true},
		{"go_sql_wait_duration_seconds_total", 181.004, true},
		{"go_sql_max_idle_closed_total", 508, true},
		{"go_sql_open_connections", 3, true},
		{"go_sql_missing_total", 0, false},
	}
	for _, tt := range tests {
		got, found := SumMetric(page, tt.name)
		if !approx(got, tt.want) || found != tt.wantFound {
			t.Errorf("SumMetric(%s) = %v, %v; want %v, %v", tt.name, got, found, tt.want, tt.wantFound)
		}
	}
}

func TestStatusKB(t *testing.T) {
	status := readTestdata(t, "status.txt")
	for _, name := range []string{"VmRSS", "VmHWM"} {
		if got, ok := StatusKB(status, name); !ok || got != 1636 {
			t.Errorf("StatusKB(%s) = %d, %v; want 1636, true", name, got, ok)
		}
	}
	if _, ok := StatusKB(status, "VmNothing"); ok {
		t.Error("StatusKB(VmNothing) found a value")
	}
}

func TestParseKV(t *testing.T) {
	got := ParseKV("runs=3\n\nsize=590 MB\npg_settings=a=1, b=2\nruns=1\nnot a pair\n")
	want := map[string]string{"runs": "1", "size": "590 MB", "pg_settings": "a=1, b=2"}
	if len(got) != len(want) {
		t.Fatalf("ParseKV = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ParseKV[%s] = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseNumbers(t *testing.T) {
	got, err := ParseNumbers("598\n 585\n\n593.5\n")
	if err != nil || len(got) != 3 || got[2] != 593.5 {
		t.Errorf("ParseNumbers = %v, %v; want [598 585 593.5]", got, err)
	}
	if _, err := ParseNumbers("598\nabc\n"); err == nil {
		t.Error("ParseNumbers(abc): no error")
	}
}

func TestParseExplain(t *testing.T) {
	sections := ParseExplain(readTestdata(t, "explain.md"))
	if len(sections) != 6 {
		t.Fatalf("got %d sections, want 6", len(sections))
	}
	tests := []struct {
		prefix, label string
		buffers       int64
		execMS        float64
	}{
		{"count(*)", "literal", 281, 1.921},
		{"first page", "prepared (7th execution)", 25, 0.017},
		{"search page", "prepared (7th execution)", 978, 28.506},
		{"offset 5000", "literal", 5046, 2.366},
		{"cursor page", "literal", 24, 0.027},
		{"cursor page", "prepared (7th execution)", 24, 0.023},
	}
	for _, tt := range tests {
		s, ok := Section(sections, tt.prefix)
		if !ok {
			t.Errorf("no section %q", tt.prefix)
			continue
		}
		p, ok := s.Plans[tt.label]
		if !ok {
			t.Errorf("%s: no plan %q", tt.prefix, tt.label)
			continue
		}
		if p.Buffers != tt.buffers || !approx(p.ExecMS, tt.execMS) {
			t.Errorf("%s, %s: buffers %d, execution %v ms; want %d, %v", tt.prefix, tt.label, p.Buffers, p.ExecMS, tt.buffers, tt.execMS)
		}
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
