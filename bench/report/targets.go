package main

import (
	"fmt"
	"strings"
)

// target is one goal of the performance issue, checked against a run.
type target struct {
	Target, Measured string
	Met              bool
}

// targets checks the goals the run has the figures for; mixRSSKB is the
// peak VmRSS of the mixed runs.
func targets(r *Results, mixRSSKB float64) []target {
	large, small := r.Scale("large"), r.Scale("small")
	var out []target

	// Throughput against the ceiling, at 1M rows.
	for _, c := range []struct {
		scenario string
		min      float64
	}{{"get", 0.5}, {"create", 0.7}, {"patch", 0.7}, {"first", 0.7}} {
		sc := large.Scenario(c.scenario)
		if sc == nil {
			continue
		}
		out = append(out, target{
			Target:   fmt.Sprintf("%s at 1M rows ≥ %.0f%% of the ceiling", describe(c.scenario, r.Meta["search_word"]), c.min*100),
			Measured: fmt.Sprintf("%s (%s req/s against %s tps)", fmtRatio(sc.RPS(), sc.TPS()), fmtRate(sc.RPS()), fmtRate(sc.TPS())),
			Met:      sc.Ratio() >= c.min,
		})
	}

	// Every scenario at least 10× the seed stack (the peer), when it ran.
	var largeScenarios []*Scenario
	if large != nil {
		largeScenarios = large.Scenarios
	}
	for _, sc := range largeScenarios {
		peer := sc.Other("peer")
		if peer == nil || peer.RPS() <= 0 {
			continue
		}
		out = append(out, target{
			Target:   fmt.Sprintf("%s at 1M rows ≥ 10× the seed stack", describe(sc.Name, r.Meta["search_word"])),
			Measured: fmt.Sprintf("%s (%s req/s against %s)", fmtTimes(sc.RPS(), peer.RPS()), fmtRate(sc.RPS()), fmtRate(peer.RPS())),
			Met:      sc.RPS() >= 10*peer.RPS(),
		})
	}

	// The size of the table around the user's rows should barely matter.
	for _, name := range []string{"first", "search", "cursor"} {
		l, s := large.Scenario(name), small.Scenario(name)
		if l == nil || s == nil {
			continue
		}
		out = append(out, target{
			Target:   fmt.Sprintf("%s: p99 at 1M rows ≤ 1.5× at 10k", describe(name, r.Meta["search_word"])),
			Measured: fmt.Sprintf("%s vs %s (%.2f×)", fmtMS(l.P99()), fmtMS(s.P99()), l.P99()/s.P99()),
			Met:      l.P99() <= 1.5*s.P99(),
		})
	}

	// A deep cursor page should cost what the first page costs. Both
	// listings spend most of their time on the same count(*), so the page
	// queries are compared on their own: the shared buffers of the plan the
	// service runs (the prepared one), which do not vary from run to run as
	// timings of a few microseconds do.
	if large != nil {
		sections := ParseExplain(large.Explain)
		first, ok1 := Section(sections, "first page")
		cursor, ok2 := Section(sections, "cursor page")
		const label = "prepared (7th execution)"
		fp, ok3 := first.Plans[label]
		cp, ok4 := cursor.Plans[label]
		if ok1 && ok2 && ok3 && ok4 && fp.Buffers > 0 && cp.Buffers >= 0 {
			ratio := float64(cp.Buffers) / float64(fp.Buffers)
			out = append(out, target{
				Target: "cursor page (after row 5,000) ≤ 1.2× the first page",
				Measured: fmt.Sprintf("%d vs %d shared buffers (%.2f×), %.3f vs %.3f ms: the page queries' prepared plans in the EXPLAIN below",
					cp.Buffers, fp.Buffers, ratio, cp.ExecMS, fp.ExecMS),
				Met: ratio <= 1.2,
			})
		}
	}

	if mixRSSKB > 0 {
		out = append(out, target{
			Target:   "peak RSS in the mixed run ≤ 64 MiB",
			Measured: fmt.Sprintf("%.1f MiB", mixRSSKB/1024),
			Met:      mixRSSKB <= 64*1024,
		})
	}

	var startup []string
	startupMet := true
	for _, s := range r.Scales {
		if len(s.StartupMS) == 0 {
			continue
		}
		m := Median(s.StartupMS)
		startup = append(startup, fmt.Sprintf("%s ms (%s)", fmtNum(m), s.Name))
		startupMet = startupMet && m <= 100
	}
	if len(startup) > 0 {
		out = append(out, target{
			Target:   "start-up to ready ≤ 100 ms",
			Measured: "median " + strings.Join(startup, ", "),
			Met:      startupMet,
		})
	}

	var runs, non2xx, sockErrors int64
	for _, s := range r.Scales {
		for _, sc := range s.Scenarios {
			runs += int64(len(sc.Runs))
			non2xx += sc.Non2xx()
			sockErrors += sc.SocketErrors()
		}
	}
	if runs > 0 {
		measured := fmt.Sprintf("%d non-2xx over %d runs", non2xx, runs)
		if sockErrors > 0 {
			measured += fmt.Sprintf(", and %d socket errors", sockErrors)
		}
		out = append(out, target{Target: "no non-2xx", Measured: measured, Met: non2xx == 0 && sockErrors == 0})
	}
	return out
}
