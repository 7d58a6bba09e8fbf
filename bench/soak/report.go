package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// event is one line of events.csv: a restart's begin or end.
type event struct {
	At   time.Time
	Name string
}

// window is the time around a restart in which 5xx are expected: from its
// begin until grace after its end.
type window struct {
	Name       string
	From, To   time.Time
	Begin, End time.Time
}

// readEvents reads events.csv (unix_ms,event; no header needed).
func readEvents(path string) ([]event, error) {
	rows, err := readCSV(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []event
	for _, r := range rows {
		if len(r) < 2 {
			continue
		}
		ms, err := strconv.ParseInt(r[0], 10, 64)
		if err != nil {
			continue // a header
		}
		out = append(out, event{At: time.UnixMilli(ms), Name: r[1]})
	}
	return out, nil
}

// windows pairs "<name>_begin" with the next "<name>_end".
func windows(events []event, grace time.Duration) []window {
	var out []window
	open := map[string]time.Time{}
	for _, e := range events {
		switch {
		case strings.HasSuffix(e.Name, "_begin"):
			open[strings.TrimSuffix(e.Name, "_begin")] = e.At
		case strings.HasSuffix(e.Name, "_end"):
			name := strings.TrimSuffix(e.Name, "_end")
			if b, ok := open[name]; ok {
				out = append(out, window{Name: name, From: b, To: e.At.Add(grace), Begin: b, End: e.At})
				delete(open, name)
			}
		}
	}
	for name, b := range open { // a restart that never ended: to the end of the run
		out = append(out, window{Name: name, From: b, To: time.Unix(math.MaxInt32, 0), Begin: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out
}

// errorRow is one line of errors.csv.
type errorRow struct {
	At                               time.Time
	Kind, Status, Method, Path, Text string
}

func readErrors(path string) ([]errorRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	var out []errorRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) < 6 {
			continue
		}
		ms, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil {
			continue // the header
		}
		out = append(out, errorRow{At: time.UnixMilli(ms), Kind: rec[1], Status: rec[2], Method: rec[3], Path: rec[4], Text: rec[5]})
	}
	return out, nil
}

// summary is what report concludes from a soak directory.
type summary struct {
	Requests, OK, S4xx, S429, S5xx, Transport, Dropped  int64
	S5xxInside, S5xxOutside                             int64
	TransportInside, TransportOutside                   int64
	Acked, Lost                                         int64
	Verified                                            bool
	Windows                                             []window
	Samples                                             []sampleRow
	RSSFirst, RSSLast, RSSPeak                          float64
	GoroutinesAfterWarmup, GoroutinesLast, GorMax       float64
	OpenConnsMax, BackendsMax                           float64
	P99Median, P99Max                                   float64
	OutsideExamples                                     []errorRow
	StatusCounts                                        map[string]int64
	WarmupRows                                          int
	Grace                                               time.Duration
	Duration                                            time.Duration
	RSSGrowthAfterWarmup, GoroutineGrowthAfterWarmupPct float64
}

// sampleRow is one row of samples.csv, by column name.
type sampleRow map[string]string

func (r sampleRow) f(key string) float64 {
	v, err := strconv.ParseFloat(r[key], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func readSamples(path string) ([]sampleRow, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	var out []sampleRow
	for _, r := range rows[1:] {
		row := sampleRow{}
		for i, h := range rows[0] {
			if i < len(r) {
				row[h] = r[i]
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func summarize(dir string, grace time.Duration) (*summary, error) {
	samples, err := readSamples(filepath.Join(dir, "samples.csv"))
	if err != nil {
		return nil, err
	}
	events, err := readEvents(filepath.Join(dir, "events.csv"))
	if err != nil {
		return nil, err
	}
	errs, err := readErrors(filepath.Join(dir, "errors.csv"))
	if err != nil {
		return nil, err
	}
	s := &summary{Samples: samples, Windows: windows(events, grace), StatusCounts: map[string]int64{}, Grace: grace}
	for _, r := range samples {
		for key, dst := range map[string]*int64{"requests": &s.Requests, "ok": &s.OK, "s4xx": &s.S4xx, "s429": &s.S429,
			"s5xx": &s.S5xx, "transport_errors": &s.Transport, "dropped": &s.Dropped} {
			if v, err := strconv.ParseInt(r[key], 10, 64); err == nil {
				*dst += v
			}
		}
	}
	inside := func(t time.Time) bool {
		for _, w := range s.Windows {
			if !t.Before(w.From) && !t.After(w.To) {
				return true
			}
		}
		return false
	}
	for _, e := range errs {
		s.StatusCounts[e.Status]++
		st, _ := strconv.Atoi(e.Status)
		switch {
		case e.Kind == "transport":
			if inside(e.At) {
				s.TransportInside++
			} else {
				s.TransportOutside++
				if len(s.OutsideExamples) < 10 {
					s.OutsideExamples = append(s.OutsideExamples, e)
				}
			}
		case st >= 500:
			if inside(e.At) {
				s.S5xxInside++
			} else {
				s.S5xxOutside++
				if len(s.OutsideExamples) < 10 {
					s.OutsideExamples = append(s.OutsideExamples, e)
				}
			}
		}
	}
	if v, err := os.ReadFile(filepath.Join(dir, "verify.txt")); err == nil {
		kv := parseKV(string(v))
		s.Acked, _ = strconv.ParseInt(kv["acked"], 10, 64)
		s.Lost, _ = strconv.ParseInt(kv["lost"], 10, 64)
		s.Verified = true
	}

	// Warm-up: the first tenth of the rows (at least one) are left out of
	// "flat after warm-up".
	s.WarmupRows = max(1, len(samples)/10)
	var p99s []float64
	s.RSSFirst, s.GoroutinesAfterWarmup = math.NaN(), math.NaN()
	for i, r := range samples {
		rss, gor := r.f("rss_bytes"), r.f("goroutines")
		if !math.IsNaN(rss) {
			s.RSSPeak = math.Max(s.RSSPeak, rss)
			s.RSSLast = rss
			if i >= s.WarmupRows && math.IsNaN(s.RSSFirst) {
				s.RSSFirst = rss
			}
		}
		if !math.IsNaN(gor) {
			s.GorMax = math.Max(s.GorMax, gor)
			s.GoroutinesLast = gor
			if i >= s.WarmupRows && math.IsNaN(s.GoroutinesAfterWarmup) {
				s.GoroutinesAfterWarmup = gor
			}
		}
		s.OpenConnsMax = nanMax(s.OpenConnsMax, r.f("go_sql_open_connections"))
		s.BackendsMax = nanMax(s.BackendsMax, r.f("pg_backends"))
		if p := r.f("p99_ms"); !math.IsNaN(p) {
			p99s = append(p99s, p)
			s.P99Max = math.Max(s.P99Max, p)
		}
	}
	sort.Float64s(p99s)
	s.P99Median = math.NaN()
	if len(p99s) > 0 {
		s.P99Median = p99s[len(p99s)/2]
	}
	s.RSSGrowthAfterWarmup = s.RSSLast - s.RSSFirst
	s.GoroutineGrowthAfterWarmupPct = 100 * (s.GoroutinesLast - s.GoroutinesAfterWarmup) / s.GoroutinesAfterWarmup
	if len(samples) > 0 {
		s.Duration = time.Duration(samples[len(samples)-1].f("elapsed_s") * float64(time.Second))
	}
	return s, nil
}

func nanMax(a, b float64) float64 {
	if math.IsNaN(b) {
		return a
	}
	return math.Max(a, b)
}

func parseKV(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

func runReport(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fl.String("in", "", "soak directory")
	grace := fl.Duration("grace", 10*time.Second, "after a restart's end, 5xx still count as the restart's")
	md := fl.String("md", "", "also write the Markdown summary here (docs/soak.md)")
	title := fl.String("title", "", "a line about the run (command, commit, machine) for the Markdown")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("report: -in is required")
	}
	s, err := summarize(*in, *grace)
	if err != nil {
		return err
	}
	text := s.kv()
	if err := os.WriteFile(filepath.Join(*in, "summary.txt"), []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, text)
	if *md != "" {
		if err := os.WriteFile(*md, []byte(s.markdown(*title)), 0o644); err != nil {
			return err
		}
	}
	if s.S5xxOutside > 0 || (s.Verified && s.Lost > 0) {
		return fmt.Errorf("%d 5xx outside the restart windows, %d acknowledged writes lost", s.S5xxOutside, s.Lost)
	}
	return nil
}

func (s *summary) kv() string {
	var b strings.Builder
	w := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	w("duration_s", s.Duration.Seconds())
	w("requests", s.Requests)
	w("ok", s.OK)
	w("s4xx", s.S4xx)
	w("s429", s.S429)
	w("s5xx", s.S5xx)
	w("s5xx_in_restart_windows", s.S5xxInside)
	w("s5xx_outside_restart_windows", s.S5xxOutside)
	w("transport_errors_in_restart_windows", s.TransportInside)
	w("transport_errors_outside_restart_windows", s.TransportOutside)
	w("dropped", s.Dropped)
	w("acked_writes", s.Acked)
	w("lost_acked_writes", s.Lost)
	w("rss_peak_mib", fmt.Sprintf("%.1f", s.RSSPeak/1048576))
	w("rss_after_warmup_mib", fmt.Sprintf("%.1f", s.RSSFirst/1048576))
	w("rss_last_mib", fmt.Sprintf("%.1f", s.RSSLast/1048576))
	w("goroutines_after_warmup", s.GoroutinesAfterWarmup)
	w("goroutines_last", s.GoroutinesLast)
	w("goroutines_max", s.GorMax)
	w("open_connections_max", s.OpenConnsMax)
	w("pg_backends_max", s.BackendsMax)
	w("p99_ms_median_of_intervals", s.P99Median)
	w("p99_ms_max_interval", s.P99Max)
	for _, win := range s.Windows {
		w("window_"+win.Name, fmt.Sprintf("%s..%s (+%s grace)", win.Begin.UTC().Format("15:04:05.000"), win.End.UTC().Format("15:04:05.000"), s.Grace))
	}
	return b.String()
}

func (s *summary) markdown(title string) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Soak: the last run\n\n")
	p("Written by `bench/soak.sh` (`go run ./bench/soak report`); the plot is [soak.png](soak.png). Rewritten by every run.\n\n")
	if title != "" {
		p("%s\n\n", title)
	}
	p("| | |\n|---|---|\n")
	p("| duration | %s |\n", s.Duration.Round(time.Second))
	p("| requests | %d (2xx %d, 429 %d, other 4xx %d, 5xx %d, transport errors %d; %d not sent: every worker busy) |\n",
		s.Requests, s.OK, s.S429, s.S4xx-s.S429, s.S5xx, s.Transport, s.Dropped)
	p("| 5xx inside / outside the restart windows | %d / **%d** (target 0 outside) |\n", s.S5xxInside, s.S5xxOutside)
	p("| transport errors inside / outside | %d / %d |\n", s.TransportInside, s.TransportOutside)
	if s.Verified {
		p("| acknowledged creates (201 with an id) / lost | %d / **%d** (target 0) |\n", s.Acked, s.Lost)
	}
	p("| RSS after warm-up → last (peak) | %.1f → %.1f MiB (%.1f MiB) |\n", s.RSSFirst/1048576, s.RSSLast/1048576, s.RSSPeak/1048576)
	p("| goroutines after warm-up → last (max) | %.0f → %.0f (%.0f) |\n", s.GoroutinesAfterWarmup, s.GoroutinesLast, s.GorMax)
	p("| open connections, pool max / PgBouncer's server connections to the database, max | %.0f / %.0f |\n", s.OpenConnsMax, s.BackendsMax)
	p("| p99 per interval: median / worst | %.1f / %.1f ms |\n", s.P99Median, s.P99Max)
	for _, w := range s.Windows {
		p("| %s | %s → %s UTC, %s; window to %s after |\n", strings.ReplaceAll(w.Name, "_", " "),
			w.Begin.UTC().Format("15:04:05.000"), w.End.UTC().Format("15:04:05.000"), w.End.Sub(w.Begin).Round(time.Millisecond), s.Grace)
	}
	if len(s.OutsideExamples) > 0 {
		p("\nErrors outside the restart windows (first %d):\n\n", len(s.OutsideExamples))
		for _, e := range s.OutsideExamples {
			p("- %s %s %s %s: %s\n", e.At.UTC().Format("15:04:05.000"), e.Status, e.Method, e.Path, e.Text)
		}
	}
	p("\nPer interval (`samples.csv`):\n\n")
	p("| elapsed s | RSS MiB | goroutines | open conns | pg backends | requests | 5xx | 429 | p99 ms |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range s.Samples {
		p("| %s | %.1f | %s | %s | %s | %s | %s | %s | %s |\n", r["elapsed_s"], r.f("rss_bytes")/1048576, dash(r["goroutines"]),
			dash(r["go_sql_open_connections"]), dash(r["pg_backends"]), r["requests"], r["s5xx"], r["s429"], dash(r["p99_ms"]))
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// readCSV reads all records of the CSV file at path.
func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}
