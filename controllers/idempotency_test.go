package controllers_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIdempotencyKeyReplays: a repeat of a create with the same key and
// body answers the first answer (status, Location, ETag, body) with
// Idempotent-Replayed and writes nothing; the same key with another body is
// a 422; keys are per user; a batch replays the same way.
func TestIdempotencyKeyReplays(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	body := map[string]any{"title": "pay rent", "priority": 2}
	hdr := map[string]string{"Idempotency-Key": "rent-2026-12"}
	first := expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: body, Header: hdr}), http.StatusCreated)
	if first.Header.Get("Idempotent-Replayed") != "" || first.Header.Get("Location") == "" || first.Header.Get("ETag") == "" {
		t.Fatalf("first answer headers: %v", first.Header)
	}
	again := expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: body, Header: hdr}), http.StatusCreated)
	if again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("Location") != first.Header.Get("Location") ||
		again.Header.Get("ETag") != first.Header.Get("ETag") || !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("replay differs:\nfirst %v %s\nagain %v %s", first.Header, first.Body, again.Header, again.Body)
	}
	if n := relTodoCount(t, acc.ID); n != 1 {
		t.Fatalf("two creates with one key stored %d todos", n)
	}

	other := a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "pay rent twice"}, Header: hdr})
	p := checkProblem(t, expect(t, other, http.StatusUnprocessableEntity))
	if f := p.fields(); len(f) != 1 || f[0] != "Idempotency-Key" {
		t.Fatalf("same key, other body: fields %v", f)
	}

	bob := newAccount(t, a)
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: bob.Token, Body: body, Header: hdr}), http.StatusCreated)
	if n := relTodoCount(t, bob.ID); n != 1 {
		t.Fatalf("another user's first create with the same key stored %d", n)
	}

	batch := map[string]any{"items": []map[string]any{{"title": "a"}, {"title": "b"}, {"title": "c"}}}
	bh := map[string]string{"Idempotency-Key": "batch-1"}
	b1 := expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: batch, Header: bh}), http.StatusCreated)
	b2 := expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: batch, Header: bh}), http.StatusCreated)
	if !bytes.Equal(b1.Body, b2.Body) || b2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("batch replay differs: %s vs %s", b1.Body, b2.Body)
	}
	if n := relTodoCount(t, acc.ID); n != 4 {
		t.Fatalf("batch and its replay: %d todos, want 4", n)
	}
	// The same key on the other create route is another request: 422.
	checkProblem(t, expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: batch, Header: hdr}), http.StatusUnprocessableEntity))
}

// TestIdempotencyKeyErrors: malformed keys are 400 before any write; an
// invalid body is 422 and does not use up the key.
func TestIdempotencyKeyErrors(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	for name, key := range map[string]string{
		"too long":  strings.Repeat("k", 256),
		"space":     "two words",
		"non-ASCII": "clé",
	} {
		r := a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "x"}, Header: map[string]string{"Idempotency-Key": key}})
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s key: %d %s, want 400", name, r.Status, r.Body)
		}
	}
	if n := relTodoCount(t, acc.ID); n != 0 {
		t.Fatalf("refused keys wrote %d todos", n)
	}
	hdr := map[string]string{"Idempotency-Key": "fix-me"}
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": ""}, Header: hdr}), http.StatusUnprocessableEntity)
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "fixed"}, Header: hdr}), http.StatusCreated)
}

// TestIdempotencyKeyConcurrentAndInFlight: 16 requests with one key at
// once make exactly one todo, and every answer is that todo or a 409; a
// request whose key another transaction holds gets 409 with Retry-After;
// an expired key is a new request.
func TestIdempotencyKeyConcurrentAndInFlight(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([][]byte, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "once"}, Header: map[string]string{"Idempotency-Key": "burst"}})
			statuses[i], bodies[i] = r.Status, r.Body
		})
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	var first []byte
	for i, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
			if first == nil {
				first = bodies[i]
			} else if !bytes.Equal(first, bodies[i]) {
				t.Errorf("two different 201 answers: %s and %s", first, bodies[i])
			}
		case http.StatusConflict:
			conflicts++
		default:
			t.Errorf("request %d: %d %s", i, s, bodies[i])
		}
	}
	if rows := relTodoCount(t, acc.ID); rows != 1 || created == 0 {
		t.Fatalf("%d concurrent creates with one key: %d rows, %d×201, %d×409", n, rows, created, conflicts)
	}
	t.Logf("%d concurrent creates with one key: 1 row, %d×201 (1 written, the rest replayed), %d×409", n, created, conflicts)

	// A first request still running: its claim is held by an open
	// transaction.
	tx := db.Begin()
	if err := tx.Exec(`INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, expires_at) VALUES (?, 'held', '\x00', 0, '', now() + interval '1 hour')`, acc.ID).Error; err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	r := a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "held"}, Header: map[string]string{"Idempotency-Key": "held"}})
	tx.Rollback()
	checkProblem(t, expect(t, r, http.StatusConflict))
	if r.Header.Get("Retry-After") == "" || time.Since(began) > 2*time.Second {
		t.Errorf("in-flight key: Retry-After %q after %s", r.Header.Get("Retry-After"), time.Since(began))
	}
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "held"}, Header: map[string]string{"Idempotency-Key": "held"}}), http.StatusCreated)

	// Expired: the key is free again.
	if err := db.Exec(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE user_id = ? AND key = 'burst'`, acc.ID).Error; err != nil {
		t.Fatal(err)
	}
	r = expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "once"}, Header: map[string]string{"Idempotency-Key": "burst"}}), http.StatusCreated)
	if r.Header.Get("Idempotent-Replayed") != "" || relTodoCount(t, acc.ID) != 3 {
		t.Fatalf("expired key: replayed %q, %d todos (want a new one, 3)", r.Header.Get("Idempotent-Replayed"), relTodoCount(t, acc.ID))
	}
}

// errReader fails every read, like a client whose upload breaks off.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestIdempotencyKeyTwiceAndBrokenBody: two Idempotency-Key headers are a
// 400 (which one would count?), and so is a body that cannot be read; no
// todo is written.
func TestIdempotencyKeyTwiceAndBrokenBody(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	send := func(body io.Reader, keys ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/api/v1/todos", body)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+acc.Token)
		for _, k := range keys {
			r.Header.Add("Idempotency-Key", k)
		}
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, r)
		return rec
	}
	if rec := send(strings.NewReader(`{"title":"x"}`), "one", "two"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "one Idempotency-Key") {
		t.Errorf("two keys: %d %s", rec.Code, rec.Body)
	}
	if rec := send(errReader{}, "k"); rec.Code != http.StatusBadRequest {
		t.Errorf("unreadable body: %d %s", rec.Code, rec.Body)
	}
	if n := relTodoCount(t, acc.ID); n != 0 {
		t.Fatalf("%d todos written", n)
	}
}
