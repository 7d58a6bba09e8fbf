package services

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/models"
)

var db *gorm.DB

func TestMain(m *testing.M) {
	var url string
	os.Exit(testdb.Main(m, "services", &url, func() error {
		var err error
		db, err = database.Open(context.Background(), database.Options{URL: url, MaxOpenConns: 16, MaxIdleConns: 16, StartupTimeout: 10 * time.Second})
		if err != nil {
			return err
		}
		_, err = migrations.NewRunner(db, migrations.All(), nil).Up(context.Background(), "")
		return err
	}))
}

var seq int

func newUser(t *testing.T) models.User {
	t.Helper()
	seq++
	u := models.User{Email: fmt.Sprintf("svc%d-%d@example.com", seq, time.Now().UnixNano()), Username: fmt.Sprintf("svc_%d_%d", seq, time.Now().UnixNano()%1e9), HashedPassword: new("x"), IsActive: true}
	if err := db.Create(&u).Error; err != nil {
		t.Fatal(err)
	}
	return u
}

// callerOf is the caller of a token issued to u now: every statement
// checks the account itself, as for a real request.
func callerOf(u models.User) Caller { return Caller{ID: u.ID, Version: u.TokenVersion} }

// createOne creates one todo, as POST /todos does.
func createOne(ctx context.Context, s *Todos, c Caller, in TodoInput) (models.Todo, error) {
	done, err := s.Create(ctx, c, CreateRequest{Items: []TodoInput{in}, Single: true})
	if err != nil {
		return models.Todo{}, err
	}
	return done.Todos[0], nil
}

// createBatch creates todos, as POST /todos/batch does.
func createBatch(ctx context.Context, s *Todos, c Caller, items []TodoInput) ([]models.Todo, error) {
	done, err := s.Create(ctx, c, CreateRequest{Items: items})
	return done.Todos, err
}

// authenticate is what an account route does with a token: it names the
// caller, whose account is then read.
func authenticate(ctx context.Context, auth *Auth, token string) (models.User, error) {
	c, err := auth.Caller(ctx, token)
	if err != nil {
		return models.User{}, err
	}
	return NewUsers(db, auth).Me(ctx, c)
}

// tokenCaller is the caller a token names; the test fails if it names none.
func tokenCaller(ctx context.Context, t *testing.T, auth *Auth, token string) Caller {
	t.Helper()
	c, err := auth.Caller(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestVersionAdvancesWithAStoppedClock: the ETag must change on every
// write even when the clock does not move (or steps back).
func TestVersionAdvancesWithAStoppedClock(t *testing.T) {
	ctx := context.Background()
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewTodos(db, []byte("k"), time.Hour, func() time.Time { return fixed })
	u := newUser(t)
	todo, err := createOne(ctx, s, callerOf(u), TodoInput{Title: Some("clock")})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{todo.UpdatedAt.UnixMicro(): true}
	for i := range 3 {
		todo, err = s.Update(ctx, callerOf(u), todo.ID, TodoInput{}, &Precondition{At: []time.Time{todo.UpdatedAt}})
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if seen[todo.UpdatedAt.UnixMicro()] {
			t.Fatalf("update %d reused version %s", i, todo.UpdatedAt)
		}
		seen[todo.UpdatedAt.UnixMicro()] = true
	}
}

func TestPreconditionFailures(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	u := newUser(t)
	todo, err := createOne(ctx, s, callerOf(u), TodoInput{Title: Some("pre")})
	if err != nil {
		t.Fatal(err)
	}
	for name, pre := range map[string]*Precondition{
		"empty list":      {At: []time.Time{}},
		"other moment":    {At: []time.Time{time.UnixMicro(1)}},
		"after year 9999": {At: []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		if _, err := s.Update(ctx, callerOf(u), todo.ID, TodoInput{}, pre); !errors.Is(err, ErrPreconditionFailed) {
			t.Errorf("%s: Update err = %v, want ErrPreconditionFailed", name, err)
		}
		if err := s.Delete(ctx, callerOf(u), todo.ID, pre); !errors.Is(err, ErrPreconditionFailed) {
			t.Errorf("%s: Delete err = %v, want ErrPreconditionFailed", name, err)
		}
	}
	other := newUser(t)
	if _, err := s.Update(ctx, callerOf(other), todo.ID, TodoInput{}, &Precondition{At: []time.Time{todo.UpdatedAt}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("other user's Update err = %v, want ErrNotFound", err)
	}
}

// TestConcurrentRegistration: the same email registered at once by many
// clients gives one user and conflicts, never an internal error.
func TestConcurrentRegistration(t *testing.T) {
	ctx := context.Background()
	auth, err := NewAuth(db, testAuthOptions(AuthOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = auth.Register(ctx, RegisterInput{Email: Some("race@example.com"), Username: Some(fmt.Sprintf("Racer%d", i)), Password: Some("password123")}, "203.0.113.1")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var ce *ConflictError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ce) && len(ce.Fields) == 1 && ce.Fields[0].Field == "email":
		default:
			t.Errorf("err = %v, want success or an email conflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d registrations succeeded, want 1", ok)
	}
}

// TestBatchIsAllOrNothingInTheDatabase: when the database refuses the
// batch (here: the user vanished), no row of it remains.
func TestBatchIsAllOrNothingInTheDatabase(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	u := newUser(t)
	if err := db.Delete(&models.User{}, u.ID).Error; err != nil {
		t.Fatal(err)
	}
	_, err := createBatch(ctx, s, callerOf(u), []TodoInput{{Title: Some("a")}, {Title: Some("b")}})
	if err == nil {
		t.Fatal("batch for a missing user succeeded")
	}
	var n int64
	db.Model(&models.Todo{}).Where("user_id = ?", u.ID).Count(&n)
	if n != 0 {
		t.Errorf("%d rows of a failed batch remain", n)
	}
}

func TestCursorCodec(t *testing.T) {
	cc := cursorCodec{key: []byte("key-one")}
	c := cursor{Sort: "-priority", Filters: "f", Value: int64(3), ID: 42}
	s := cc.encode(c)
	got, err := cc.decode(s)
	if err != nil || got.ID != 42 || got.Sort != "-priority" || got.Value != json.Number("3") {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	body, sig, _ := strings.Cut(s, ".")
	tampered := []string{
		body[:len(body)-2] + "AA" + "." + sig,
		body + "." + sig[:len(sig)-2] + "AA",
		body,
		"",
		"%%%.%%%",
		strings.Repeat("A", maxCursorLength+1),
	}
	for _, bad := range tampered {
		if _, err := cc.decode(bad); err == nil {
			t.Errorf("decode(%q) accepted a tampered cursor", bad)
		}
	}
	if _, err := (cursorCodec{key: []byte("key-two")}).decode(s); err == nil {
		t.Error("a cursor signed with another key was accepted")
	}
}

func TestTokenRoundTrip(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	auth, err := NewAuth(db, testAuthOptions(AuthOptions{TokenTTL: time.Minute, Now: func() time.Time { return now }}))
	if err != nil {
		t.Fatal(err)
	}
	u := newUser(t)
	tok, err := auth.issue(u)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := authenticate(ctx, auth, tok.AccessToken); err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate = %v, %v", got.ID, err)
	}
	// Within the leeway after expiry the token still works; past it, not.
	now = now.Add(time.Minute + tokenLeeway/2)
	if _, err := authenticate(ctx, auth, tok.AccessToken); err != nil {
		t.Errorf("token refused within the leeway: %v", err)
	}
	now = now.Add(tokenLeeway)
	if _, err := authenticate(ctx, auth, tok.AccessToken); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("expired token: err = %v, want ErrUnauthorized", err)
	}
}

func TestRetryPolicy(t *testing.T) {
	adminShutdown := &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, refused := pgconn.Connect(ctx, "postgres://u@127.0.0.1:1/db?sslmode=disable")
	if refused == nil {
		t.Fatal("connecting to port 1 succeeded")
	}
	tests := []struct {
		name       string
		err        error
		idempotent bool
		want       bool
	}{
		{"read after suspend", adminShutdown, true, true},
		{"write after suspend, maybe sent", adminShutdown, false, false},
		{"write that never connected", refused, false, true},
		{"write on a connection database/sql found dead", fmt.Errorf("exec: %w", driver.ErrBadConn), false, true},
		{"read on constraint error", &pgconn.PgError{Code: "23505"}, true, false},
		{"read on auth error", &pgconn.PgError{Code: "28P01"}, true, false},
		{"read on syntax error", &pgconn.PgError{Code: "42601"}, true, false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err, tt.idempotent); got != tt.want {
			t.Errorf("%s: retryable = %v, want %v", tt.name, got, tt.want)
		}
	}
	calls := 0
	err := read(context.Background(), func() error { calls++; return adminShutdown })
	if calls != maxAttempts || !errors.Is(err, adminShutdown) {
		t.Errorf("read of a persistent transient error: %d calls, err %v; want %d calls", calls, err, maxAttempts)
	}
	calls = 0
	write(context.Background(), func() error { calls++; return adminShutdown })
	if calls != 1 {
		t.Errorf("write that may have reached the server was tried %d times, want 1", calls)
	}
	calls = 0
	err = read(context.Background(), func() error {
		calls++
		if calls < 2 {
			return adminShutdown
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("read recovering on the second try: %d calls, err %v", calls, err)
	}
}

// TestUserCache: a cached account is served until the TTL passes or this
// process forgets it; a copy read before a forget is refused; and our own
// tokens never go through it: Authenticate reads the account on every call,
// so a change made behind the service's back (by another instance) is seen
// at once, and Authorize names the account without a query.
func TestUserCache(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	cache := NewUserCache(5*time.Second, clock)
	u := newUser(t)
	cache.put(u, cache.generation())
	if got, ok := cache.get(u.ID); !ok || got.Username != u.Username {
		t.Errorf("within the TTL: %v, %v; want the cached user", got, ok)
	}
	now = now.Add(6 * time.Second)
	if _, ok := cache.get(u.ID); ok {
		t.Error("after the TTL the cached user was still served")
	}
	cache.put(u, cache.generation())
	cache.forget(u.ID)
	if _, ok := cache.get(u.ID); ok {
		t.Error("a forgotten user was still served")
	}
	gen := cache.generation()
	cache.forget(u.ID)
	cache.put(u, gen)
	if _, ok := cache.get(u.ID); ok {
		t.Error("a copy read before a forget was cached")
	}

	auth, err := NewAuth(db, testAuthOptions(AuthOptions{Now: clock, Cache: cache}))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := auth.issue(u)
	if _, err := authenticate(ctx, auth, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	db.Exec("UPDATE users SET username = 'renamed_' || id WHERE id = ?", u.ID)
	if got, _ := authenticate(ctx, auth, tok.AccessToken); got.Username == u.Username {
		t.Error("a change behind the service's back was not seen at once")
	}
	if c, err := auth.Caller(ctx, tok.AccessToken); err != nil || c.ID != u.ID || c.Version != u.TokenVersion || len(c.TokenID) != 32 {
		t.Errorf("Authorize: %+v, %v; want the caller of the token, with its id", c, err)
	}
	users := NewUsers(db, auth)
	if err := users.Deactivate(ctx, tokenCaller(ctx, t, auth, tok.AccessToken)); err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(ctx, auth, tok.AccessToken); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("deactivated user still authenticated: %v", err)
	}
	if NewUserCache(0, nil) != nil {
		t.Error("a zero TTL should disable the cache")
	}
	small := NewUserCache(time.Minute, clock)
	small.users.Resize(3)
	for id := int64(1); id <= 10; id++ {
		small.put(models.User{ID: id}, small.generation())
	}
	if n := small.users.Len(); n > 3 {
		t.Errorf("cache grew to %d entries past its bound of 3", n)
	}
}
