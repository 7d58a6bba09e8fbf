package main

import (
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// The generated part of docs/benchmarks.md lies between these lines; the
// hand-written text around them is kept as it is.
const (
	BeginMark = "<!-- bench/run.sh: generated results begin -->"
	EndMark   = "<!-- bench/run.sh: generated results end -->"
)

//go:embed results.md.tmpl
var resultsTemplate string

// doc is what results.md.tmpl renders.
type doc struct {
	Begin, End         string
	Meta               map[string]string
	Generated, Runtime string
	Machine            [][2]string
	Scales             []*Scale
	// Main is the scale of the scenario table: large if it ran, else small.
	Main    *Scale
	Compare []comparison
	Side    *sideBySide
	Targets []target
	// IdleRSSKB comes from the large scale if it ran; MixRSSKB and MixHWMKB
	// from every scale that ran the mix.
	IdleRSSKB, MixHWMKB int64
	MixRSSKB            float64
	Explain             string
}

type comparison struct{ Large, Small *Scenario }

// Render returns the generated part of the document, markers included.
func Render(r *Results) (string, error) {
	d := doc{Begin: BeginMark, End: EndMark, Meta: r.Meta, Scales: r.Scales}
	started, err1 := strconv.ParseInt(r.Meta["started"], 10, 64)
	finished, err2 := strconv.ParseInt(r.Meta["finished"], 10, 64)
	if err1 == nil && err2 == nil {
		d.Generated = time.Unix(finished, 0).UTC().Format("2006-01-02 15:04 UTC")
		d.Runtime = fmt.Sprintf("%d min %d s", (finished-started)/60, (finished-started)%60)
	} else {
		d.Generated, d.Runtime = "an unknown date", "an unknown time"
	}
	d.Machine = machine(r.Meta)

	large, small := r.Scale("large"), r.Scale("small")
	switch {
	case large != nil && len(large.Scenarios) > 0:
		d.Main = large
	case small != nil && len(small.Scenarios) > 0:
		d.Main = small
	}
	for _, name := range []string{"first", "search", "cursor"} {
		if l, s := large.Scenario(name), small.Scenario(name); l != nil && s != nil {
			d.Compare = append(d.Compare, comparison{Large: l, Small: s})
		}
	}
	for i, s := range r.Scales {
		if s.IdleRSSKB > 0 && (i == 0 || s.Name == "large") {
			d.IdleRSSKB = s.IdleRSSKB
		}
		if s.MixHWMKB > 0 {
			d.MixHWMKB = s.MixHWMKB
		}
		for _, v := range s.MixRSSKB {
			d.MixRSSKB = math.Max(d.MixRSSKB, v)
		}
	}
	if large != nil {
		d.Explain = large.Explain
	}
	d.Side = buildSideBySide(r)
	d.Targets = targets(r, d.MixRSSKB)
	if t, ok := peerTarget(d.Side); ok {
		d.Targets = append(d.Targets, t)
	}

	t, err := template.New("results").Funcs(funcs(r.Meta["search_word"])).Parse(resultsTemplate)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

func machine(m map[string]string) [][2]string {
	memory := m["mem_total_kb"]
	if kb, err := strconv.ParseFloat(memory, 64); err == nil {
		memory = fmt.Sprintf("%.1f GiB", kb/1048576)
	}
	// wrk -v prints "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) ...".
	wrk := strings.Fields(m["wrk_version"])
	wrk = wrk[:min(2, len(wrk))]
	return [][2]string{
		{"CPUs (nproc)", m["nproc"]},
		{"CPU model", m["cpu_model"]},
		{"memory", memory},
		{"kernel", m["kernel"]},
		{"PostgreSQL", m["pg_version"]},
		{"PostgreSQL settings", m["pg_settings"]},
		{"Go", m["go_version"]},
		{"wrk / pgbench", strings.Join(wrk, " ") + " / " + m["pgbench_version"]},
		{"service pool", m["server_pool"]},
		{"old build (OLD_REV)", orDash(m["old_rev"])},
		{"peer (PEER=1)", orDash(m["peer"])},
		{"peer's Debian packages", orDash(m["peer_packages"])},
		{"load average before / after the run", m["load_before"] + " / " + m["load_after"]},
	}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func funcs(searchWord string) template.FuncMap {
	return template.FuncMap{
		"describe": func(scenario string) string { return describe(scenario, searchWord) },
		"rate":     fmtRate,
		"ms":       fmtMS,
		"ratio":    fmtRatio,
		"num":      fmtNum,
		"median":   Median,
		"inc":      func(i int) int { return i + 1 },
		"join": func(v []float64) string {
			s := make([]string, len(v))
			for i, x := range v {
				s[i] = fmtNum(x)
			}
			return strings.Join(s, ", ")
		},
		"mib": func(kb any) string {
			var v float64
			switch k := kb.(type) {
			case int64:
				v = float64(k)
			case float64:
				v = k
			}
			if v <= 0 {
				return "–"
			}
			return fmt.Sprintf("%.1f MiB", v/1024)
		},
		"lookups": func(auth map[string]string) string {
			reads, err1 := strconv.ParseFloat(auth["users_reads"], 64)
			n, err2 := strconv.ParseFloat(auth["probe_requests"], 64)
			if err1 != nil || err2 != nil || n == 0 {
				return "–"
			}
			return fmt.Sprintf("%.4f", reads/n)
		},
	}
}

// describe names a scenario in the tables.
func describe(scenario, searchWord string) string {
	switch scenario {
	case "get":
		return "get one todo (random id)"
	case "first":
		return "first page (limit=20)"
	case "search":
		return fmt.Sprintf("search (q=%s)", searchWord)
	case "offset":
		return "deep offset (offset=5000)"
	case "cursor":
		return "cursor page (after row 5,000)"
	case "create":
		return "create (POST)"
	case "patch":
		return "patch (PATCH, no If-Match)"
	case "mix":
		return "mix 80/20 read/write"
	}
	return scenario
}

// fmtRate prints a rate with three significant figures or more.
func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// fmtMS prints milliseconds with three significant figures or more.
func fmtMS(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func fmtRatio(a, b float64) string {
	r := a / b
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f", r)
}

// fmtNum prints a number without needless decimals: 593, 592.5.
func fmtNum(v float64) string {
	if math.IsNaN(v) || v < 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Splice puts the generated part into the document: in place of the lines
// from BeginMark to EndMark if it has them, else at its end.
func Splice(document, generated string) string {
	generated = strings.TrimRight(generated, "\n") + "\n"
	lines := strings.SplitAfter(document, "\n")
	begin := -1
	for i, line := range lines {
		switch strings.TrimRight(line, "\n") {
		case BeginMark:
			if begin < 0 {
				begin = i
			}
		case EndMark:
			if begin >= 0 {
				return strings.Join(lines[:begin], "") + generated + strings.Join(lines[i+1:], "")
			}
		}
	}
	if document == "" {
		return generated
	}
	return strings.TrimRight(document, "\n") + "\n\n" + generated
}
