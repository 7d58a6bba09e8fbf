package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ScenarioOrder is the order of the scenarios in every table.
var ScenarioOrder = []string{"get", "first", "search", "offset", "cursor", "create", "patch", "mix"}

// Results is everything one bench/run.sh run measured.
type Results struct {
	Meta   map[string]string
	Scales []*Scale
}

// Scale is what was measured on one database (large or small).
type Scale struct {
	Name      string
	Data      map[string]string
	Auth      map[string]string
	StartupMS []float64
	// IdleRSSKB is VmRSS after start-up; MixHWMKB the VmHWM after the mix
	// runs; MixRSSKB the VmRSS samples taken during them. Zero or empty when
	// not measured.
	IdleRSSKB int64
	MixHWMKB  int64
	MixRSSKB  []float64
	// StartupByBuild holds the start-up samples of the other builds (old,
	// peer), from startup-<build>-ms.txt.
	StartupByBuild map[string][]float64
	Scenarios      []*Scenario
	Explain        string
	LogWarn        int
	LogError       int
	HaveLog        bool
}

// Scenario is the timed runs of one scenario on one scale.
type Scenario struct {
	Name string
	Runs []Run
	// Pool deltas over the timed runs, from the service's /metrics.
	PoolWaits, PoolWaitS, IdleClosed float64
	HavePool                         bool
	// Others are the runs of the other builds in the same session, by
	// build: old (OLD_REV), peer (bench/peer) and floor (the current
	// build's /healthz, in the get scenario).
	Others map[string]*BuildRuns
}

// OtherBuilds are the builds bench/run.sh can measure beside the current
// one, in the order of the tables.
var OtherBuilds = []string{"old", "peer", "floor"}

// BuildRuns are the wrk runs of one other build in one scenario: its
// <scenario>-<build>-wrk-<n>.txt files, or why it was skipped
// (<scenario>-<build>-skipped.txt: the status of the single check request).
type BuildRuns struct {
	Build   string
	Runs    []WrkRun
	Skipped string
}

func (b *BuildRuns) median(f func(WrkRun) float64) float64 {
	if b == nil {
		return math.NaN()
	}
	v := make([]float64, len(b.Runs))
	for i, r := range b.Runs {
		v[i] = f(r)
	}
	return Median(v)
}

// RPS and P99 are medians over the runs (NaN for none).
func (b *BuildRuns) RPS() float64 { return b.median(func(r WrkRun) float64 { return r.RPS }) }
func (b *BuildRuns) P99() float64 { return b.median(func(r WrkRun) float64 { return r.P99 }) }

// Non2xx and SocketErrors are totals over the runs.
func (b *BuildRuns) Non2xx() (n int64) {
	if b != nil {
		for _, r := range b.Runs {
			n += r.Non2xx
		}
	}
	return n
}

func (b *BuildRuns) SocketErrors() (n int64) {
	if b != nil {
		for _, r := range b.Runs {
			n += r.SocketErrors
		}
	}
	return n
}

// Other returns the runs of another build, or nil if it did not run.
func (sc *Scenario) Other(build string) *BuildRuns {
	if sc == nil {
		return nil
	}
	return sc.Others[build]
}

// Run is one wrk run and the pgbench run that followed it.
type Run struct {
	N       int
	API     WrkRun
	Ceiling PgbenchRun
	// CPUus is the server's CPU time per request in µs; -1 if unknown.
	CPUus float64
}

// Load reads a results directory written by bench/run.sh.
func Load(dir string) (*Results, error) {
	meta, err := os.ReadFile(filepath.Join(dir, "meta.txt"))
	if err != nil {
		return nil, err
	}
	r := &Results{Meta: ParseKV(string(meta))}
	hz, err := strconv.ParseFloat(r.Meta["clk_tck"], 64)
	if err != nil || hz <= 0 {
		hz = 100
	}
	names := strings.Fields(r.Meta["scales"])
	if len(names) == 0 {
		names = []string{"large", "small"}
	}
	for _, name := range names {
		sdir := filepath.Join(dir, name)
		if _, err := os.Stat(sdir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		s, err := loadScale(sdir, name, hz)
		if err != nil {
			return nil, fmt.Errorf("scale %s: %w", name, err)
		}
		r.Scales = append(r.Scales, s)
	}
	if len(r.Scales) == 0 {
		return nil, fmt.Errorf("%s: no scale directory (large/ or small/)", dir)
	}
	return r, nil
}

// readOptional returns a file's text, or "" if it does not exist.
func readOptional(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}

func loadScale(dir, name string, hz float64) (*Scale, error) {
	s := &Scale{Name: name}
	text := map[string]string{}
	for _, f := range []string{"data.txt", "auth.txt", "startup-ms.txt", "status-idle.txt", "mix-status.txt", "explain.md", "server.log.kept"} {
		t, err := readOptional(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		text[f] = t
	}
	s.Data = ParseKV(text["data.txt"])
	s.Auth = ParseKV(text["auth.txt"])
	var err error
	if s.StartupMS, err = ParseNumbers(text["startup-ms.txt"]); err != nil {
		return nil, fmt.Errorf("startup-ms.txt: %w", err)
	}
	for _, b := range OtherBuilds {
		t, err := readOptional(filepath.Join(dir, "startup-"+b+"-ms.txt"))
		if err != nil {
			return nil, err
		}
		v, err := ParseNumbers(t)
		if err != nil {
			return nil, fmt.Errorf("startup-%s-ms.txt: %w", b, err)
		}
		if len(v) > 0 {
			if s.StartupByBuild == nil {
				s.StartupByBuild = map[string][]float64{}
			}
			s.StartupByBuild[b] = v
		}
	}
	s.IdleRSSKB, _ = StatusKB(text["status-idle.txt"], "VmRSS")
	s.MixHWMKB, _ = StatusKB(text["mix-status.txt"], "VmHWM")
	s.Explain = strings.TrimRight(text["explain.md"], "\n")
	if _, err := os.Stat(filepath.Join(dir, "server.log.kept")); err == nil {
		s.HaveLog = true
		for _, line := range strings.Split(text["server.log.kept"], "\n") {
			switch {
			case strings.Contains(line, " level=WARN "):
				s.LogWarn++
			case strings.Contains(line, " level=ERROR "):
				s.LogError++
			}
		}
	}
	rss, err := filepath.Glob(filepath.Join(dir, "mix-rss-kb-*.txt"))
	if err != nil {
		return nil, err
	}
	for _, f := range rss {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		v, err := ParseNumbers(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		s.MixRSSKB = append(s.MixRSSKB, v...)
	}
	for _, name := range ScenarioOrder {
		sc, err := loadScenario(dir, name, hz)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if sc != nil {
			s.Scenarios = append(s.Scenarios, sc)
		}
	}
	return s, nil
}

// loadScenario reads <name>-wrk-<n>.txt and the files that go with it; nil
// if the scenario did not run.
func loadScenario(dir, name string, hz float64) (*Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, name+"-wrk-*.txt"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, nil
	}
	sc := &Scenario{Name: name}
	for _, f := range files {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), name+"-wrk-"), ".txt"))
		if err != nil {
			continue // not a numbered run
		}
		run := Run{N: n, CPUus: -1}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if run.API, err = ParseWrk(string(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		pf := filepath.Join(dir, fmt.Sprintf("%s-pgbench-%d.txt", name, n))
		if b, err = os.ReadFile(pf); err != nil {
			return nil, err
		}
		if run.Ceiling, err = ParsePgbench(string(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(pf), err)
		}
		cpu, err := readOptional(filepath.Join(dir, fmt.Sprintf("%s-cpu-%d.txt", name, n)))
		if err != nil {
			return nil, err
		}
		if ticks, err := strconv.ParseFloat(ParseKV(cpu)["cpu_ticks"], 64); err == nil && run.API.Requests > 0 {
			run.CPUus = math.Round(ticks / hz * 1e6 / float64(run.API.Requests))
		}
		sc.Runs = append(sc.Runs, run)
	}
	slices.SortFunc(sc.Runs, func(a, b Run) int { return a.N - b.N })

	before, err := readOptional(filepath.Join(dir, name+"-metrics-before.txt"))
	if err != nil {
		return nil, err
	}
	after, err := readOptional(filepath.Join(dir, name+"-metrics-after.txt"))
	if err != nil {
		return nil, err
	}
	if before != "" && after != "" {
		delta := func(metric string) float64 {
			a, _ := SumMetric(after, metric)
			b, _ := SumMetric(before, metric)
			return a - b
		}
		sc.PoolWaits = delta("go_sql_wait_count_total")
		sc.PoolWaitS = delta("go_sql_wait_duration_seconds_total")
		sc.IdleClosed = delta("go_sql_max_idle_closed_total")
		sc.HavePool = true
	}
	for _, b := range OtherBuilds {
		br, err := loadBuildRuns(dir, name, b)
		if err != nil {
			return nil, err
		}
		if br != nil {
			if sc.Others == nil {
				sc.Others = map[string]*BuildRuns{}
			}
			sc.Others[b] = br
		}
	}
	return sc, nil
}

// loadBuildRuns reads <scenario>-<build>-wrk-<n>.txt, in run order, and
// <scenario>-<build>-skipped.txt; nil if the build did not take part.
func loadBuildRuns(dir, scenario, build string) (*BuildRuns, error) {
	prefix := scenario + "-" + build + "-wrk-"
	files, err := filepath.Glob(filepath.Join(dir, prefix+"*.txt"))
	if err != nil {
		return nil, err
	}
	skipped, err := readOptional(filepath.Join(dir, scenario+"-"+build+"-skipped.txt"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 && skipped == "" {
		return nil, nil
	}
	type numbered struct {
		n   int
		run WrkRun
	}
	var runs []numbered
	for _, f := range files {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), prefix), ".txt"))
		if err != nil {
			continue // not a numbered run
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		w, err := ParseWrk(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		runs = append(runs, numbered{n, w})
	}
	slices.SortFunc(runs, func(a, b numbered) int { return a.n - b.n })
	br := &BuildRuns{Build: build}
	for _, r := range runs {
		br.Runs = append(br.Runs, r.run)
	}
	if skipped != "" {
		br.Skipped = ParseKV(skipped)["code"]
		if br.Skipped == "" {
			br.Skipped = "skipped"
		}
	}
	return br, nil
}

// Median returns the median of v, NaN for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (sc *Scenario) median(f func(Run) float64) float64 {
	v := make([]float64, len(sc.Runs))
	for i, r := range sc.Runs {
		v[i] = f(r)
	}
	return Median(v)
}

// RPS, P50, P99, TPS and CPUus are medians over the runs.
func (sc *Scenario) RPS() float64 { return sc.median(func(r Run) float64 { return r.API.RPS }) }
func (sc *Scenario) P50() float64 { return sc.median(func(r Run) float64 { return r.API.P50 }) }
func (sc *Scenario) P99() float64 { return sc.median(func(r Run) float64 { return r.API.P99 }) }
func (sc *Scenario) TPS() float64 { return sc.median(func(r Run) float64 { return r.Ceiling.TPS }) }
func (sc *Scenario) CPUus() float64 {
	v := make([]float64, 0, len(sc.Runs))
	for _, r := range sc.Runs {
		if r.CPUus >= 0 {
			v = append(v, r.CPUus)
		}
	}
	return Median(v)
}

// Ratio is the median API req/s over the median pgbench tps.
func (sc *Scenario) Ratio() float64 { return sc.RPS() / sc.TPS() }

// Non2xx and SocketErrors are totals over the runs.
func (sc *Scenario) Non2xx() (n int64) {
	for _, r := range sc.Runs {
		n += r.API.Non2xx
	}
	return n
}

func (sc *Scenario) SocketErrors() (n int64) {
	for _, r := range sc.Runs {
		n += r.API.SocketErrors
	}
	return n
}

// Requests is the number of API requests over the timed runs.
func (sc *Scenario) Requests() (n int64) {
	for _, r := range sc.Runs {
		n += r.API.Requests
	}
	return n
}

// PoolWaitsPerRequest is how often a request waited for a pooled connection.
func (sc *Scenario) PoolWaitsPerRequest() float64 {
	return sc.PoolWaits / float64(max(sc.Requests(), 1))
}

// MeanPoolWaitMS is the mean time one wait for a connection took.
func (sc *Scenario) MeanPoolWaitMS() float64 { return sc.PoolWaitS / sc.PoolWaits * 1000 }

// Scale returns the named scale, or nil.
func (r *Results) Scale(name string) *Scale {
	for _, s := range r.Scales {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Scenario returns the named scenario, or nil.
func (s *Scale) Scenario(name string) *Scenario {
	if s == nil {
		return nil
	}
	for _, sc := range s.Scenarios {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}
