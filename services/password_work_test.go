package services

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestRegistrationsPerClient: one client makes at most the limit of
// registrations; invalid ones (refused before any hashing) and taken names
// do not count; another client is not affected.
func TestRegistrationsPerClient(t *testing.T) {
	ctx := context.Background()
	secret := []byte("registration test " + time.Now().String())
	auth := newTestAuth(t, AuthOptions{Registrations: NewRegistrationLimiter(db, 3, secret)})
	in := func(i int) RegisterInput {
		n := fmt.Sprintf("reg%d_%d", i, time.Now().UnixNano()%1e9)
		return RegisterInput{Email: Some(n + "@example.com"), Username: Some(n), Password: Some("correct horse battery")}
	}
	const client, other = "203.0.113.50", "203.0.113.51"
	for i := range 3 {
		if i == 1 {
			bad := in(99)
			bad.Password = Some("short")
			if _, err := auth.Register(ctx, bad, client); err == nil {
				t.Fatal("a short password registered")
			}
		}
		if _, err := auth.Register(ctx, in(i), client); err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
	}
	var rl *RateLimitError
	if _, err := auth.Register(ctx, in(3), client); !errors.As(err, &rl) || rl.RetryAfter < time.Minute {
		t.Errorf("fourth registration from one client: %v; want a RateLimitError of minutes", err)
	}
	if _, err := auth.Register(ctx, in(4), other); err != nil {
		t.Errorf("another client: %v", err)
	}
}

// TestPasswordWorkIsBounded: with every bcrypt slot busy, a login waits
// briefly and is then ErrPasswordWorkBusy, running no bcrypt of its own;
// once a slot is free it goes through.
func TestPasswordWorkIsBounded(t *testing.T) {
	ctx := context.Background()
	auth := newTestAuth(t, AuthOptions{HashConcurrency: 1})
	u := newUserWithPassword(t, "correct horse battery")
	hold, release := make(chan struct{}), make(chan struct{})
	go auth.passwordWork(ctx, func() { close(hold); <-release })
	<-hold
	start := time.Now()
	if _, err := auth.Login(ctx, u.Username, "correct horse battery", "203.0.113.60"); !errors.Is(err, ErrPasswordWorkBusy) {
		t.Fatalf("login with the slot busy: %v, want ErrPasswordWorkBusy", err)
	}
	if d := time.Since(start); d < hashQueueWait || d > hashQueueWait+2*time.Second {
		t.Errorf("refused after %s, want about %s", d, hashQueueWait)
	}
	close(release)
	if _, err := auth.Login(ctx, u.Username, "correct horse battery", "203.0.113.60"); err != nil {
		t.Errorf("login once the slot is free: %v", err)
	}
}
