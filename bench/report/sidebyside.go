package main

import (
	"fmt"
	"math"
	"strings"
)

// The side-by-side part of the report: every build of one bench/run.sh run
// (OLD_REV=, PEER=1, FLOOR=1) against the current one, per scenario.

// sideRow is one row of the side-by-side table.
type sideRow struct {
	Scenario                 string
	New, Old, Peer           string
	NewPeer, NewOld, NewCeil string
	P99s, Non2xx             string
	newPeerRatio             float64
}

// sideBySide is what the template shows of the other builds.
type sideBySide struct {
	Rows []sideRow
	// Floor is the get scenario against the /healthz floor, when it ran.
	Floor *floorLine
	// Startup lists the start-up medians of every build.
	Startup           []string
	HaveOld, HavePeer bool
	// PeerCursorByOffset says the peer's cursor row is its offset page.
	PeerCursorByOffset bool
	// Builds names the builds of the p99 and non-2xx columns: "new / old / peer".
	Builds string
}

type floorLine struct {
	GetRPS, FloorRPS, FloorP99 float64
	FloorNon2xx                int64
}

// Fraction is get's req/s over the floor's.
func (f *floorLine) Fraction() string { return fmtRatio(f.GetRPS, f.FloorRPS) }

// buildSideBySide returns nil when the run measured the current build alone.
func buildSideBySide(r *Results) *sideBySide {
	var sb sideBySide
	found := false
	for _, s := range r.Scales {
		for _, sc := range s.Scenarios {
			if sc.Other("old") != nil {
				sb.HaveOld, found = true, true
			}
			if sc.Other("peer") != nil {
				sb.HavePeer, found = true, true
			}
			if sc.Other("floor") != nil {
				found = true
			}
		}
	}
	if !found {
		return nil
	}
	sb.Builds = joinBuilds(sb, "new", "old", "peer")
	for _, s := range r.Scales {
		for _, sc := range s.Scenarios {
			row := sideRow{Scenario: describe(sc.Name, r.Meta["search_word"])}
			if s.Name == "small" && r.Scale("large") != nil {
				row.Scenario += ", 10k rows"
			}
			if sc.Name == "cursor" && sc.Other("peer") != nil {
				row.Scenario += " ¹"
				sb.PeerCursorByOffset = true
			}
			old, peer := sc.Other("old"), sc.Other("peer")
			row.New = fmtRate(sc.RPS())
			row.Old = buildRate(old)
			row.Peer = buildRate(peer)
			row.NewPeer = fmtTimes(sc.RPS(), peer.RPS())
			row.NewOld = fmtTimes(sc.RPS(), old.RPS())
			row.NewCeil = fmtRatio(sc.RPS(), sc.TPS())
			row.P99s = joinBuilds(sb, fmtMS(sc.P99()), buildP99(old), buildP99(peer))
			row.Non2xx = joinBuilds(sb, non2xx(sc.Non2xx(), sc.SocketErrors()), buildNon2xx(old), buildNon2xx(peer))
			row.newPeerRatio = sc.RPS() / peer.RPS()
			sb.Rows = append(sb.Rows, row)
		}
	}

	// search_p99_ratio: search p99 at 1M rows over its p99 at 10k, per build.
	large, small := r.Scale("large"), r.Scale("small")
	if l, s := large.Scenario("search"), small.Scenario("search"); l != nil && s != nil {
		ratio := func(a, b float64) string {
			if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f×", a/b)
		}
		p99s := func(a, b float64) string {
			if math.IsNaN(a) || math.IsNaN(b) {
				return "–"
			}
			return fmtMS(a) + " / " + fmtMS(b)
		}
		lo, so, lp, sp := l.Other("old"), s.Other("old"), l.Other("peer"), s.Other("peer")
		sb.Rows = append(sb.Rows, sideRow{
			Scenario: "search_p99_ratio: search p99 at 1M rows / at 10k (target ≤ 1.5×)",
			New:      ratio(l.P99(), s.P99()), Old: ratio(lo.P99(), so.P99()), Peer: ratio(lp.P99(), sp.P99()),
			NewPeer: "–", NewOld: "–", NewCeil: "–",
			P99s:   joinBuilds(sb, p99s(l.P99(), s.P99()), p99s(lo.P99(), so.P99()), p99s(lp.P99(), sp.P99())),
			Non2xx: "–", newPeerRatio: math.NaN(),
		})
	}

	if get := large.Scenario("get"); get != nil && get.Other("floor") != nil && len(get.Other("floor").Runs) > 0 {
		f := get.Other("floor")
		sb.Floor = &floorLine{GetRPS: get.RPS(), FloorRPS: f.RPS(), FloorP99: f.P99(), FloorNon2xx: f.Non2xx() + f.SocketErrors()}
	}

	for _, s := range r.Scales {
		var parts []string
		if len(s.StartupMS) > 0 {
			parts = append(parts, "new "+fmtNum(Median(s.StartupMS))+" ms")
		}
		for _, b := range []string{"old", "peer"} {
			if v := s.StartupByBuild[b]; len(v) > 0 {
				parts = append(parts, b+" "+fmtNum(Median(v))+" ms")
			}
		}
		if len(parts) > 1 {
			sb.Startup = append(sb.Startup, s.Name+" database: "+strings.Join(parts, ", "))
		}
	}
	return &sb
}

// peerTarget checks "≥ 10× the seed stack on every scenario"; ok is false
// when the peer did not run.
func peerTarget(sb *sideBySide) (t target, ok bool) {
	if sb == nil || !sb.HavePeer {
		return target{}, false
	}
	worst, worstName, n := math.Inf(1), "", 0
	for _, row := range sb.Rows {
		if math.IsNaN(row.newPeerRatio) || math.IsInf(row.newPeerRatio, 0) {
			continue
		}
		n++
		if row.newPeerRatio < worst {
			worst, worstName = row.newPeerRatio, row.Scenario
		}
	}
	if n == 0 {
		return target{}, false
	}
	return target{
		Target:   "≥ 10× the seed stack (bench/peer) on every scenario",
		Measured: fmt.Sprintf("lowest %.1f× (%s), over %d scenarios", worst, worstName, n),
		Met:      worst >= 10,
	}, true
}

func buildRate(b *BuildRuns) string {
	switch {
	case b == nil:
		return "–"
	case len(b.Runs) == 0:
		return "skipped (" + b.Skipped + ")"
	}
	return fmtRate(b.RPS())
}

func buildP99(b *BuildRuns) string {
	if b == nil || len(b.Runs) == 0 {
		return "–"
	}
	return fmtMS(b.P99())
}

func buildNon2xx(b *BuildRuns) string {
	if b == nil || len(b.Runs) == 0 {
		return "–"
	}
	return non2xx(b.Non2xx(), b.SocketErrors())
}

func non2xx(n, sock int64) string {
	if sock > 0 {
		return fmt.Sprintf("%d (+%d socket errors)", n, sock)
	}
	return fmt.Sprint(n)
}

// joinBuilds puts the values of the builds that ran beside each other:
// new / old / peer.
func joinBuilds(sb sideBySide, newV, oldV, peerV string) string {
	parts := []string{newV}
	if sb.HaveOld {
		parts = append(parts, oldV)
	}
	if sb.HavePeer {
		parts = append(parts, peerV)
	}
	return strings.Join(parts, " / ")
}

// fmtTimes prints a/b as "12.3×".
func fmtTimes(a, b float64) string {
	r := a / b
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	if r < 10 {
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}
