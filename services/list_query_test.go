package services

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/models"
)

// The cursor rules of a listing, where they live: which cursors CheckQuery
// accepts for which sort and filters. No HTTP and no database: a Todos
// without one signs and checks cursors all the same. The HTTP tests keep
// one cursor error, for the wiring; the walks that follow cursors through
// real rows stay there.

var listTestKey = []byte("list-query-test-key")

func listTestTodos() *Todos { return NewTodos(nil, listTestKey, time.Hour, nil) }

// issueCursor signs the cursor List would hand out after a row with this sort
// value and id under q.
func issueCursor(s *Todos, q ListQuery, value any, id int64) string {
	return s.cursors.encode(cursor{Sort: q.sort(), Filters: q.fingerprint(), Value: value, ID: id})
}

// signed signs any payload the way the codec does.
func signed(s *Todos, payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.cursors.sign(payload))
}

// flip changes the character at i to another base64url character.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestCheckQueryCursor(t *testing.T) {
	s := listTestTodos()
	str := func(v string) *string { return &v }
	num := func(n int) *int { return &n }
	yes := true
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	base := ListQuery{Sort: str("priority"), MinPriority: num(1), Limit: num(5)}
	good := issueCursor(s, base, int64(2), 40)
	other := issueCursor(s, ListQuery{Sort: str("title"), Limit: num(3)}, "itemc", 9)
	payload, sig, _ := strings.Cut(good, ".")
	otherPayload, otherSig, _ := strings.Cut(other, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"s":"priority","f":"x","v":0,"i":1}`)) + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	foreign := NewTodos(nil, []byte("another key"), time.Hour, nil)

	with := func(c string, mod ...func(*ListQuery)) ListQuery {
		q := base
		q.Cursor = &c
		for _, m := range mod {
			m(&q)
		}
		return q
	}
	const (
		invalid = "is not a valid cursor; start again without one"
		stale   = "was issued for another sort or other filters; start again without one"
	)
	tests := []struct {
		name string
		q    ListQuery
		want string // the cursor's message; "" when accepted
	}{
		{"genuine", with(good), ""},
		{"genuine, other limit", with(good, func(q *ListQuery) { q.Limit = num(50) }), ""},
		{"genuine, limit left to the default", with(good, func(q *ListQuery) { q.Limit = nil }), ""},
		{"flipped payload character", with(flip(good, len(payload)/2)), invalid},
		{"flipped first character", with(flip(good, 0)), invalid},
		{"flipped signature character", with(flip(good, len(payload)+1+len(sig)/2)), invalid},
		{"signature of another cursor", with(payload + "." + otherSig), invalid},
		{"payload of another cursor", with(otherPayload + "." + sig), invalid},
		{"truncated signature", with(good[:len(good)-4]), invalid},
		{"no signature", with(payload), invalid},
		{"empty signature", with(payload + "."), invalid},
		{"extra part", with(good + ".AAAA"), invalid},
		{"forged unsigned", with(forged), invalid},
		{"signed with another key", with(issueCursor(foreign, base, int64(2), 40)), invalid},
		{"garbage", with("garbage"), invalid},
		{"garbage with a dot", with("abc.def"), invalid},
		{"lone dot", with("."), invalid},
		{"not base64", with("!!!.###"), invalid},
		{"padded base64", with(base64.URLEncoding.EncodeToString([]byte(`{"s":"priority"}`)) + "." + sig), invalid},
		{"very long", with(strings.Repeat("A", 5000) + "." + sig), invalid},
		{"signed but not JSON", with(signed(s, []byte("not json"))), invalid},
		{"empty", with(""), "must not be empty"},
		{"with offset 5", with(good, func(q *ListQuery) { q.Offset = 5 }), "cannot be combined with offset"},
		{"with offset 1", with(good, func(q *ListQuery) { q.Offset = 1 }), "cannot be combined with offset"},
		{"other sort -priority", with(good, func(q *ListQuery) { q.Sort = str("-priority") }), stale},
		{"other sort title", with(good, func(q *ListQuery) { q.Sort = str("title") }), stale},
		{"default sort", with(good, func(q *ListQuery) { q.Sort = nil }), stale},
		{"a title cursor with sort=priority", with(other), stale},
		{"filter dropped", with(good, func(q *ListQuery) { q.MinPriority = nil }), stale},
		{"filter changed", with(good, func(q *ListQuery) { q.MinPriority = num(2) }), stale},
		{"filter added completed", with(good, func(q *ListQuery) { q.Completed = &yes }), stale},
		{"filter added q", with(good, func(q *ListQuery) { q.Q = "item" }), stale},
		{"filter added due_before", with(good, func(q *ListQuery) { q.DueBefore = &at }), stale},
		{"filter added due_after", with(good, func(q *ListQuery) { q.DueAfter = &at }), stale},
	}
	for _, tt := range tests {
		problems := s.CheckQuery(tt.q)
		var got string
		for _, p := range problems {
			if p.Field != "cursor" {
				t.Errorf("%s: unexpected problem %+v", tt.name, p)
				continue
			}
			got = p.Message
		}
		if got != tt.want || len(problems) > 1 {
			t.Errorf("%s: problems %+v, want cursor %q", tt.name, problems, tt.want)
		}
		if _, c := s.check(tt.q); (c != nil) != (tt.want == "") {
			t.Errorf("%s: check returned cursor %+v, want one only when accepted", tt.name, c)
		}
	}
}

// TestCheckQueryCursorValues: a correctly signed cursor whose value cannot
// be a position in the order it claims is refused, not compared.
func TestCheckQueryCursorValues(t *testing.T) {
	s := listTestTodos()
	tests := []struct {
		sort  string
		value any
		ok    bool
	}{
		{"created_at", int64(1798736400000000), true},
		{"-created_at", int64(-62135596800000000), true},
		{"created_at", nil, false},
		{"created_at", "2026-01-01T00:00:00Z", false},
		{"created_at", 1.5, false},
		{"priority", int64(3), true},
		{"-priority", nil, false},
		{"priority", "3", false},
		{"priority", true, false},
		{"due_date", int64(0), true},
		{"due_date", nil, true},
		{"-due_date", nil, true},
		{"due_date", "soon", false},
		{"title", "a title", true},
		{"-title", "", true},
		{"title", nil, false},
		{"title", int64(7), false},
	}
	for _, tt := range tests {
		q := ListQuery{Sort: &tt.sort}
		c := issueCursor(s, q, tt.value, 12)
		q.Cursor = &c
		problems := s.CheckQuery(q)
		if tt.ok != (len(problems) == 0) {
			t.Errorf("sort %s, value %#v: problems %+v, want accepted %v", tt.sort, tt.value, problems, tt.ok)
		}
	}
}

// TestCheckQueryCombined: the cursor is listed with the other problems; a
// cursor is not judged against a sort that is itself wrong.
func TestCheckQueryCombined(t *testing.T) {
	s := listTestTodos()
	str := func(v string) *string { return &v }
	zero := 0
	tests := []struct {
		name string
		q    ListQuery
		want []string
	}{
		{"bad limit and a garbage cursor", ListQuery{Limit: &zero, Cursor: str("garbage")}, []string{"limit", "cursor"}},
		{"unknown sort and a cursor of another sort", ListQuery{Sort: str("nope"), Cursor: str(issueCursor(s, ListQuery{}, int64(1), 1))}, []string{"sort"}},
		{"unknown sort and a garbage cursor", ListQuery{Sort: str("nope"), Cursor: str("garbage")}, []string{"sort", "cursor"}},
		{"empty cursor and offset", ListQuery{Cursor: str(""), Offset: 3}, []string{"cursor"}},
	}
	for _, tt := range tests {
		wantFields(t, tt.name, &ValidationError{Fields: s.CheckQuery(tt.q)}, tt.want)
	}
}

// TestFingerprint: a cursor's filters are told apart by value, and a time
// by its instant, whatever zone it was written in.
func TestFingerprint(t *testing.T) {
	yes, no := true, false
	one, two := 1, 2
	utc := time.Date(2026, 3, 5, 1, 0, 0, 0, time.UTC)
	plus2 := utc.In(time.FixedZone("+02:00", 2*3600))
	later := utc.Add(time.Microsecond)
	queries := map[string]ListQuery{
		"none":             {},
		"completed true":   {Completed: &yes},
		"completed false":  {Completed: &no},
		"min_priority 1":   {MinPriority: &one},
		"min_priority 2":   {MinPriority: &two},
		"q a":              {Q: "a"},
		"q A":              {Q: "A"},
		"due_before":       {DueBefore: &utc},
		"due_before later": {DueBefore: &later},
		"due_after":        {DueAfter: &utc},
	}
	seen := map[string]string{}
	for name, q := range queries {
		f := q.fingerprint()
		if prev, dup := seen[f]; dup {
			t.Errorf("%s and %s share the fingerprint %q", name, prev, f)
		}
		seen[f] = name
	}
	if a, b := (ListQuery{DueBefore: &utc}).fingerprint(), (ListQuery{DueBefore: &plus2}).fingerprint(); a != b {
		t.Errorf("the same instant in two zones: fingerprints %q and %q", a, b)
	}
	str := func(v string) *string { return &v }
	ten := 10
	if a, b := (ListQuery{}).fingerprint(), (ListQuery{Sort: str("title"), Limit: &ten, Offset: 3}).fingerprint(); a != b {
		t.Errorf("sort, limit and offset are not filters, yet change the fingerprint: %q, %q", a, b)
	}
}

// TestTodoInputNewTodo: what a valid create stores, before the database
// sees it: the title trimmed, the rest as given, a due date in UTC to the
// microsecond.
func TestTodoInputNewTodo(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	due := time.Date(2026, 12, 31, 19, 30, 0, 123456789, time.FixedZone("+02:30", 9000))
	tests := []struct {
		name string
		in   TodoInput
		want models.Todo
	}{
		{"defaults", TodoInput{Title: Some("t")}, models.Todo{Title: "t"}},
		{"title trimmed", TodoInput{Title: Some("  padded title \t")}, models.Todo{Title: "padded title"}},
		{"title trimmed of newlines", TodoInput{Title: Some("\r\n\tpadded\n")}, models.Todo{Title: "padded"}},
		{"inner spaces kept", TodoInput{Title: Some("a  b")}, models.Todo{Title: "a  b"}},
		{"description null", TodoInput{Title: Some("d"), Description: null[string]()}, models.Todo{Title: "d"}},
		{"description kept as sent", TodoInput{Title: Some("d"), Description: Some(" line 1\nline 2 ")}, models.Todo{Title: "d", Description: ptrTo(" line 1\nline 2 ")}},
		{"description empty", TodoInput{Title: Some("d"), Description: Some("")}, models.Todo{Title: "d", Description: ptrTo("")}},
		{"due_date null", TodoInput{Title: Some("d"), DueDate: null[time.Time]()}, models.Todo{Title: "d"}},
		{"due_date with a negative offset", TodoInput{Title: Some("d"), DueDate: Some(time.Date(2026, 12, 31, 12, 0, 0, 0, time.FixedZone("-05:00", -5*3600)))},
			models.Todo{Title: "d", DueDate: ptrTo(time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC))}},
		{"all fields", TodoInput{Title: Some(" All "), Description: Some("desc"), Completed: Some(true), Priority: Some(5), DueDate: Some(due)},
			models.Todo{Title: "All", Description: ptrTo("desc"), Completed: true, Priority: 5, DueDate: ptrTo(time.Date(2026, 12, 31, 17, 0, 0, 123456000, time.UTC))}},
	}
	for _, tt := range tests {
		got := tt.in.newTodo(7, now)
		want := tt.want
		want.UserID, want.CreatedAt, want.UpdatedAt = 7, now, now
		sameStr := (got.Description == nil) == (want.Description == nil) && (got.Description == nil || *got.Description == *want.Description)
		sameDue := (got.DueDate == nil) == (want.DueDate == nil) && (got.DueDate == nil || (got.DueDate.Equal(*want.DueDate) && got.DueDate.Location() == time.UTC))
		if got.UserID != want.UserID || got.Title != want.Title || !sameStr || got.Completed != want.Completed ||
			got.Priority != want.Priority || !sameDue || !got.CreatedAt.Equal(now) || !got.UpdatedAt.Equal(now) {
			t.Errorf("%s: newTodo = %+v (description %v, due %v), want %+v (description %v, due %v)",
				tt.name, got, got.Description, got.DueDate, want, want.Description, want.DueDate)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
