package services

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/todo-api/todo-api/models"
)

// TestCreateBudget: a user's creates are held to the rate and burst, in
// units of a todo or 4 KiB of its text, whichever is more; a refused create
// writes nothing and says when to retry; another user is not affected; the
// budget comes back with time.
func TestCreateBudget(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil).BudgetCreates(600, 5, 0) // a unit every 100 ms, bursts of 5
	u, other := callerOf(newUser(t)), callerOf(newUser(t))
	for i := range 5 {
		if _, err := createOne(ctx, s, u, TodoInput{Title: Some("within the burst")}); err != nil {
			t.Fatalf("create %d of the burst: %v", i+1, err)
		}
	}
	_, err := createOne(ctx, s, u, TodoInput{Title: Some("one too many")})
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Second {
		t.Fatalf("create past the burst: %v; want a RateLimitError with a short wait", err)
	}
	if _, err := createBatch(ctx, s, u, []TodoInput{{Title: Some("a")}, {Title: Some("b")}}); !errors.As(err, &rl) {
		t.Errorf("batch past the burst: %v; want a RateLimitError", err)
	}
	if _, err := createOne(ctx, s, other, TodoInput{Title: Some("someone else")}); err != nil {
		t.Errorf("another user's create: %v", err)
	}
	time.Sleep(rl.RetryAfter + 50*time.Millisecond)
	if _, err := createOne(ctx, s, u, TodoInput{Title: Some("after waiting")}); err != nil {
		t.Errorf("create after Retry-After: %v", err)
	}
	var n int64
	db.Model(&models.Todo{}).Where("user_id = ?", u.ID).Count(&n)
	if n != 6 {
		t.Errorf("%d todos written, want 6", n)
	}
	// 13 KiB of description is 4 units: within a fresh burst of 5, twice not.
	big := strings.Repeat("x", 13<<10)
	fresh := callerOf(newUser(t))
	if _, err := createOne(ctx, s, fresh, TodoInput{Title: Some("big"), Description: Some(big[:10000])}); err != nil {
		t.Fatal(err)
	}
	if _, err := createBatch(ctx, s, fresh, []TodoInput{{Title: Some("big"), Description: Some(big[:10000])}, {Title: Some("big"), Description: Some(big[:6000])}}); !errors.As(err, &rl) {
		t.Errorf("16 KB of text after 10 KB, burst 5 units of 4 KiB: %v; want a RateLimitError", err)
	}
}

// TestCreateBudgetAcrossInstances: the budget is one, kept in the
// database: 40 creates at once through two instances, burst 10, write 10.
func TestCreateBudgetAcrossInstances(t *testing.T) {
	instances := []*Todos{
		NewTodos(db, []byte("k"), time.Hour, nil).BudgetCreates(1, 10, 0),
		NewTodos(db, []byte("k"), time.Hour, nil).BudgetCreates(1, 10, 0),
	}
	u := callerOf(newUser(t))
	ok, limited := createsAtOnce(t, instances, u, 40)
	if ok != 10 || limited != 30 {
		t.Errorf("40 creates at once, burst 10: %d written, %d limited; want 10 and 30", ok, limited)
	}
}

// TestCreateBudgetLeases: one user's concurrent creates through two
// instances take units ahead (fewer statements lock the user's row), and
// still never write past the budget: 400 creates at once, burst 320 (a
// lease is at most 20 units), write at most 320 and give up at most a
// lease per instance and create running, and later creates go on.
func TestCreateBudgetLeases(t *testing.T) {
	instances := []*Todos{
		NewTodos(db, []byte("k"), time.Hour, nil).BudgetCreates(0.001, 320, 0),
		NewTodos(db, []byte("k"), time.Hour, nil).BudgetCreates(0.001, 320, 0),
	}
	u := callerOf(newUser(t))
	ok, limited := createsAtOnce(t, instances, u, 400)
	if ok > 320 || ok < 240 || ok+limited != 400 {
		t.Errorf("400 creates at once, burst 320: %d written, %d limited; want 240 to 320 written, the rest limited", ok, limited)
	}
	var written int64
	db.Model(&models.Todo{}).Where("user_id = ?", u.ID).Count(&written)
	if written != ok {
		t.Errorf("%d todos in the table, %d creates answered", written, ok)
	}
	t.Logf("400 creates at once, burst 320: %d written, %d limited", ok, limited)
}

// TestTodoLimit: a user holds at most maxTodos todos: a create past it is
// a TodoLimitError and writes nothing (a batch, none of it); a delete makes
// room again; the count follows every insert and delete, cascades and
// hand-written SQL included (the trigger), and the idempotent path obeys it.
func TestTodoLimit(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil).BudgetCreates(0, 0, 3)
	user := newUser(t)
	u := callerOf(user)
	first, err := createOne(ctx, s, u, TodoInput{Title: Some("one")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createBatch(ctx, s, u, []TodoInput{{Title: Some("two")}, {Title: Some("three")}}); err != nil {
		t.Fatal(err)
	}
	var limit *TodoLimitError
	if _, err := createOne(ctx, s, u, TodoInput{Title: Some("four")}); !errors.As(err, &limit) || limit.Max != 3 || limit.Have != 3 {
		t.Fatalf("create past the limit: %v; want a TodoLimitError (3 of 3)", err)
	}
	key, _ := NewIdempotencyKey("limit", "POST /todos", []byte(`{"title":"four"}`))
	once := &Once{Key: key, Answer: func([]models.Todo) ([]byte, error) { return []byte("{}"), nil }}
	if _, err := s.Create(ctx, u, CreateRequest{Items: []TodoInput{{Title: Some("four")}}, Single: true, Once: once}); !errors.As(err, &limit) {
		t.Errorf("keyed create past the limit: %v; want a TodoLimitError", err)
	}
	if err := s.Delete(ctx, u, first.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := createBatch(ctx, s, u, []TodoInput{{Title: Some("a")}, {Title: Some("b")}}); !errors.As(err, &limit) {
		t.Errorf("batch of 2 with room for 1: %v; want a TodoLimitError", err)
	}
	if _, err := createOne(ctx, s, u, TodoInput{Title: Some("room again")}); err != nil {
		t.Errorf("create after a delete: %v", err)
	}
	count := func() (kept, real int64) {
		db.Raw(todoCountOf, user.ID).Scan(&kept)
		db.Model(&models.Todo{}).Where("user_id = ?", user.ID).Count(&real)
		return
	}
	if kept, real := count(); kept != real || real != 3 {
		t.Errorf("todo_count %d, todos %d; want 3 and 3", kept, real)
	}
	db.Exec("DELETE FROM todos WHERE user_id = ? AND title = 'two'", user.ID)
	db.Exec("INSERT INTO todos (user_id, title) VALUES (?, 'by hand'), (?, 'by hand too')", user.ID, user.ID)
	if kept, real := count(); kept != real || real != 4 {
		t.Errorf("after SQL by hand: todo_count %d, todos %d; want 4 and 4", kept, real)
	}
	// An unfiltered listing's total is that count; a filtered one counts.
	for _, q := range []ListQuery{{}, {Offset: 2}, {Completed: new(false)}} {
		page, err := s.List(ctx, u, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 4 {
			t.Errorf("List(%+v).Total = %d, want 4", q, page.Total)
		}
	}
}

// createsAtOnce sends n creates of u at once, spread over instances, and
// counts those written and those refused by the budget.
func createsAtOnce(t *testing.T, instances []*Todos, u Caller, n int) (ok, limited int64) {
	t.Helper()
	var okN, limitedN atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := createOne(context.Background(), instances[i%len(instances)], u, TodoInput{Title: Some("at once")})
			var rl *RateLimitError
			switch {
			case err == nil:
				okN.Add(1)
			case errors.As(err, &rl):
				limitedN.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return okN.Load(), limitedN.Load()
}
