package controllers_test

// Tests of GET /api/v1/todos (see apidocs/openapi.yaml) through the router:
// one walk by offset and by cursor with filters, one search, one long
// cursor, the wiring of cursor and parameter errors, the defaults and the
// shape of the page, next to another user's rows. The rules behind them
// are tested where they live, in services: the order of every sort key and
// its tie-break, every filter, the search, owner isolation and the cursor
// edge values in services/rules_list_test.go; the ranges and cursor
// checks in services/input_test.go and list_query_test.go. The parameter
// syntax is tabled here without a request (TestParseListQuery).

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/controllers"
	"github.com/todo-api/todo-api/internal/listorder"
	"github.com/todo-api/todo-api/services"
)

// listInput is one todo to create; the server adds id and created_at.
type listInput struct {
	Title       string
	Description *string
	Completed   bool
	Priority    int
	DueDate     *time.Time
	// DueZone, if set, is the zone the due date is sent in (the server
	// must store the same instant).
	DueZone *time.Location
}

func (in listInput) body() map[string]any {
	m := map[string]any{"title": in.Title, "completed": in.Completed, "priority": in.Priority}
	if in.Description != nil {
		m["description"] = *in.Description
	}
	if in.DueDate != nil {
		d := *in.DueDate
		if in.DueZone != nil {
			d = d.In(in.DueZone)
		}
		m["due_date"] = d.Format(time.RFC3339Nano)
	}
	return m
}

// listBatch creates the inputs with POST /todos/batch (up to 1000 per call)
// and returns them as todos: the fields the test sent, the id and
// created_at the server assigned. It checks the server echoed the fields.
func listBatch(t testing.TB, a *api, token string, ins []listInput) []todo {
	t.Helper()
	var out []todo
	for start := 0; start < len(ins); start += 1000 {
		chunk := ins[start:min(start+1000, len(ins))]
		items := make([]map[string]any, len(chunk))
		for i, in := range chunk {
			items[i] = in.body()
		}
		r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos/batch", Token: token, Body: map[string]any{"items": items}}), http.StatusCreated)
		var res struct {
			Items []todo `json:"items"`
		}
		r.Decode(t, &res)
		if len(res.Items) != len(chunk) {
			t.Fatalf("batch of %d created %d items", len(chunk), len(res.Items))
		}
		for i, in := range chunk {
			got := res.Items[i]
			want := todo{ID: got.ID, Title: in.Title, Description: in.Description, Completed: in.Completed, Priority: in.Priority, DueDate: in.DueDate, CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
			if diff := listorder.Diff(listRow(want), listRow(got)); diff != "" {
				t.Fatalf("batch item %d: %s", i, diff)
			}
			out = append(out, want)
		}
	}
	return out
}

// listCompare orders a before b (<0) under the sort key (see
// listorder.Compare).
func listCompare(key string, a, b todo) int {
	return listorder.Compare(key, listRow(a), listRow(b))
}

func listRow(t todo) listorder.Row {
	return listorder.Row{ID: t.ID, CreatedAt: t.CreatedAt, Priority: t.Priority, Title: t.Title, DueDate: t.DueDate, Description: t.Description, Completed: t.Completed}
}

// listExpected returns the todos matching match, in the order of key.
func listExpected(all []todo, key string, match func(todo) bool) []todo {
	var out []todo
	for _, td := range all {
		if match == nil || match(td) {
			out = append(out, td)
		}
	}
	slices.SortFunc(out, func(a, b todo) int { return listCompare(key, a, b) })
	return out
}

// listGet fetches one page and checks the status.
func listGet(t testing.TB, a *api, token, rawQuery string) todoPage {
	t.Helper()
	path := "/api/v1/todos"
	if rawQuery != "" {
		path += "?" + rawQuery
	}
	r := expect(t, a.do(req{Method: "GET", Path: path, Token: token}), http.StatusOK)
	var p todoPage
	r.Decode(t, &p)
	return p
}

// listContains reports whether q is a case-insensitive substring of the
// title or the description (the contract's q=).
func listContains(td todo, q string) bool {
	q = strings.ToLower(q)
	if strings.Contains(strings.ToLower(td.Title), q) {
		return true
	}
	return td.Description != nil && strings.Contains(strings.ToLower(*td.Description), q)
}

// listWalk reads every page of base (sorted by key, or by the default
// order if key is "") with the given limit, by offset or by following
// next_cursor, checking each page; it returns the rows in the order read.
// want is the expected sequence: it gives the total and where the last
// page is.
func listWalk(t *testing.T, a *api, token string, base url.Values, key string, limit int, byCursor bool, want []todo) []todo {
	t.Helper()
	return listorder.Walk(t, limit, byCursor, len(want), func(page, offset int, cursor string) (listorder.Page[todo], string, bool) {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		if key != "" {
			q.Set("sort", key)
		}
		q.Set("limit", strconv.Itoa(limit))
		if byCursor && cursor != "" {
			q.Set("cursor", cursor)
		}
		if !byCursor {
			q.Set("offset", strconv.Itoa(offset))
		}
		where := fmt.Sprintf("page %d (%s)", page, q.Encode())
		if len(where) > 160 {
			where = where[:160] + "…"
		}
		r := a.do(req{Method: "GET", Path: "/api/v1/todos?" + q.Encode(), Token: token})
		if r.Status != http.StatusOK {
			t.Errorf("%s: status = %d, want 200 (cursor from the previous page: %d characters); body: %.300s", where, r.Status, len(cursor), r.Body)
			return listorder.Page[todo]{}, where, false
		}
		var p todoPage
		r.Decode(t, &p)
		if p.Items == nil {
			t.Errorf("%s: items is null, want an array", where)
		}
		return listorder.Page[todo]{Items: p.Items, Total: p.Total, Limit: p.Limit, Offset: p.Offset, NextCursor: p.NextCursor}, where, true
	})
}

// listCheckSequence is listorder.Check of todos read over HTTP; an empty
// key is the default order.
func listCheckSequence(t *testing.T, key string, got, want []todo) {
	t.Helper()
	listorder.Check(t, cmp.Or(key, "-created_at"), got, want, listRow)
}

// listSeedWalk creates n varied todos in batches (so created_at varies
// between batches and ties within one): ~40% completed, priorities 0-5,
// about half without a due date and the rest on 8 shared instants (some sent
// with a +02:00 offset, some with microseconds), titles from 24 values made
// of lower-case letters only, descriptions null or one of a few phrases in
// mixed case.
func listSeedWalk(t *testing.T, a *api, token string, n, batches int) []todo {
	t.Helper()
	rng := rand.New(rand.NewPCG(20261126, 42))
	heads := []string{"alpha", "alphabet", "bravo", "charlie", "delta", "echo"}
	tails := []string{"", "tango", "zulu", "x"}
	descs := []string{"Kiwi smoothie", "MANGO lassi", "papaya", "Alpha team review", "ping the echo server"}
	base := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	plus2 := time.FixedZone("+02:00", 2*3600)
	var all []todo
	per := (n + batches - 1) / batches
	for len(all) < n {
		ins := make([]listInput, min(per, n-len(all)))
		for i := range ins {
			in := listInput{
				Title:     heads[rng.IntN(len(heads))] + tails[rng.IntN(len(tails))],
				Completed: rng.IntN(10) < 4,
				Priority:  rng.IntN(6),
			}
			if rng.IntN(3) > 0 {
				in.Description = ptr(descs[rng.IntN(len(descs))])
			}
			if rng.IntN(2) == 0 {
				k := rng.IntN(8)
				d := base.AddDate(0, 0, k)
				if k%3 == 1 {
					d = d.Add(time.Duration(k*123457) * time.Microsecond)
				}
				in.DueDate = &d
				if rng.IntN(2) == 0 {
					in.DueZone = plus2
				}
			}
			ins[i] = in
		}
		all = append(all, listBatch(t, a, token, ins)...)
	}
	return all
}

// TestListPagingWalks: one walk through the router by offset and one by
// cursor, in an order with NULLs and in the default order with all five
// filters, next to another user's rows that must never show: the wiring
// of limit, offset, total and next_cursor, and of the caller. Every sort
// key under every filter is walked in services (TestListWalks,
// TestListOwnerIsolation).
func TestListPagingWalks(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	all := listSeedWalk(t, a, acc.Token, 60, 3)
	other := newAccount(t, a)
	listSeedWalk(t, a, other.Token, 20, 1)

	after := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	before := time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		query url.Values
		key   string
		limit int
		match func(todo) bool
	}{
		{"due_date, NULLs last", url.Values{}, "due_date", 7, nil},
		{"default order, every filter", url.Values{"completed": {"false"}, "min_priority": {"1"}, "q": {"A"},
			"due_after": {after.Format(time.RFC3339)}, "due_before": {"2026-03-07T02:00:00+02:00"}}, "", 2, func(td todo) bool {
			return !td.Completed && td.Priority >= 1 && listContains(td, "a") && td.DueDate != nil && td.DueDate.After(after) && td.DueDate.Before(before)
		}},
	}
	for _, tc := range cases {
		orderKey := cmp.Or(tc.key, "-created_at")
		want := listExpected(all, orderKey, tc.match)
		if len(want) <= 2*tc.limit {
			t.Fatalf("%s: %d rows match; the walk needs more than two pages", tc.name, len(want))
		}
		for _, mode := range []string{"offset", "cursor"} {
			t.Run(tc.name+", "+mode, func(t *testing.T) {
				a := sharedAPI(t)
				got := listWalk(t, a, acc.Token, tc.query, tc.key, tc.limit, mode == "cursor", want)
				listCheckSequence(t, orderKey, got, want)
			})
		}
	}
}

// TestListSearchLiteral: q= reaches the search as sent in the URL, %
// and all, over titles and descriptions, and only the caller's. The
// search rules (case, %, _ and \ as themselves, SQL-looking text) are
// tabled in services (TestListSearchIsLiteral, TestSearchMatchesILIKE).
func TestListSearchLiteral(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	ins := []listInput{
		{Title: "100% done"},
		{Title: "100 percent done"},
		{Title: "plain", Description: ptr("has 100% in the description")},
		{Title: "under_score"},
	}
	listBatch(t, a, acc.Token, ins)
	listBatch(t, a, newAccount(t, a).Token, ins)
	p := listGet(t, a, acc.Token, url.Values{"q": {"100%"}, "limit": {"100"}, "sort": {"title"}}.Encode())
	var got []string
	for _, it := range p.Items {
		got = append(got, it.Title)
	}
	if want := []string{"100% done", "plain"}; !slices.Equal(got, want) || p.Total != 2 {
		t.Errorf("q=100%%: titles %q, total %d; want %q, 2", got, p.Total, want)
	}
}

// TestListCursorErrors: a cursor issued for other filters is refused with
// a 400 naming "cursor". Which cursors are refused (tampered, unsigned, of
// another sort or other filters, with an offset) is tabled in services
// (TestCheckQueryCursor); this is the wiring, with a cursor the server
// really issued.
func TestListCursorErrors(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	var ins []listInput
	for i := range 8 {
		ins = append(ins, listInput{Title: fmt.Sprintf("item%c", 'a'+i), Priority: i % 6})
	}
	listBatch(t, a, acc.Token, ins)
	base := url.Values{"sort": {"priority"}, "min_priority": {"1"}, "limit": {"2"}}
	p := listGet(t, a, acc.Token, base.Encode())
	if p.NextCursor == nil {
		t.Fatal("first page has no next_cursor")
	}
	base.Set("cursor", *p.NextCursor)
	base.Set("min_priority", "2")
	r := a.do(req{Method: "GET", Path: "/api/v1/todos?" + base.Encode(), Token: acc.Token})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400; body: %.300s", r.Status, r.Body)
	}
	pr := checkProblem(t, r)
	if len(pr.Errors) != 1 || pr.Errors[0].Field != "cursor" || !strings.Contains(pr.Errors[0].Message, "other filters") {
		t.Errorf("errors = %+v, want one naming \"cursor\", issued for other filters", pr.Errors)
	}
}

// TestListBadQuery: bad parameters answer 400 problem+json listing every
// bad parameter at once, whether the parser or the service's rules find
// them; good ones answer 200. The parser's syntax is
// tabled in TestParseListQuery, the ranges, sort keys and cursor rules in
// services (TestListQueryCheck, TestCheckQueryCursor).
func TestListBadQuery(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	listBatch(t, a, acc.Token, []listInput{{Title: "one"}, {Title: "two", Priority: 5, Completed: true}})
	cases := []struct {
		name string
		raw  string
		want []string
	}{
		// The parser's problems, with the rules' for the other parameters.
		{"syntax and rules at once", "sort=nope&limit=0&offset=-1&completed=maybe&min_priority=9&due_before=yesterday&due_after=soon&foo=1&q=a&q=b",
			[]string{"sort", "limit", "offset", "completed", "min_priority", "due_before", "due_after", "foo", "q"}},
		// No syntax problem: List itself refuses the query.
		{"a range and a cursor", "limit=0&cursor=garbage", []string{"limit", "cursor"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			r := a.do(req{Method: "GET", Path: "/api/v1/todos?" + tc.raw, Token: acc.Token})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body: %.300s", r.Status, r.Body)
			}
			p := checkProblem(t, r)
			got := p.fields()
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("errors fields = %q, want %q", got, want)
			}
			for _, e := range p.Errors {
				if e.Message == "" {
					t.Errorf("error for %q has no message", e.Field)
				}
			}
		})
	}

	// Every parameter at once, all good: a 200. How each filters is in
	// services (TestListWalks, TestListFilterEdges).
	good := []struct {
		raw       string
		wantTotal int64
		wantItems int
	}{
		{"sort=-title&limit=2&offset=0&completed=true&min_priority=1&q=TW&due_before=2030-01-01T00:00:00Z", 0, 0},
	}
	for _, tc := range good {
		t.Run("ok "+tc.raw, func(t *testing.T) {
			a := sharedAPI(t)
			p := listGet(t, a, acc.Token, tc.raw)
			if p.Total != tc.wantTotal || len(p.Items) != tc.wantItems {
				t.Errorf("total = %d, %d items; want %d, %d", p.Total, len(p.Items), tc.wantTotal, tc.wantItems)
			}
		})
	}
}

// TestParseListQuery: the syntax of GET /todos parameters, without a
// request: unknown and repeated parameters and values not of their type
// are problems; values of the right type pass whatever their range (the
// ranges are the service's).
func TestParseListQuery(t *testing.T) {
	num := func(n int) *int { return &n }
	str := func(s string) *string { return &s }
	yes, no := true, false
	at := func(s string) *time.Time {
		d, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	const (
		mustLimit    = "must be an integer from 1 to 100"
		mustOffset   = "must be an integer of at least 0"
		mustBool     = "must be true or false"
		mustPriority = "must be an integer from 0 to 5"
		mustTime     = "must be an RFC 3339 date-time like 2026-12-31T17:00:00Z"
		unknown      = "is not a known parameter"
		once         = "must be given once"
	)
	bad := []struct {
		raw  string
		want []services.FieldError
	}{
		{"limit=abc", []services.FieldError{{Field: "limit", Message: mustLimit}}},
		{"limit=1.5", []services.FieldError{{Field: "limit", Message: mustLimit}}},
		{"limit=", []services.FieldError{{Field: "limit", Message: mustLimit}}},
		{"offset=abc", []services.FieldError{{Field: "offset", Message: mustOffset}}},
		{"offset=99999999999999999999999", []services.FieldError{{Field: "offset", Message: mustOffset}}},
		{"completed=maybe", []services.FieldError{{Field: "completed", Message: mustBool}}},
		{"completed=yes", []services.FieldError{{Field: "completed", Message: mustBool}}},
		{"completed=TRUE", []services.FieldError{{Field: "completed", Message: mustBool}}},
		{"completed=", []services.FieldError{{Field: "completed", Message: mustBool}}},
		{"min_priority=high", []services.FieldError{{Field: "min_priority", Message: mustPriority}}},
		{"due_before=yesterday", []services.FieldError{{Field: "due_before", Message: mustTime}}},
		{"due_before=2026-01-01", []services.FieldError{{Field: "due_before", Message: mustTime}}},
		{"due_after=2026-02-30T00:00:00Z", []services.FieldError{{Field: "due_after", Message: mustTime}}},
		{"due_after=2026-01-01T00:00:00", []services.FieldError{{Field: "due_after", Message: mustTime}}},
		{"foo=1", []services.FieldError{{Field: "foo", Message: unknown}}},
		{"Sort=title", []services.FieldError{{Field: "Sort", Message: unknown}}},
		{"page=2", []services.FieldError{{Field: "page", Message: unknown}}},
		{"limit=5&limit=6", []services.FieldError{{Field: "limit", Message: once}}},
		{"q=a&q=b", []services.FieldError{{Field: "q", Message: once}}},
		{"sort=title&sort=title", []services.FieldError{{Field: "sort", Message: once}}},
		{"%zz", []services.FieldError{{Field: "query", Message: "is not a valid URL query string"}}},
		{"q=a&q=b&limit=x&foo=1&completed=maybe", []services.FieldError{
			{Field: "completed", Message: mustBool}, {Field: "foo", Message: unknown}, {Field: "limit", Message: mustLimit}, {Field: "q", Message: once}}},
	}
	for _, tc := range bad {
		_, got := controllers.ParseListQuery(tc.raw)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: problems %+v, want %+v", tc.raw, got, tc.want)
		}
	}

	good := []struct {
		raw  string
		want services.ListQuery
	}{
		{"", services.ListQuery{}},
		{"limit=1", services.ListQuery{Limit: num(1)}},
		{"limit=100", services.ListQuery{Limit: num(100)}},
		{"offset=0", services.ListQuery{}},
		{"offset=5", services.ListQuery{Offset: 5}},
		{"min_priority=0", services.ListQuery{MinPriority: num(0)}},
		{"min_priority=5", services.ListQuery{MinPriority: num(5)}},
		{"completed=true", services.ListQuery{Completed: &yes}},
		{"completed=false", services.ListQuery{Completed: &no}},
		{"q=", services.ListQuery{}},
		{"q=" + strings.Repeat("x", 200), services.ListQuery{Q: strings.Repeat("x", 200)}},
		{"q=a+b%25_", services.ListQuery{Q: "a b%_"}},
		{"due_before=2026-01-01T00:00:00%2B02:00", services.ListQuery{DueBefore: at("2025-12-31T22:00:00Z")}},
		{"due_after=2026-01-01T00:00:00.123456789Z", services.ListQuery{DueAfter: at("2026-01-01T00:00:00.123456789Z")}},
		{"sort=-title&cursor=abc", services.ListQuery{Sort: str("-title"), Cursor: str("abc")}},
		// Of the right type, out of range: the service's rules refuse them.
		{"limit=101&offset=-1&min_priority=9&sort=nope&cursor=", services.ListQuery{Limit: num(101), Offset: -1, MinPriority: num(9), Sort: str("nope"), Cursor: str("")}},
		{"limit=0&sort=", services.ListQuery{Limit: num(0), Sort: str("")}},
		{"q=" + strings.Repeat("x", 201), services.ListQuery{Q: strings.Repeat("x", 201)}},
	}
	for _, tc := range good {
		got, problems := controllers.ParseListQuery(tc.raw)
		if len(problems) > 0 || !listSameQuery(got, tc.want) {
			t.Errorf("%s: %+v, problems %+v; want %+v", tc.raw, got, problems, tc.want)
		}
	}
}

// listSameQuery compares two parsed queries by value, times by instant.
func listSameQuery(a, b services.ListQuery) bool {
	same := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	sameStr := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	sameTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	sameBool := func(x, y *bool) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return sameBool(a.Completed, b.Completed) && same(a.MinPriority, b.MinPriority) && a.Q == b.Q &&
		sameTime(a.DueBefore, b.DueBefore) && sameTime(a.DueAfter, b.DueAfter) && sameStr(a.Sort, b.Sort) &&
		same(a.Limit, b.Limit) && a.Offset == b.Offset && sameStr(a.Cursor, b.Cursor)
}

// TestListDefaults checks the answer without parameters: limit 20,
// offset 0, newest first, and the shape of a page and of an empty list.
// That the default order's cursor serves sort=-created_at is in services
// (TestListDefaults).
func TestListDefaults(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	var all []todo
	for b := range 3 {
		var ins []listInput
		for i := range 9 {
			ins = append(ins, listInput{Title: fmt.Sprintf("batch%d item%d", b, i)})
		}
		all = append(all, listBatch(t, a, acc.Token, ins)...)
		time.Sleep(2 * time.Millisecond)
	}
	r := expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token}), http.StatusOK)
	m := r.JSON(t)
	for _, k := range []string{"items", "total", "limit", "offset", "next_cursor"} {
		if _, ok := m[k]; !ok {
			t.Errorf("response has no %q: %s", k, r.Body)
		}
	}
	var p todoPage
	r.Decode(t, &p)
	want := listExpected(all, "-created_at", nil)
	if p.Limit != 20 || p.Offset != 0 || p.Total != 27 {
		t.Errorf("limit, offset, total = %d, %d, %d; want 20, 0, 27", p.Limit, p.Offset, p.Total)
	}
	if p.NextCursor == nil {
		t.Error("next_cursor = null, want a cursor (27 rows, 20 shown)")
	}
	listCheckSequence(t, "-created_at", p.Items, want[:20])
	if !want[0].CreatedAt.After(want[len(want)-1].CreatedAt) {
		t.Errorf("batches share created_at %s; the default order test is weaker", want[0].CreatedAt)
	}

	empty := newAccount(t, a)
	r = expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: empty.Token}), http.StatusOK)
	m = r.JSON(t)
	if items, ok := m["items"].([]any); !ok || len(items) != 0 {
		t.Errorf("empty list: items = %#v, want []", m["items"])
	}
	if nc, ok := m["next_cursor"]; !ok || nc != nil {
		t.Errorf("empty list: next_cursor = %#v (present %t), want null", nc, ok)
	}
	if m["total"] != float64(0) || m["limit"] != float64(20) || m["offset"] != float64(0) {
		t.Errorf("empty list = %s, want total 0, limit 20, offset 0", r.Body)
	}
}

// TestListCursorEdgeValues: the longest cursor the service issues (after
// a 255-character title of control characters, each escaped to six bytes
// in it) goes out in next_cursor and back in the query string, page after
// page. Far due dates and the other titles JSON escapes are walked in
// services (TestListCursorEdgeValues).
func TestListCursorEdgeValues(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	var ins []listInput
	for range 4 {
		ins = append(ins, listInput{Title: strings.Repeat("\x01", 255)})
	}
	all := listBatch(t, a, acc.Token, ins)
	want := listExpected(all, "title", nil)
	got := listWalk(t, a, acc.Token, url.Values{}, "title", 1, true, want)
	listCheckSequence(t, "title", got, want)
}
