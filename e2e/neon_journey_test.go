package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
)

// neonTally counts answers by step and status and keeps a few unexpected
// ones.
type neonTally struct {
	mu     sync.Mutex
	total  int
	bad    int
	counts map[string]int
	// samples are the distinct unexpected answers (the first 10), with
	// how often each came.
	samples []string
	seen    map[string]int
}

func newNeonTally() *neonTally { return &neonTally{counts: map[string]int{}, seen: map[string]int{}} }

// sample keeps an unexpected answer; the caller holds mu.
func (tl *neonTally) sample(s string) {
	if _, ok := tl.seen[s]; !ok {
		if len(tl.samples) >= 10 {
			return
		}
		tl.samples = append(tl.samples, s)
	}
	tl.seen[s]++
}

// check records an answer and reports whether its status is one of want.
func (tl *neonTally) check(step string, r response, want ...int) bool {
	ok := r.Err == nil && slices.Contains(want, r.Status)
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.total++
	key := fmt.Sprintf("%s %d", step, r.Status)
	if r.Err != nil {
		key = step + " transport-error"
	}
	tl.counts[key]++
	if !ok {
		tl.bad++
		detail := clip(strings.TrimSpace(string(r.Body)), 300)
		if r.Err != nil {
			detail = r.Err.Error()
		}
		tl.sample(fmt.Sprintf("%s: got %d, want %v: %s", step, r.Status, want, detail))
	}
	return ok
}

// fail records a failed expectation that is not about a status.
func (tl *neonTally) fail(step, detail string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.bad++
	tl.sample(step + ": " + detail)
}

func (tl *neonTally) summary() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	keys := make([]string, 0, len(tl.counts))
	for k := range tl.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, %d unexpected\n", tl.total, tl.bad)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-28s %d\n", k, tl.counts[k])
	}
	for _, s := range tl.samples {
		fmt.Fprintf(&b, "  unexpected (×%d): %s\n", tl.seen[s], s)
	}
	return b.String()
}

// neonJourney drives every /api/v1 route once for a new user, checking each
// status (and the list totals, which are exact for the user's own todos).
// It stops at the first failure a later step depends on.
func neonJourney(c *client, tl *neonTally, tag string) {
	user, email, pw := "u_"+tag, tag+"@example.com", "correct horse "+tag
	if !tl.check("register", c.do("POST", "/api/v1/auth/register", "", map[string]any{"email": email, "username": user, "password": pw}), 201) {
		return
	}
	r := c.do("POST", "/api/v1/auth/login", "", map[string]any{"username": user, "password": pw})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if !tl.check("login json", r, 200) {
		return
	}
	if err := r.json(&tok); err != nil || tok.AccessToken == "" {
		tl.fail("login json", fmt.Sprintf("no token: %v", err))
		return
	}
	token := tok.AccessToken
	tl.check("login form", c.do("POST", "/api/v1/auth/login", "", url.Values{"username": {email}, "password": {pw}}), 200)
	tl.check("me", c.do("GET", "/api/v1/users/me", token, nil), 200)
	tl.check("patch me username", c.do("PATCH", "/api/v1/users/me", token, map[string]any{"username": user + "_x"}), 200)
	tl.check("patch me email", c.do("PATCH", "/api/v1/users/me", token, map[string]any{"email": "new_" + email, "current_password": pw}), 200)
	// A credential change ends every earlier token: the old one is refused
	// and a login with the new email gives a working one.
	tl.check("old token after the email change", c.do("GET", "/api/v1/users/me", token, nil), 401)
	r = c.do("POST", "/api/v1/auth/login", "", map[string]any{"username": "new_" + email, "password": pw})
	if !tl.check("login with the new email", r, 200) {
		return
	}
	if err := r.json(&tok); err != nil || tok.AccessToken == "" {
		tl.fail("login with the new email", fmt.Sprintf("no token: %v", err))
		return
	}
	token = tok.AccessToken

	type created struct {
		id   int64
		etag string
	}
	var todos []created
	for i := range 3 {
		body := map[string]any{"title": fmt.Sprintf("todo %s %d", tag, i), "priority": i + 1, "description": "alpha " + tag}
		if i != 1 {
			body["due_date"] = fmt.Sprintf("2027-01-0%dT12:00:00Z", i+1)
		}
		r := c.do("POST", "/api/v1/todos", token, body)
		if !tl.check("create", r, 201) {
			return
		}
		var td apiTodo
		if err := r.json(&td); err != nil || r.Header.Get("ETag") == "" {
			tl.fail("create", fmt.Sprintf("no id or ETag: %v", err))
			return
		}
		todos = append(todos, created{td.ID, r.Header.Get("ETag")})
	}
	items := make([]map[string]any, 4)
	for j := range items {
		items[j] = map[string]any{"title": fmt.Sprintf("batch %s %d", tag, j), "priority": j, "completed": j%2 == 0}
	}
	r = c.do("POST", "/api/v1/todos/batch", token, map[string]any{"items": items})
	var batch struct {
		Items []apiTodo `json:"items"`
	}
	if tl.check("batch", r, 201) && (r.json(&batch) != nil || len(batch.Items) != 4) {
		tl.fail("batch", fmt.Sprintf("want 4 items back, got %s", clip(string(r.Body), 200)))
	}

	first := fmt.Sprintf("/api/v1/todos/%d", todos[0].id)
	r = c.do("GET", first, token, nil)
	if tl.check("get", r, 200) && r.Header.Get("ETag") != todos[0].etag {
		tl.fail("get", fmt.Sprintf("ETag %s, created with %s", r.Header.Get("ETag"), todos[0].etag))
	}
	tl.check("get if-none-match", c.do("GET", first, token, nil, "If-None-Match", todos[0].etag), 304)
	r = c.do("PATCH", first, token, map[string]any{"completed": true, "description": nil}, "If-Match", todos[0].etag)
	if tl.check("patch if-match", r, 200) && (r.Header.Get("ETag") == "" || r.Header.Get("ETag") == todos[0].etag) {
		tl.fail("patch if-match", "the ETag did not change")
	}
	tl.check("patch stale if-match", c.do("PATCH", first, token, map[string]any{"priority": 5}, "If-Match", todos[0].etag), 412)

	// Not completed with priority ≥ 1: todos 1 and 2, batch items 1 and 3.
	seen, total := 0, int64(-1)
	cursor := ""
	for page := 0; page < 5; page++ {
		q := url.Values{"completed": {"false"}, "min_priority": {"1"}, "sort": {"-priority"}, "limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := c.do("GET", "/api/v1/todos?"+q.Encode(), token, nil)
		var p apiPage
		if !tl.check("list filter+cursor", r, 200) || r.json(&p) != nil {
			return
		}
		seen += len(p.Items)
		total = p.Total
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	if seen != 4 || total != 4 {
		tl.fail("list filter+cursor", fmt.Sprintf("walked %d items, total %d; want 4 and 4", seen, total))
	}
	r = c.do("GET", "/api/v1/todos?q=batch&sort=title&limit=3&offset=1", token, nil)
	var p apiPage
	if tl.check("list search+offset", r, 200) && (r.json(&p) != nil || p.Total != 4 || len(p.Items) != 3) {
		tl.fail("list search+offset", fmt.Sprintf("want total 4 and 3 items: %s", clip(string(r.Body), 200)))
	}
	r = c.do("GET", "/api/v1/todos?due_before=2030-01-01T00:00:00Z&due_after=2026-01-01T00:00:00Z&sort=due_date", token, nil)
	if tl.check("list due range", r, 200) && (r.json(&p) != nil || p.Total != 2) {
		tl.fail("list due range", fmt.Sprintf("want total 2: %s", clip(string(r.Body), 200)))
	}

	second := fmt.Sprintf("/api/v1/todos/%d", todos[1].id)
	tl.check("delete if-match", c.do("DELETE", second, token, nil, "If-Match", todos[1].etag), 204)
	tl.check("get deleted", c.do("GET", second, token, nil), 404)
	tl.check("deactivate", c.do("DELETE", "/api/v1/users/me", token, nil), 204)
	tl.check("me after deactivate", c.do("GET", "/api/v1/users/me", token, nil), 401)
	tl.check("login after deactivate", c.do("POST", "/api/v1/auth/login", "", map[string]any{"username": user + "_x", "password": pw}), 401)
}

// neonRunJourneys runs journeys from workers goroutines, rounds each.
func neonRunJourneys(c *client, prefix string, workers, rounds int) *neonTally {
	tl := newNeonTally()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				neonJourney(c, tl, fmt.Sprintf("%s%dr%d", prefix, w, k))
			}
		}()
	}
	wg.Wait()
	return tl
}
