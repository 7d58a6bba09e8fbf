package services

// What the todo writes store, over the real database: a create answers
// the row as stored (defaults, normalisation, the longest values, a due
// date finer than PostgreSQL keeps), a patch changes what it names and
// nothing else, a batch keeps the request's order, and SQL-shaped text is
// data. The input rules themselves are tabled in input_test.go; the HTTP
// tests (controllers/validation_test.go) keep one case of each for the
// wiring and the JSON.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/listorder"
	"github.com/todo-api/todo-api/models"
)

// sameTodo reports whether two rows are equal column by column (times by
// instant).
func sameTodo(a, b models.Todo) bool {
	sameStr := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	sameTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.ID == b.ID && a.UserID == b.UserID && a.Title == b.Title && sameStr(a.Description, b.Description) &&
		a.Completed == b.Completed && a.Priority == b.Priority && sameTime(a.DueDate, b.DueDate) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func mustTime(t testing.TB, v string) time.Time {
	t.Helper()
	d, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCreateStoresWhatItAnswers: Create answers the row as a later Get
// reads it, with the defaults and normalisation the contract states.
func TestCreateStoresWhatItAnswers(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	c := callerOf(newUser(t))
	title, desc := strings.Repeat("😀", MaxTitleLength), strings.Repeat("😀", MaxDescriptionLength)
	tests := []struct {
		name string
		in   TodoInput
		want models.Todo // the client-set columns
	}{
		{"defaults", TodoInput{Title: Some("d")}, models.Todo{Title: "d"}},
		{"description and due_date null", TodoInput{Title: Some("n"), Description: null[string](), DueDate: null[time.Time]()}, models.Todo{Title: "n"}},
		{"all fields, normalised", TodoInput{Title: Some(" \tAll  fields\n"), Description: Some("line 1\nline 2"), Completed: Some(true), Priority: Some(5),
			DueDate: Some(mustTime(t, "2026-12-31T19:30:00.123456+02:30"))},
			models.Todo{Title: "All  fields", Description: ptrTo("line 1\nline 2"), Completed: true, Priority: 5, DueDate: ptrTo(mustTime(t, "2026-12-31T17:00:00.123456Z"))}},
		{"longest title and description, four-byte characters", TodoInput{Title: Some(title), Description: Some(desc)}, models.Todo{Title: title, Description: &desc}},
		// Finer than PostgreSQL's microsecond: the answer must not carry
		// more precision than was stored.
		{"due_date in nanoseconds", TodoInput{Title: Some("precise"), DueDate: Some(mustTime(t, "2026-12-31T17:00:00.1234567Z"))},
			models.Todo{Title: "precise", DueDate: ptrTo(mustTime(t, "2026-12-31T17:00:00.123456Z"))}},
	}
	for _, tt := range tests {
		created, err := createOne(ctx, s, c, tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		want := tt.want
		want.ID, want.UserID, want.CreatedAt, want.UpdatedAt = created.ID, c.ID, created.CreatedAt, created.UpdatedAt
		if !sameTodo(created, want) {
			t.Errorf("%s: Create = %+v, want %+v", tt.name, created, want)
		}
		if created.DueDate != nil && created.DueDate.Location() != time.UTC {
			t.Errorf("%s: due_date in %s, want UTC", tt.name, created.DueDate.Location())
		}
		stored, err := s.Get(ctx, c, created.ID)
		if err != nil || !sameTodo(stored, created) {
			t.Errorf("%s: Get = %+v, %v; want the created row %+v", tt.name, stored, err, created)
		}
	}
	// A batch answers its rows as stored, too.
	rows, err := createBatch(ctx, s, c, []TodoInput{{Title: Some("precise"), DueDate: Some(mustTime(t, "2026-12-31T17:00:00.1234567Z"))}})
	if err != nil || len(rows) != 1 {
		t.Fatalf("CreateBatch = %+v, %v", rows, err)
	}
	if stored, err := s.Get(ctx, c, rows[0].ID); err != nil || !sameTodo(stored, rows[0]) {
		t.Errorf("batch answered %+v, Get reads %+v (%v)", rows[0], stored, err)
	}
}

// TestUpdatePatch: a patch changes the fields it sets, Null clears
// description and due_date, the rest stays; every write moves updated_at
// on and never created_at; a refused patch changes nothing.
func TestUpdatePatch(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	c := callerOf(newUser(t))
	seed := TodoInput{Title: Some("original"), Description: Some("original description"), Completed: Some(false), Priority: Some(2), DueDate: Some(mustTime(t, "2027-01-01T00:00:00Z"))}
	tests := []struct {
		name   string
		in     TodoInput
		fields []string              // the refused fields; nil: applied
		change func(td *models.Todo) // what the patch changes in the row
	}{
		{"nothing", TodoInput{}, nil, func(*models.Todo) {}},
		{"title only, trimmed", TodoInput{Title: Some("  renamed  ")}, nil, func(td *models.Todo) { td.Title = "renamed" }},
		{"priority only", TodoInput{Priority: Some(5)}, nil, func(td *models.Todo) { td.Priority = 5 }},
		{"priority 0", TodoInput{Priority: Some(0)}, nil, func(td *models.Todo) { td.Priority = 0 }},
		{"completed only", TodoInput{Completed: Some(true)}, nil, func(td *models.Todo) { td.Completed = true }},
		{"description only", TodoInput{Description: Some("new")}, nil, func(td *models.Todo) { td.Description = ptrTo("new") }},
		{"description null clears it", TodoInput{Description: null[string]()}, nil, func(td *models.Todo) { td.Description = nil }},
		{"due_date only, to UTC", TodoInput{DueDate: Some(mustTime(t, "2028-02-29T12:00:00+01:00"))}, nil,
			func(td *models.Todo) { td.DueDate = ptrTo(mustTime(t, "2028-02-29T11:00:00Z")) }},
		{"due_date null clears it", TodoInput{DueDate: null[time.Time]()}, nil, func(td *models.Todo) { td.DueDate = nil }},
		{"two fields", TodoInput{Completed: Some(true), Priority: Some(4)}, nil, func(td *models.Todo) { td.Completed, td.Priority = true, 4 }},
		{"good and bad field together", TodoInput{Title: Some("fine"), Priority: Some(9)}, []string{"priority"}, nil},
	}
	for _, tt := range tests {
		before, err := createOne(ctx, s, c, seed)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Update(ctx, c, before.ID, tt.in, nil)
		if tt.fields != nil {
			var v *ValidationError
			if !errors.As(err, &v) {
				t.Errorf("%s: err = %v, want a *ValidationError", tt.name, err)
			} else {
				wantFields(t, tt.name, v, tt.fields)
			}
			if after, err := s.Get(ctx, c, before.ID); err != nil || !sameTodo(after, before) {
				t.Errorf("%s: after a refused patch %+v (%v), want unchanged %+v", tt.name, after, err, before)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		want := before
		tt.change(&want)
		want.UpdatedAt = got.UpdatedAt
		if !sameTodo(got, want) {
			t.Errorf("%s: Update = %+v, want %+v", tt.name, got, want)
		}
		if !got.UpdatedAt.After(before.UpdatedAt) {
			t.Errorf("%s: updated_at = %v, want after %v", tt.name, got.UpdatedAt, before.UpdatedAt)
		}
		if stored, err := s.Get(ctx, c, before.ID); err != nil || !sameTodo(stored, got) {
			t.Errorf("%s: Get = %+v (%v), want the patched row %+v", tt.name, stored, err, got)
		}
	}
}

// TestCreateBatchKeepsOrder: the most items a batch holds are stored and
// answered in the request's order, each its own row, as stored.
func TestCreateBatchKeepsOrder(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	c := callerOf(newUser(t))
	items := make([]TodoInput, MaxBatchItems)
	for i := range items {
		items[i] = TodoInput{Title: Some(fmt.Sprintf(" batch %04d ", i)), Priority: Some(i % 6), Completed: Some(i%2 == 1)}
	}
	rows, err := createBatch(ctx, s, c, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != MaxBatchItems {
		t.Fatalf("rows = %d, want %d", len(rows), MaxBatchItems)
	}
	ids := map[int64]bool{}
	for i, td := range rows {
		if want := fmt.Sprintf("batch %04d", i); td.Title != want || int(td.Priority) != i%6 || td.Completed != (i%2 == 1) {
			t.Fatalf("rows[%d] = %q priority %d completed %v, want %q priority %d completed %v", i, td.Title, td.Priority, td.Completed, want, i%6, i%2 == 1)
		}
		if td.ID <= 0 || ids[td.ID] {
			t.Fatalf("rows[%d].id = %d: missing or repeated", i, td.ID)
		}
		ids[td.ID] = true
	}
	var n int64
	db.Model(&models.Todo{}).Where("user_id = ?", c.ID).Count(&n)
	if n != MaxBatchItems {
		t.Errorf("the user has %d todos, want %d", n, MaxBatchItems)
	}
	for _, i := range []int{0, 499, 999} {
		if stored, err := s.Get(ctx, c, rows[i].ID); err != nil || !sameTodo(stored, rows[i]) {
			t.Errorf("Get rows[%d] = %+v (%v), want %+v", i, stored, err, rows[i])
		}
	}
}

// TestSQLShapedTextIsData: text that looks like SQL, placeholders or
// patterns is stored, patched and searched for literally, and the tables
// are intact afterwards.
func TestSQLShapedTextIsData(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	u := newUser(t)
	c := callerOf(u)
	texts := []string{
		"'); DROP TABLE todos; --",
		`Robert'); DROP TABLE users;--`,
		`' OR '1'='1`,
		`"; DELETE FROM todos WHERE ''='`,
		`1; SELECT pg_sleep(10); --`,
		`$1 $2 ? ?? :name @p1`,
		`100% _match_ \ back\slash`,
		`/* comment */ -- line`,
		`E'\x41' U&'\0041'`,
	}
	hundred := 100
	for i, text := range texts {
		created, err := createOne(ctx, s, c, TodoInput{Title: Some(text), Description: Some(text)})
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if created.Title != text || created.Description == nil || *created.Description != text {
			t.Errorf("%q: created title %q description %s", text, created.Title, listorder.Diff(listorder.Row{Description: &text}, listorder.Row{Description: created.Description}))
		}
		if stored, err := s.Get(ctx, c, created.ID); err != nil || stored.Title != text || stored.Description == nil || *stored.Description != text {
			t.Errorf("%q: stored %+v (%v)", text, stored, err)
		}
		patched, err := s.Update(ctx, c, created.ID, TodoInput{Title: Some(text + " (patched)")}, nil)
		if err != nil || patched.Title != text+" (patched)" {
			t.Errorf("%q: patched title %q (%v)", text, patched.Title, err)
		}
		page := walkList(t, s, c, ListQuery{Q: text, Limit: &hundred})
		if !slices.ContainsFunc(page.Items, func(td models.Todo) bool { return td.ID == created.ID }) {
			t.Errorf("q=%q did not find the todo holding it (total %d)", text, page.Total)
		}
		if all := walkList(t, s, c, ListQuery{Limit: &hundred}); all.Total != int64(i+1) {
			t.Errorf("%q: total = %d, want %d", text, all.Total, i+1)
		}
	}
	var users, todos int64
	if err := db.Model(&models.User{}).Where("id = ?", u.ID).Count(&users).Error; err != nil || users != 1 {
		t.Errorf("users table: %d rows of the user (%v), want 1", users, err)
	}
	if err := db.Model(&models.Todo{}).Where("user_id = ?", u.ID).Count(&todos).Error; err != nil || todos != int64(len(texts)) {
		t.Errorf("todos table: %d rows of the user (%v), want %d", todos, err, len(texts))
	}
}
