package main

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// WrkRun is one wrk run: wrk's own summary, refined by the BENCH line that
// bench/lua/common.lua prints (exact percentiles, and responses counted by
// status, which wrk itself does not do).
type WrkRun struct {
	Requests  int64
	DurationS float64
	RPS       float64
	// Latencies in milliseconds.
	P50, P90, P99, Max float64
	// Non2xx counts every status outside 200-299 when the BENCH line is
	// there; wrk alone counts only those outside 200-399.
	Non2xx       int64
	SocketErrors int64
	// Statuses is "200:42288,201:921", or "" without a BENCH line.
	Statuses string
}

var (
	wrkRequestsRe  = regexp.MustCompile(`^\s*(\d+) requests in (\S+), `)
	wrkRPSRe       = regexp.MustCompile(`^Requests/sec:\s+([0-9.]+)`)
	wrkLatencyRe   = regexp.MustCompile(`^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)\s+`)
	wrkPercentRe   = regexp.MustCompile(`^\s+(50|90|99)%\s+(\S+)\s*$`)
	wrkSocketRe    = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xxRe    = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	pgbenchTPSRe   = regexp.MustCompile(`^tps = ([0-9.]+)`)
	pgbenchLatRe   = regexp.MustCompile(`^latency average = ([0-9.]+) ms`)
	pgbenchTxRe    = regexp.MustCompile(`^number of transactions actually processed: (\d+)`)
	pgbenchFailRe  = regexp.MustCompile(`^number of failed transactions: (\d+)`)
	explainExecRe  = regexp.MustCompile(`^Execution Time: ([0-9.]+) ms`)
	explainBufRe   = regexp.MustCompile(`Buffers: shared( hit=(\d+))?( read=(\d+))?`)
	wrkUnitSuffixs = []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}}
)

// parseWrkTime reads a time as wrk prints it ("424.00us", "2.59ms",
// "1.23s", "2.00m") and returns milliseconds.
func parseWrkTime(s string) (float64, error) {
	for _, u := range wrkUnitSuffixs {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("wrk time %q: %w", s, err)
			}
			return f * u.ms, nil
		}
	}
	return 0, fmt.Errorf("wrk time %q: unknown unit", s)
}

// ParseWrk reads the output of one wrk run with --latency.
func ParseWrk(text string) (WrkRun, error) {
	var r WrkRun
	var haveRequests, haveRPS bool
	var bench map[string]string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		var err error
		switch {
		case strings.HasPrefix(line, "BENCH "):
			bench = fields(strings.TrimPrefix(line, "BENCH "))
		case wrkRequestsRe.MatchString(line):
			m := wrkRequestsRe.FindStringSubmatch(line)
			r.Requests, err = strconv.ParseInt(m[1], 10, 64)
			if err == nil {
				var ms float64
				ms, err = parseWrkTime(m[2])
				r.DurationS = ms / 1000
			}
			haveRequests = true
		case wrkRPSRe.MatchString(line):
			r.RPS, err = strconv.ParseFloat(wrkRPSRe.FindStringSubmatch(line)[1], 64)
			haveRPS = true
		case wrkLatencyRe.MatchString(line):
			r.Max, err = parseWrkTime(wrkLatencyRe.FindStringSubmatch(line)[3])
		case wrkPercentRe.MatchString(line):
			m := wrkPercentRe.FindStringSubmatch(line)
			var v float64
			v, err = parseWrkTime(m[2])
			switch m[1] {
			case "50":
				r.P50 = v
			case "90":
				r.P90 = v
			case "99":
				r.P99 = v
			}
		case wrkSocketRe.MatchString(line):
			r.SocketErrors = 0
			for _, n := range wrkSocketRe.FindStringSubmatch(line)[1:] {
				v, _ := strconv.ParseInt(n, 10, 64) // the pattern allows digits only
				r.SocketErrors += v
			}
		case wrkNon2xxRe.MatchString(line):
			r.Non2xx, err = strconv.ParseInt(wrkNon2xxRe.FindStringSubmatch(line)[1], 10, 64)
		}
		if err != nil {
			return WrkRun{}, err
		}
	}
	if !haveRequests || !haveRPS {
		return WrkRun{}, errors.New("not wrk output: no request count or Requests/sec")
	}
	if bench != nil {
		if err := r.applyBench(bench); err != nil {
			return WrkRun{}, fmt.Errorf("BENCH line: %w", err)
		}
	}
	return r, nil
}

// applyBench takes what the BENCH line knows better than wrk's summary:
// percentiles to the microsecond and statuses.
func (r *WrkRun) applyBench(b map[string]string) error {
	floats := []struct {
		key string
		dst *float64
	}{{"p50_ms", &r.P50}, {"p90_ms", &r.P90}, {"p99_ms", &r.P99}, {"max_ms", &r.Max}}
	for _, f := range floats {
		v, err := strconv.ParseFloat(b[f.key], 64)
		if err != nil {
			return fmt.Errorf("%s: %w", f.key, err)
		}
		*f.dst = v
	}
	ints := []struct {
		key string
		dst *int64
	}{{"non2xx", &r.Non2xx}, {"sock_errors", &r.SocketErrors}}
	for _, f := range ints {
		v, err := strconv.ParseInt(b[f.key], 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %w", f.key, err)
		}
		*f.dst = v
	}
	r.Statuses = b["statuses"]
	return nil
}

// fields splits "k=v k=v" into a map.
func fields(s string) map[string]string {
	m := make(map[string]string)
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

// PgbenchRun is one pgbench run.
type PgbenchRun struct {
	TPS          float64
	LatencyMS    float64
	Transactions int64
	Failed       int64
}

// ParsePgbench reads the output of one pgbench run (PostgreSQL 15 or
// later); with several scripts only the totals are read.
func ParsePgbench(text string) (PgbenchRun, error) {
	var r PgbenchRun
	var haveTPS bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		var err error
		switch {
		case pgbenchTPSRe.MatchString(line) && !haveTPS:
			r.TPS, err = strconv.ParseFloat(pgbenchTPSRe.FindStringSubmatch(line)[1], 64)
			haveTPS = true
		case pgbenchLatRe.MatchString(line):
			r.LatencyMS, err = strconv.ParseFloat(pgbenchLatRe.FindStringSubmatch(line)[1], 64)
		case pgbenchTxRe.MatchString(line):
			r.Transactions, err = strconv.ParseInt(pgbenchTxRe.FindStringSubmatch(line)[1], 10, 64)
		case pgbenchFailRe.MatchString(line):
			r.Failed, err = strconv.ParseInt(pgbenchFailRe.FindStringSubmatch(line)[1], 10, 64)
		}
		if err != nil {
			return PgbenchRun{}, err
		}
	}
	if !haveTPS {
		return PgbenchRun{}, errors.New("not pgbench output: no tps line")
	}
	return r, nil
}

// ParseKV reads key=value lines; blank lines are skipped and a later key
// wins, so a file can be appended to.
func ParseKV(text string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// ParseNumbers reads one number per line, skipping blank lines.
func ParseNumbers(text string) ([]float64, error) {
	var out []float64
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// SumMetric adds up every sample of the Prometheus metric name, over all
// its label sets, in a /metrics page; found is false if there is none.
func SumMetric(text, name string) (sum float64, found bool) {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			i := strings.LastIndexByte(rest, '}')
			if i < 0 {
				continue
			}
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// StatusKB returns a "Name:   123 kB" field of /proc/PID/status, in kB.
func StatusKB(text, name string) (int64, bool) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == name+":" {
			v, err := strconv.ParseInt(f[1], 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// Plan is one EXPLAIN (ANALYZE, BUFFERS) output.
type Plan struct {
	Text string
	// ExecMS is the "Execution Time"; Buffers the shared buffers (hit and
	// read) of the top node, which include those of every node below it.
	ExecMS  float64
	Buffers int64
}

// ExplainSection is one query of bench/explain.sql: its heading, and its
// plans by label ("literal", "prepared (7th execution)").
type ExplainSection struct {
	Title string
	Plans map[string]Plan
}

// ParseExplain reads the Markdown bench/explain.sql prints: "#### title",
// then "label:" lines each followed by a fenced plan.
func ParseExplain(text string) []ExplainSection {
	var out []ExplainSection
	var label string
	var code []string
	inCode := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line == "```":
			if inCode && len(out) > 0 {
				out[len(out)-1].Plans[label] = parsePlan(code)
			}
			inCode = !inCode
			code = nil
		case inCode:
			code = append(code, line)
		case strings.HasPrefix(line, "#### "):
			out = append(out, ExplainSection{Title: strings.TrimPrefix(line, "#### "), Plans: map[string]Plan{}})
		case strings.HasSuffix(line, ":"):
			label = strings.TrimSuffix(line, ":")
		}
	}
	return out
}

func parsePlan(lines []string) Plan {
	p := Plan{Text: strings.Join(lines, "\n"), Buffers: -1}
	for _, line := range lines {
		if m := explainExecRe.FindStringSubmatch(line); m != nil {
			p.ExecMS, _ = strconv.ParseFloat(m[1], 64) // the pattern allows a number only
		}
		if m := explainBufRe.FindStringSubmatch(line); m != nil && p.Buffers < 0 {
			hit, _ := strconv.ParseInt(m[2], 10, 64) // empty when absent: 0
			read, _ := strconv.ParseInt(m[4], 10, 64)
			p.Buffers = hit + read
		}
	}
	return p
}

// Section returns the section whose title starts with prefix.
func Section(sections []ExplainSection, prefix string) (ExplainSection, bool) {
	for _, s := range sections {
		if strings.HasPrefix(s.Title, prefix) {
			return s, true
		}
	}
	return ExplainSection{}, false
}
