package services

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/models"
)

// TestLogoutEndsThatTokenOnly: after Logout, the token is refused by the
// account routes and by every todo statement; another token of the same
// user keeps working; a second logout with it is ErrUnauthorized; once
// the token would have expired anyway its record is swept.
func TestLogoutEndsThatTokenOnly(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	auth := newTestAuth(t, AuthOptions{Now: func() time.Time { return now }})
	todos := NewTodos(db, []byte("k"), time.Hour, nil)
	const pw = "correct horse battery"
	u := newUserWithPassword(t, pw)
	login := func() string {
		t.Helper()
		tok, err := auth.Login(ctx, u.Username, pw, "203.0.113.10")
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	// Two logins within the same second (two devices) are two tokens:
	// ending one must not end the other.
	ended, kept := login(), login()
	if ended == kept {
		t.Fatal("two logins in the same second gave the same token")
	}
	caller := func(tok string) Caller {
		t.Helper()
		c, err := auth.Caller(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	todo, err := createOne(ctx, todos, caller(ended), TodoInput{Title: Some("before logout")})
	if err != nil {
		t.Fatal(err)
	}

	if err := auth.Logout(ctx, caller(ended)); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if _, err := authenticate(ctx, auth, ended); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("account route with the logged-out token: %v, want ErrUnauthorized", err)
	}
	if _, err := todos.Get(ctx, caller(ended), todo.ID); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("todo read with the logged-out token: %v, want ErrUnauthorized", err)
	}
	if _, err := createOne(ctx, todos, caller(ended), TodoInput{Title: Some("after logout")}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("create with the logged-out token: %v, want ErrUnauthorized", err)
	}
	if err := auth.Logout(ctx, caller(ended)); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("second logout with the same token: %v, want ErrUnauthorized", err)
	}
	if c := caller(kept); string(c.TokenID) == string(caller(ended).TokenID) {
		t.Fatal("two tokens share an id")
	}
	if _, err := authenticate(ctx, auth, kept); err != nil {
		t.Errorf("the user's other token: %v, want it to keep working", err)
	}
	if _, err := todos.Get(ctx, caller(kept), todo.ID); err != nil {
		t.Errorf("todo read with the user's other token: %v", err)
	}

	// Swept once past the token's own expiry (and the leeway), not before.
	var n int64
	id := caller(ended).TokenID
	count := func() int64 {
		db.Model(&models.RevokedToken{}).Where("token_id = ?", id).Count(&n)
		return n
	}
	if _, err := auth.SweepRevokedTokens(ctx); err != nil || count() != 1 {
		t.Fatalf("sweep before expiry: %v; %d records left, want 1", err, n)
	}
	now = now.Add(time.Hour + tokenLeeway + time.Second)
	if _, err := auth.SweepRevokedTokens(ctx); err != nil || count() != 0 {
		t.Fatalf("sweep after expiry: %v; %d records left, want 0", err, n)
	}
}

// TestTokenIDIgnoresTheSignature: a token's id is its signed part's, so a
// holder cannot make a logged-out token new by re-encoding its signature.
func TestTokenIDIgnoresTheSignature(t *testing.T) {
	a, b := "aGVhZGVy.Y2xhaW1z.c2lnbmF0dXJl", "aGVhZGVy.Y2xhaW1z.c2lnbmF0dXJm"
	if string(tokenID(a)) != string(tokenID(b)) {
		t.Error("tokens differing only in their signature got different ids")
	}
	if string(tokenID(a)) == string(tokenID(strings.Replace(a, "Y2xhaW1z", "Y2xhaW1y", 1))) {
		t.Error("tokens with different claims share an id")
	}
	if len(tokenID(a)) != 32 {
		t.Errorf("id of %d bytes, want 32", len(tokenID(a)))
	}
}
