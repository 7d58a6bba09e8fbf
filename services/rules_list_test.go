package services

// The listing rules where they live, over real rows: the order of every
// sort key with its tie-break by id and its NULLs, pages by offset and by
// cursor that neither skip nor repeat a row, every filter, the q= search as
// a literal substring, the defaults, and that a user only ever sees their
// own todos. The expected answers are computed in Go from what the test
// created. The HTTP tests (controllers/todos_list_test.go) keep one walk,
// one search and one cursor of each kind, for the wiring.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/listorder"
	"github.com/todo-api/todo-api/models"
)

// walkSortKeys are the sort values the contract (apidocs/openapi.yaml)
// accepts.
var walkSortKeys = []string{"created_at", "-created_at", "priority", "-priority", "due_date", "-due_date", "title", "-title"}

// walkService is a Todos whose clock the test moves: the rows of one batch
// share created_at, those of the next batch are later.
func walkService() (*Todos, func(time.Duration)) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	s := NewTodos(db, []byte("rules-list-test-key"), time.Hour, func() time.Time { return at })
	return s, func(d time.Duration) { at = at.Add(d) }
}

// walkBatch creates items in one batch and returns the rows as created.
func walkBatch(t testing.TB, s *Todos, c Caller, items []TodoInput) []models.Todo {
	t.Helper()
	var out []models.Todo
	for start := 0; start < len(items); start += MaxBatchItems {
		rows, err := createBatch(context.Background(), s, c, items[start:min(start+MaxBatchItems, len(items))])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

// walkSeed creates n varied todos in batches (created_at ties within a
// batch, later from one batch to the next): ~40% completed, priorities
// 0-5, about half without a due date and the rest on 8 shared instants
// (some written at +02:00, some with microseconds), titles from 24 values
// of lower-case ASCII letters only (which every collation orders the same
// way), descriptions null or one of a few phrases in mixed case.
func walkSeed(t testing.TB, s *Todos, tick func(time.Duration), c Caller, n, batches int) []models.Todo {
	t.Helper()
	rng := rand.New(rand.NewPCG(20261126, 42))
	heads := []string{"alpha", "alphabet", "bravo", "charlie", "delta", "echo"}
	tails := []string{"", "tango", "zulu", "x"}
	descs := []string{"Kiwi smoothie", "MANGO lassi", "papaya", "Alpha team review", "ping the echo server"}
	base := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	plus2 := time.FixedZone("+02:00", 2*3600)
	var all []models.Todo
	per := (n + batches - 1) / batches
	for len(all) < n {
		items := make([]TodoInput, min(per, n-len(all)))
		for i := range items {
			in := TodoInput{
				Title:     Some(heads[rng.IntN(len(heads))] + tails[rng.IntN(len(tails))]),
				Completed: Some(rng.IntN(10) < 4),
				Priority:  Some(rng.IntN(6)),
			}
			if rng.IntN(3) > 0 {
				in.Description = Some(descs[rng.IntN(len(descs))])
			}
			if rng.IntN(2) == 0 {
				k := rng.IntN(8)
				d := base.AddDate(0, 0, k)
				if k%3 == 1 {
					d = d.Add(time.Duration(k*123457) * time.Microsecond)
				}
				if rng.IntN(2) == 0 {
					d = d.In(plus2)
				}
				in.DueDate = Some(d)
			}
			items[i] = in
		}
		all = append(all, walkBatch(t, s, c, items)...)
		tick(time.Millisecond)
	}
	return all
}

// walkCompare orders a before b (<0) under the sort key (see
// listorder.Compare).
func walkCompare(key string, a, b models.Todo) int {
	return listorder.Compare(key, walkRow(a), walkRow(b))
}

func walkRow(t models.Todo) listorder.Row {
	return listorder.Row{ID: t.ID, UserID: t.UserID, CreatedAt: t.CreatedAt, Priority: int(t.Priority), Title: t.Title, DueDate: t.DueDate, Description: t.Description, Completed: t.Completed}
}

// walkExpected returns the rows matching match, in the order of key.
func walkExpected(all []models.Todo, key string, match func(models.Todo) bool) []models.Todo {
	var out []models.Todo
	for _, td := range all {
		if match == nil || match(td) {
			out = append(out, td)
		}
	}
	slices.SortFunc(out, func(a, b models.Todo) int { return walkCompare(key, a, b) })
	return out
}

// walkContains is the contract's q=: a case-insensitive substring of the
// title or the description.
func walkContains(td models.Todo, q string) bool {
	q = strings.ToLower(q)
	return strings.Contains(strings.ToLower(td.Title), q) || (td.Description != nil && strings.Contains(strings.ToLower(*td.Description), q))
}

// walkList lists one page and fails the test on an error.
func walkList(t testing.TB, s *Todos, c Caller, q ListQuery) Page {
	t.Helper()
	p, err := s.List(context.Background(), c, q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	return p
}

// walk reads every page of the filters in base, sorted by key (the default
// order if key is ""), limit rows a page, by offset or by following
// NextCursor, checking each page; it returns the rows in the order read.
// want is the expected sequence: it gives the total and where the last
// page is.
func walk(t *testing.T, s *Todos, c Caller, base ListQuery, key string, limit int, byCursor bool, want []models.Todo) []models.Todo {
	t.Helper()
	return listorder.Walk(t, limit, byCursor, len(want), func(page, offset int, cursor string) (listorder.Page[models.Todo], string, bool) {
		q := base
		if key != "" {
			q.Sort = &key
		}
		q.Limit = &limit
		if byCursor && cursor != "" {
			q.Cursor = &cursor
		}
		if !byCursor {
			q.Offset = offset
		}
		where := fmt.Sprintf("page %d (sort %q, limit %d, offset %d, cursor of %d characters)", page, key, limit, offset, len(cursor))
		p, err := s.List(context.Background(), c, q)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return listorder.Page[models.Todo]{}, where, false
		}
		return listorder.Page[models.Todo]{Items: p.Items, Total: p.Total, Limit: p.Limit, Offset: p.Offset, NextCursor: p.NextCursor}, where, true
	})
}

// walkCheck is listorder.Check of models.Todo rows; an empty key is the
// default order.
func walkCheck(t *testing.T, key string, got, want []models.Todo) {
	t.Helper()
	listorder.Check(t, cmp.Or(key, DefaultSort), got, want, walkRow)
}

// TestListWalks walks a few hundred rows page by page, by offset and by
// cursor, under every sort key and the default order, with each filter
// and several together, next to another user's rows that match them all.
func TestListWalks(t *testing.T) {
	s, tick := walkService()
	owner, other := callerOf(newUser(t)), callerOf(newUser(t))
	const n = 260 // 20 pages of 13
	all := walkSeed(t, s, tick, owner, n, 3)
	walkSeed(t, s, tick, other, 40, 1)

	at := func(v string) time.Time {
		d, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	yes, no := true, false
	two, three, four := 2, 3, 4
	after, before := at("2026-03-03T00:00:00Z"), at("2026-03-07T00:00:00Z")
	before2 := at("2026-03-05T01:00:00+02:00")
	after6, after2 := at("2026-03-06T00:00:00Z"), at("2026-03-02T00:00:00Z")
	cases := []struct {
		name  string
		query ListQuery
		limit int
		match func(models.Todo) bool
	}{
		{"none", ListQuery{}, 13, nil},
		{"completed=true", ListQuery{Completed: &yes}, 11, func(td models.Todo) bool { return td.Completed }},
		{"completed=false", ListQuery{Completed: &no}, 13, func(td models.Todo) bool { return !td.Completed }},
		{"min_priority=3", ListQuery{MinPriority: &three}, 13, func(td models.Todo) bool { return td.Priority >= 3 }},
		{"q=alpha", ListQuery{Q: "alpha"}, 11, func(td models.Todo) bool { return walkContains(td, "alpha") }},
		{"q=NGO", ListQuery{Q: "NGO"}, 13, func(td models.Todo) bool { return walkContains(td, "ngo") }},
		{"due_after+due_before", ListQuery{DueAfter: &after, DueBefore: &before}, 7, func(td models.Todo) bool {
			return td.DueDate != nil && td.DueDate.After(after) && td.DueDate.Before(before)
		}},
		{"due_before+02:00", ListQuery{DueBefore: &before2}, 11, func(td models.Todo) bool {
			return td.DueDate != nil && td.DueDate.Before(before2)
		}},
		{"due_after", ListQuery{DueAfter: &after6}, 13, func(td models.Todo) bool {
			return td.DueDate != nil && td.DueDate.After(after6)
		}},
		{"completed=false&min_priority=2&q=A&due_after", ListQuery{Completed: &no, MinPriority: &two, Q: "A", DueAfter: &after2}, 7, func(td models.Todo) bool {
			return !td.Completed && td.Priority >= 2 && walkContains(td, "a") && td.DueDate != nil && td.DueDate.After(after2)
		}},
		{"few rows, limit 2", ListQuery{Q: "kiwi", Completed: &yes, MinPriority: &four}, 2, func(td models.Todo) bool {
			return walkContains(td, "kiwi") && td.Completed && td.Priority >= 4
		}},
		{"no match", ListQuery{Q: "no such text"}, 7, func(models.Todo) bool { return false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The data is only read from here on.
			t.Parallel()
			keys := walkSortKeys
			if tc.name == "none" {
				keys = append([]string{""}, keys...) // "" is the default order
			}
			for _, key := range keys {
				orderKey := cmp.Or(key, DefaultSort)
				want := walkExpected(all, orderKey, tc.match)
				if tc.name == "none" && len(want) != n {
					t.Fatalf("expected %d rows, computed %d", n, len(want))
				}
				t.Run(cmp.Or(key, "default"), func(t *testing.T) {
					for _, mode := range []string{"offset", "cursor"} {
						t.Run(mode, func(t *testing.T) {
							got := walk(t, s, owner, tc.query, key, tc.limit, mode == "cursor", want)
							walkCheck(t, orderKey, got, want)
						})
					}
				})
			}
		})
	}

	// The limit may change from one cursor page to the next.
	t.Run("cursor with changing limit", func(t *testing.T) {
		want := walkExpected(all, "priority", nil)
		var got []models.Todo
		var cursor *string
		for i, limits := 0, []int{1, 7, 100, 13, 5}; ; i++ {
			if i > n {
				t.Fatal("walk does not end")
			}
			limit := limits[i%len(limits)]
			p := walkList(t, s, owner, ListQuery{Sort: new("priority"), Limit: &limit, Cursor: cursor})
			if p.Total != n {
				t.Errorf("total = %d, want %d", p.Total, n)
			}
			got = append(got, p.Items...)
			if p.NextCursor == nil {
				break
			}
			cursor = p.NextCursor
		}
		walkCheck(t, "priority", got, want)
	})

	// A cursor from an offset page continues right after that page.
	t.Run("cursor from an offset page", func(t *testing.T) {
		limit := 13
		for _, key := range []string{"title", "-due_date"} {
			want := walkExpected(all, key, nil)
			p := walkList(t, s, owner, ListQuery{Sort: &key, Limit: &limit, Offset: 26})
			if p.NextCursor == nil {
				t.Fatalf("sort=%s offset=26: no next cursor", key)
			}
			next := walkList(t, s, owner, ListQuery{Sort: &key, Limit: &limit, Cursor: p.NextCursor})
			walkCheck(t, key, append(p.Items, next.Items...), want[26:52])
		}
	})
}

// TestListDefaults: without parameters a listing is 20 rows from offset 0,
// newest first (ties by id, newest first), with a cursor that serves the
// same order asked for by name.
func TestListDefaults(t *testing.T) {
	s, tick := walkService()
	c := callerOf(newUser(t))
	var all []models.Todo
	for b := range 3 {
		var items []TodoInput
		for i := range 9 {
			items = append(items, TodoInput{Title: Some(fmt.Sprintf("batch%d item%d", b, i))})
		}
		all = append(all, walkBatch(t, s, c, items)...)
		tick(2 * time.Millisecond)
	}
	p := walkList(t, s, c, ListQuery{})
	want := walkExpected(all, DefaultSort, nil)
	if DefaultSort != "-created_at" || DefaultLimit != 20 {
		t.Errorf("DefaultSort, DefaultLimit = %q, %d; the contract says -created_at, 20", DefaultSort, DefaultLimit)
	}
	if p.Limit != 20 || p.Offset != 0 || p.Total != 27 {
		t.Errorf("limit, offset, total = %d, %d, %d; want 20, 0, 27", p.Limit, p.Offset, p.Total)
	}
	if p.NextCursor == nil {
		t.Fatal("no next cursor (27 rows, 20 shown)")
	}
	walkCheck(t, DefaultSort, p.Items, want[:20])
	next := walkList(t, s, c, ListQuery{Sort: new("-created_at"), Cursor: p.NextCursor})
	walkCheck(t, DefaultSort, append(p.Items, next.Items...), want)

	empty := walkList(t, s, callerOf(newUser(t)), ListQuery{})
	if len(empty.Items) != 0 || empty.NextCursor != nil || empty.Total != 0 || empty.Limit != 20 || empty.Offset != 0 {
		t.Errorf("empty list = %+v, want no items, no cursor, total 0, limit 20, offset 0", empty)
	}
}

// TestListFilterEdges: values at the edges of the filters filter as they
// say: an offset past the end is an empty page with the total, and the
// highest min_priority and a limit of 1 narrow as asked.
func TestListFilterEdges(t *testing.T) {
	s, _ := walkService()
	c := callerOf(newUser(t))
	walkBatch(t, s, c, []TodoInput{{Title: Some("one")}, {Title: Some("two"), Priority: Some(5), Completed: Some(true)}})
	no := false
	one, five := 1, 5
	for _, tc := range []struct {
		name      string
		q         ListQuery
		wantTotal int64
		wantItems int
	}{
		{"offset past the end", ListQuery{Offset: 5}, 2, 0},
		{"min_priority=5", ListQuery{MinPriority: &five}, 1, 1},
		{"completed=false&limit=1", ListQuery{Completed: &no, Limit: &one}, 1, 1},
	} {
		p := walkList(t, s, c, tc.q)
		if p.Total != tc.wantTotal || len(p.Items) != tc.wantItems || p.NextCursor != nil {
			t.Errorf("%s: total = %d, %d items, cursor %v; want %d, %d, none", tc.name, p.Total, len(p.Items), p.NextCursor != nil, tc.wantTotal, tc.wantItems)
		}
	}
}

// TestListOwnerIsolation: lists and totals only ever count the caller's
// todos, whatever the filters, and another user's cursor reveals nothing.
func TestListOwnerIsolation(t *testing.T) {
	s, _ := walkService()
	alice, bob, carol := callerOf(newUser(t)), callerOf(newUser(t)), callerOf(newUser(t))
	seed := func(c Caller, n int) []models.Todo {
		var items []TodoInput
		for i := range n {
			items = append(items, TodoInput{Title: Some(fmt.Sprintf("shared title %02d", i%7)), Description: Some("shared"), Priority: Some(i % 6),
				Completed: Some(i%2 == 0), DueDate: Some(time.Date(2026, 5, 1+i%5, 0, 0, 0, 0, time.UTC))})
		}
		return walkBatch(t, s, c, items)
	}
	mine := map[int64][]models.Todo{alice.ID: seed(alice, 23), bob.ID: seed(bob, 31), carol.ID: nil}
	yes, four := true, 4
	dueAfter := time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC)
	queries := []struct {
		name  string
		q     ListQuery
		key   string
		match func(models.Todo) bool
	}{
		{"none", ListQuery{}, "", nil},
		{"q=shared", ListQuery{Q: "shared"}, "", nil},
		{"completed=true", ListQuery{Completed: &yes}, "", func(td models.Todo) bool { return td.Completed }},
		{"min_priority=4 sort=title", ListQuery{MinPriority: &four}, "title", func(td models.Todo) bool { return td.Priority >= 4 }},
		{"due_after sort=-due_date", ListQuery{DueAfter: &dueAfter}, "-due_date", func(td models.Todo) bool { return td.DueDate.After(dueAfter) }},
	}
	for i, c := range []Caller{alice, bob, carol} {
		for _, q := range queries {
			t.Run(fmt.Sprintf("user %d %s", i, q.name), func(t *testing.T) {
				orderKey := cmp.Or(q.key, DefaultSort)
				want := walkExpected(mine[c.ID], orderKey, q.match)
				for _, byCursor := range []bool{false, true} {
					got := walk(t, s, c, q.q, q.key, 10, byCursor, want)
					walkCheck(t, orderKey, got, want)
				}
			})
		}
	}

	// Bob's cursor, used by Alice, shows Alice's rows or is refused.
	three, hundred := 3, 100
	p := walkList(t, s, bob, ListQuery{Sort: new("title"), Limit: &three})
	if p.NextCursor == nil {
		t.Fatal("bob's first page has no next cursor")
	}
	ap, err := s.List(context.Background(), alice, ListQuery{Sort: new("title"), Limit: &hundred, Cursor: p.NextCursor})
	var qe *QueryError
	switch {
	case err == nil:
		ids := map[int64]bool{}
		for _, td := range mine[alice.ID] {
			ids[td.ID] = true
		}
		for _, it := range ap.Items {
			if !ids[it.ID] {
				t.Errorf("alice, using bob's cursor, sees todo %d (%q), not hers", it.ID, it.Title)
			}
		}
		if ap.Total != int64(len(mine[alice.ID])) {
			t.Errorf("alice, using bob's cursor: total = %d, want %d", ap.Total, len(mine[alice.ID]))
		}
	case !errors.As(err, &qe):
		t.Errorf("alice using bob's cursor: %v, want her rows or a *QueryError", err)
	}
}

// TestListCursorEdgeValues walks by cursor over rows whose sort values are
// at the edges of what the service accepts: due dates far from 1970 with
// microseconds (more than 2^53 µs away, which a float64 cannot hold), and
// the longest titles made of characters JSON escapes (so the cursor that
// carries them is long). Every row must be read exactly once.
func TestListCursorEdgeValues(t *testing.T) {
	s, _ := walkService()
	t.Run("far due dates", func(t *testing.T) {
		c := callerOf(newUser(t))
		var items []TodoInput
		for _, v := range []string{
			"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z",
			"9999-12-31T23:59:59.999998Z", "9999-12-31T23:59:59.999998Z",
			"2300-01-01T00:00:00.000001Z", "2300-01-01T00:00:00.000001Z", "2300-01-01T00:00:00.000001Z",
			"2026-06-01T00:00:00Z", "", "",
			"1600-01-01T00:00:00.000003Z", "1600-01-01T00:00:00.000003Z",
			"0001-01-01T00:00:00.000001Z", "0001-01-01T00:00:00.000001Z",
		} {
			in := TodoInput{Title: Some("far")}
			if v != "" {
				d, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					t.Fatal(err)
				}
				in.DueDate = Some(d)
			}
			items = append(items, in)
		}
		all := walkBatch(t, s, c, items)
		for _, key := range []string{"due_date", "-due_date"} {
			for _, limit := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s limit %d", key, limit), func(t *testing.T) {
					want := walkExpected(all, key, nil)
					walkCheck(t, key, walk(t, s, c, ListQuery{}, key, limit, true, want), want)
				})
			}
		}
	})
	// One character per user, so that any collation orders the titles by
	// id alone.
	for _, ch := range []struct{ name, char string }{
		{"less-than", "<"},
		{"ampersand", "&"},
		{"control character", "\x01"},
		{"astral", "\U0001F600"},
	} {
		t.Run("255 times "+ch.name, func(t *testing.T) {
			c := callerOf(newUser(t))
			var items []TodoInput
			for range 4 {
				items = append(items, TodoInput{Title: Some(strings.Repeat(ch.char, MaxTitleLength))})
			}
			all := walkBatch(t, s, c, items)
			for _, key := range []string{"title", "-title"} {
				t.Run(key, func(t *testing.T) {
					want := walkExpected(all, key, nil)
					walkCheck(t, key, walk(t, s, c, ListQuery{}, key, 1, true, want), want)
				})
			}
		})
	}
}

// TestListSearchIsLiteral: q is a case-insensitive substring of title or
// description, where %, _ and \ mean themselves and SQL-looking or
// regex-looking text is just text; another user's rows with the same
// texts never show. (TestSearchMatchesILIKE checks q against a reference
// query; this table pins the answers by hand.)
func TestListSearchIsLiteral(t *testing.T) {
	s, _ := walkService()
	owner, other := callerOf(newUser(t)), callerOf(newUser(t))
	items := []TodoInput{
		{Title: Some("100% done")},
		{Title: Some("100 percent done")},
		{Title: Some("discount 50%")},
		{Title: Some("under_score")},
		{Title: Some("underscore")},
		{Title: Some(`back\slash`)},
		{Title: Some("backslash")},
		{Title: Some(`odd \% mix`)},
		{Title: Some("it's fine")},
		{Title: Some("plain"), Description: Some("has 100% in the description")},
		{Title: Some("sqlish"), Description: Some("' OR 1=1 --")},
		{Title: Some("Mixed CASE Title")},
		{Title: Some("École d'été")},
		{Title: Some("wild%card_both")},
		{Title: Some("nothing special"), Description: Some("")},
	}
	created := walkBatch(t, s, owner, items)
	walkBatch(t, s, other, items)

	hundred := 100
	for _, tc := range []struct {
		q    string
		want []string // titles
	}{
		{"%", []string{"100% done", "discount 50%", `odd \% mix`, "plain", "wild%card_both"}},
		{"100%", []string{"100% done", "plain"}},
		{"0%", []string{"100% done", "discount 50%", "plain"}},
		{"%%", nil},
		{"1%d", nil},
		{"_", []string{"under_score", "wild%card_both"}},
		{"r_s", []string{"under_score"}},
		{"10_", nil},
		{"w_ld", nil},
		{"wild_card", nil},
		{"wild%card", []string{"wild%card_both"}},
		{`\`, []string{`back\slash`, `odd \% mix`}},
		{`\%`, []string{`odd \% mix`}},
		{`\\`, nil},
		{`k\s`, []string{`back\slash`}},
		{"' OR 1=1 --", []string{"sqlish"}},
		{"' OR '1'='1", nil},
		{"%' OR 1=1 --", nil},
		{"'; DROP TABLE todos; --", nil},
		{"'", []string{"it's fine", "sqlish", "École d'été"}},
		{"mixed case", []string{"Mixed CASE Title"}},
		{"MIXED CASE TITLE", []string{"Mixed CASE Title"}},
		{"DESCRIPTION", []string{"plain"}},
		{"100", []string{"100% done", "100 percent done", "plain"}},
		{"ÉCOLE", []string{"École d'été"}},
		{"ÉTÉ", []string{"École d'été"}},
		{".*", nil},
		{"[a-z]", nil},
	} {
		p := walkList(t, s, owner, ListQuery{Q: tc.q, Limit: &hundred, Sort: new("title")})
		var got []string
		for _, it := range p.Items {
			if it.UserID != owner.ID {
				t.Errorf("q=%q: another user's todo %d", tc.q, it.ID)
			}
			got = append(got, it.Title)
		}
		want := slices.Clone(tc.want)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("q=%q: titles %q, want %q", tc.q, got, want)
		}
		if p.Total != int64(len(tc.want)) {
			t.Errorf("q=%q: total = %d, want %d", tc.q, p.Total, len(tc.want))
		}
		// The hand-written answer agrees with the contract's rule.
		var rule []string
		for _, td := range created {
			if walkContains(td, tc.q) {
				rule = append(rule, td.Title)
			}
		}
		slices.Sort(rule)
		if !slices.Equal(rule, want) {
			t.Errorf("q=%q: the test table is wrong: the substring rule gives %q", tc.q, rule)
		}
	}
}
