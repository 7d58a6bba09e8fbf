package services

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestListsPerUserAcrossInstances: while a user's listing slots are all
// held (by listings running on any instance: the locks live in the
// database), that user's next listing is ErrTooManyLists at once, another
// user's runs, and the slots come free with the statements that held them.
func TestListsPerUserAcrossInstances(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil).LimitLists(0, 2)
	busy, calm := newUser(t), newUser(t)
	for _, u := range []Caller{callerOf(busy), callerOf(calm)} {
		if _, err := createOne(ctx, s, u, TodoInput{Title: Some("listed")}); err != nil {
			t.Fatal(err)
		}
	}
	// Another instance's two listings of busy, held open.
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Transaction(func(tx *gorm.DB) error {
			// What two listings running there hold: both slots.
			user := int32(busy.ID % math.MaxInt32)
			for slot := range int32(2) {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?, ?)", listLockClass+slot, user).Error; err != nil {
					return err
				}
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.List(ctx, callerOf(busy), ListQuery{}); !errors.Is(err, ErrTooManyLists) {
		t.Errorf("listing with every slot held elsewhere: %v, want ErrTooManyLists", err)
	}
	if _, err := s.List(ctx, callerOf(busy), ListQuery{Q: "listed"}); !errors.Is(err, ErrTooManyLists) {
		t.Errorf("search with every slot held elsewhere: %v, want ErrTooManyLists", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the refusals took %s; they should not wait", d)
	}
	if p, err := s.List(ctx, callerOf(calm), ListQuery{}); err != nil || p.Total != 1 {
		t.Errorf("another user's listing meanwhile: %+v, %v", p, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p, err := s.List(ctx, callerOf(busy), ListQuery{}); err != nil || p.Total != 1 {
		t.Errorf("listing once the slots are free: %+v, %v", p, err)
	}
}

// TestListTimeout: a listing that runs past its own limit is
// ErrListTooSlow (not a database outage); one stopped by the request's
// deadline is ErrUnavailable, as before.
func TestListTimeout(t *testing.T) {
	ctx := context.Background()
	u := newUser(t)
	if _, err := createOne(ctx, NewTodos(db, []byte("k"), time.Hour, nil), callerOf(u), TodoInput{Title: Some("slow")}); err != nil {
		t.Fatal(err)
	}
	slow := NewTodos(db, []byte("k"), time.Hour, nil).LimitLists(time.Nanosecond, 0)
	if _, err := slow.List(ctx, callerOf(u), ListQuery{Q: "slow"}); !errors.Is(err, ErrListTooSlow) || errors.Is(err, ErrUnavailable) {
		t.Errorf("listing past its limit: %v, want ErrListTooSlow", err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	if _, err := NewTodos(db, []byte("k"), time.Hour, nil).LimitLists(time.Minute, 0).List(reqCtx, callerOf(u), ListQuery{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("listing past the request's deadline: %v, want ErrUnavailable", err)
	}
}

// TestSearchKeysBounded: a todo whose text has more than 1,000 distinct
// trigrams adds one overflow key to idx_todos_search_keys instead of all of
// them, and is still found by every search that matches its text; the
// index has no pending list to grow (fastupdate off).
func TestSearchKeysBounded(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	u := newUser(t)
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	r := rand.New(rand.NewPCG(1, 2))
	for range 9990 {
		b.WriteByte(letters[r.IntN(len(letters))])
	}
	noise := b.String()
	big, err := createOne(ctx, s, callerOf(u), TodoInput{Title: Some("noise"), Description: Some(noise)})
	if err != nil {
		t.Fatal(err)
	}
	small, err := createOne(ctx, s, callerOf(u), TodoInput{Title: Some("pay the invoice")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	count := func(id int64) int {
		var n int
		db.Raw("SELECT cardinality(todo_search_keys(user_id, title, description)) FROM todos WHERE id = ?", id).Scan(&n)
		return n
	}
	db.Raw("SELECT unnest(todo_search_keys(user_id, title, description)) FROM todos WHERE id = ?", big.ID).Scan(&keys)
	if len(keys) != 1 || !strings.HasSuffix(keys[0], ":*") {
		t.Errorf("keys of 9,990 random characters: %d (%.3v); want the one overflow key", len(keys), keys)
	}
	if n := count(small.ID); n < 5 || n > 1000 {
		t.Errorf("keys of a short title: %d", n)
	}
	for _, q := range []string{noise[5000:5040], strings.ToUpper(noise[100:110]), "invoice", "noise"} {
		p, err := s.List(ctx, callerOf(u), ListQuery{Q: q})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"invoice": small.ID}[q]
		if want == 0 {
			want = big.ID
		}
		if p.Total != 1 || p.Items[0].ID != want {
			t.Errorf("q=%.12q…: total %d; want todo %d alone", q, p.Total, want)
		}
	}
	var opts []string
	db.Raw("SELECT unnest(reloptions) FROM pg_class WHERE relname = 'idx_todos_search_keys'").Scan(&opts)
	if strings.Join(opts, ",") != "fastupdate=off" {
		t.Errorf("idx_todos_search_keys options: %v, want fastupdate=off", opts)
	}
}
