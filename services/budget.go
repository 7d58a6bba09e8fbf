package services

import (
	"sync"
	"time"
)

// budgetLeases are the units of users' write budgets this process has
// taken from their create_budgets rows and not spent yet.
//
// A create that spends the budget locks the user's budget row until it
// commits, so one user's concurrent creates would queue there one commit at
// a time (1,150 a second at 32 connections on the development machine,
// 1,890 with what follows). When several of one user's creates run here at
// once, the one that goes to the row asks for more than its own cost
// (size), and the creates that follow spend the rest here (take) without
// touching the row. The budget in the database is still what every
// instance spends from, so no instance can let a user past it; units taken
// and not spent within leaseTTL are given up, which only ever errs on the
// side of fewer creates. A user whose creates come one at a time always
// asks for exactly their cost.
type budgetLeases struct {
	mu sync.Mutex
	m  map[int64]*budgetLease
}

type budgetLease struct {
	units   int       // taken from the row, not spent yet
	expires time.Time // when units are given up
	running int       // the user's creates running in this process
}

// leaseTTL is how long units taken ahead are kept for the creates that
// follow.
const leaseTTL = time.Second

// sweepLeasesAt is how many users' entries are kept before the given-up
// ones are dropped.
const sweepLeasesAt = 1024

// maxLeaseFactor bounds how many creates' worth one create asks for.
const maxLeaseFactor = 16

// begin counts a create of user as running until done is called.
func (l *budgetLeases) begin(user int64) (done func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[int64]*budgetLease{}
	}
	if len(l.m) >= sweepLeasesAt {
		now := time.Now()
		for u, e := range l.m {
			if e.running == 0 && !now.Before(e.expires) {
				delete(l.m, u)
			}
		}
	}
	e := l.m[user]
	if e == nil {
		e = &budgetLease{}
		l.m[user] = e
	}
	e.running++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		e.running--
		if e.running == 0 && (e.units == 0 || !time.Now().Before(e.expires)) {
			delete(l.m, user)
		}
	}
}

// take spends cost units the process holds for user, if it holds that
// many.
func (l *budgetLeases) take(user int64, cost int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[user]
	if e == nil || e.units < cost || !now.Before(e.expires) {
		return false
	}
	e.units -= cost
	return true
}

// size is how many units a create costing cost asks the user's budget row for:
// its cost, times the user's creates running here (at most
// maxLeaseFactor), but never more than a sixteenth of the burst unless the
// cost alone is more: what an instance can give up unspent stays a small
// part of a burst (none at all for a burst under 32).
func (l *budgetLeases) size(user int64, cost, burst int) int {
	l.mu.Lock()
	running := 1
	if e := l.m[user]; e != nil {
		running = e.running
	}
	l.mu.Unlock()
	ask := cost * min(max(running, 1), maxLeaseFactor)
	return max(cost, min(ask, burst/16))
}

// put keeps units taken for user beyond what the create spent, for
// leaseTTL from now, with the units still held.
func (l *budgetLeases) put(user int64, units int, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[user]
	if e == nil {
		return
	}
	if now.Before(e.expires) {
		e.units += units
	} else {
		e.units = units
	}
	e.expires = now.Add(leaseTTL)
}
