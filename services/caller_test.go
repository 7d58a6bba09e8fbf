package services

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/todo-api/todo-api/models"
)

// statementCounter is a GORM logger that counts the statements run.
type statementCounter struct {
	logger.Interface
	n atomic.Int64
}

func (c *statementCounter) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	c.n.Add(1)
}

// TestCallerChecksTheAccountInItsStatements: a caller (a token verified
// without reading its account) costs no query of its own: a get is one
// statement, a create one, a list or search one (page and total
// together); only a statement that finds nothing reads the account, to
// tell 401 from 404 (an empty list: its total too, in the same statement).
func TestCallerChecksTheAccountInItsStatements(t *testing.T) {
	ctx := context.Background()
	counter := &statementCounter{Interface: logger.Discard}
	s := NewTodos(db.Session(&gorm.Session{Logger: counter}), []byte("k"), time.Hour, nil)
	u := newUser(t)
	c := callerOf(u)
	statements := func(what string, want int64, fn func() error) {
		t.Helper()
		counter.n.Store(0)
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := counter.n.Load(); got != want {
			t.Errorf("%s ran %d statements, want %d", what, got, want)
		}
	}
	var todo models.Todo
	statements("create", 1, func() (err error) { todo, err = createOne(ctx, s, c, TodoInput{Title: Some("one")}); return err })
	statements("batch", 1, func() error {
		_, err := createBatch(ctx, s, c, []TodoInput{{Title: Some("two")}, {Title: Some("three"), Description: Some("d")}})
		return err
	})
	statements("get", 1, func() error { _, err := s.Get(ctx, c, todo.ID); return err })
	statements("list", 1, func() error {
		p, err := s.List(ctx, c, ListQuery{})
		if err == nil && (p.Total != 3 || len(p.Items) != 3) {
			t.Errorf("list: total %d, %d items; want 3 and 3", p.Total, len(p.Items))
		}
		return err
	})
	statements("search", 1, func() error {
		p, err := s.List(ctx, c, ListQuery{Q: "thr", Limit: new(1)})
		if err == nil && (p.Total != 1 || len(p.Items) != 1) {
			t.Errorf("search: total %d, %d items; want 1 and 1", p.Total, len(p.Items))
		}
		return err
	})
	statements("page past the end", 2, func() error {
		p, err := s.List(ctx, c, ListQuery{Offset: 10})
		if err == nil && (p.Total != 3 || len(p.Items) != 0) {
			t.Errorf("page past the end: total %d, %d items; want 3 and 0", p.Total, len(p.Items))
		}
		return err
	})
	statements("patch", 1, func() error { _, err := s.Update(ctx, c, todo.ID, TodoInput{Completed: Some(true)}, nil); return err })
	counter.n.Store(0)
	if _, err := s.Get(ctx, c, todo.ID+1_000_000); !errors.Is(err, ErrNotFound) {
		t.Errorf("get of a missing todo: %v, want ErrNotFound", err)
	}
	if got := counter.n.Load(); got != 2 {
		t.Errorf("get of a missing todo ran %d statements, want 2 (the get, then the account)", got)
	}
	empty := callerOf(newUser(t))
	statements("list of a user without todos", 2, func() error {
		p, err := s.List(ctx, empty, ListQuery{})
		if err == nil && (p.Total != 0 || len(p.Items) != 0) {
			t.Errorf("list of a user without todos: %+v; want an empty page", p)
		}
		return err
	})
}

// TestRevokedCallerIsRefusedEverywhere: once the account is deactivated,
// deleted or at a new credential version, or the token logged out, every
// todo operation of a caller holding that token is ErrUnauthorized and
// writes nothing.
func TestRevokedCallerIsRefusedEverywhere(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	auth := newTestAuth(t, AuthOptions{})
	sql := func(stmt string) func(Caller) error {
		return func(c Caller) error { return db.Exec(stmt, c.ID).Error }
	}
	for _, revoke := range []struct {
		name string
		do   func(Caller) error
	}{
		{"deactivated", sql("UPDATE users SET is_active = false WHERE id = ?")},
		{"new credential version", sql("UPDATE users SET token_version = token_version + 1 WHERE id = ?")},
		{"deleted", sql("DELETE FROM users WHERE id = ?")},
		{"logged out", func(c Caller) error { return auth.Logout(ctx, c) }},
	} {
		u := newUser(t)
		c := callerOf(u)
		c.TokenID, c.Expires = tokenID(fmt.Sprintf("header.claims-of-%d.signature", u.ID)), time.Now().Add(time.Hour)
		todo, err := createOne(ctx, s, c, TodoInput{Title: Some("before")})
		if err != nil {
			t.Fatal(err)
		}
		if err := revoke.do(c); err != nil {
			t.Fatal(err)
		}
		key, err := NewIdempotencyKey("revoked", "POST /todos", []byte(`{"title":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		once := &Once{Key: key, Answer: func([]models.Todo) ([]byte, error) { return []byte("{}"), nil }}
		for name, op := range map[string]func() error{
			"create": func() error { _, err := createOne(ctx, s, c, TodoInput{Title: Some("x")}); return err },
			"batch":  func() error { _, err := createBatch(ctx, s, c, []TodoInput{{Title: Some("x")}}); return err },
			"create once": func() error {
				_, err := s.Create(ctx, c, CreateRequest{Items: []TodoInput{{Title: Some("x")}}, Single: true, Once: once})
				return err
			},
			"get":    func() error { _, err := s.Get(ctx, c, todo.ID); return err },
			"list":   func() error { _, err := s.List(ctx, c, ListQuery{}); return err },
			"search": func() error { _, err := s.List(ctx, c, ListQuery{Q: "before"}); return err },
			"patch":  func() error { _, err := s.Update(ctx, c, todo.ID, TodoInput{Title: Some("x")}, nil); return err },
			"delete": func() error { return s.Delete(ctx, c, todo.ID, nil) },
		} {
			if err := op(); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("%s after %s: %v, want ErrUnauthorized", name, revoke.name, err)
			}
		}
		var n int64
		db.Model(&models.Todo{}).Where("user_id = ? AND title = 'before'", u.ID).Count(&n)
		var all int64
		db.Model(&models.Todo{}).Where("user_id = ?", u.ID).Count(&all)
		if all != n {
			t.Errorf("after %s: %d todos, %d of them untouched; want no writes", revoke.name, all, n)
		}
	}
}
