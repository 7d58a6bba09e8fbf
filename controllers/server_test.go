package controllers_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/todo-api/todo-api/server"
)

// TestAppBackgroundWork: Sweep deletes expired password-attempt counters,
// Idempotency-Keys and logged-out tokens and leaves live ones; RefreshKeys fetches the
// Better Auth key set when BETTER_AUTH_URL is set; StartDraining turns
// readiness off at once. All of them stop with their context.
func TestAppBackgroundWork(t *testing.T) {
	var fetches atomic.Int64
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA"}]}`))
	}))
	defer jwks.Close()
	app, err := server.New(testConfig(t, map[string]string{
		"BETTER_AUTH_URL": jwks.URL, "BETTER_AUTH_JWKS_URL": jwks.URL, "BETTER_AUTH_JWKS_REFRESH": "1s", "BETTER_AUTH_JWKS_MIN_REFRESH": "100ms",
	}), db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, handler: app.Handler, logs: &logBuffer{}}
	acc := newAccount(t, a)
	for key, expires := range map[string]string{"old": "now() - interval '1 minute'", "live": "now() + interval '1 hour'"} {
		if err := db.Exec(`INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, expires_at) VALUES (?, ?, '\x00', 201, '{}', `+expires+`)`, acc.ID, key).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(`INSERT INTO auth_failures (key, failures, window_start) VALUES ('app-test-old', 3, now() - interval '1 day')`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO revoked_tokens (token_id, expires_at) VALUES (sha256('app-test-old'), now() - interval '1 minute'), (sha256('app-test-live'), now() + interval '1 hour')`).Error; err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { app.Sweep(ctx, 20*time.Millisecond, slog.New(slog.DiscardHandler)); done <- struct{}{} }()
	go func() { app.RefreshKeys(ctx); done <- struct{}{} }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var keys, failures, revoked int64
		db.Raw(`SELECT count(*) FROM idempotency_keys WHERE user_id = ?`, acc.ID).Scan(&keys)
		db.Raw(`SELECT count(*) FROM auth_failures WHERE key = 'app-test-old'`).Scan(&failures)
		db.Raw(`SELECT count(*) FROM revoked_tokens WHERE token_id IN (sha256('app-test-old'), sha256('app-test-live'))`).Scan(&revoked)
		if keys == 1 && failures == 0 && revoked == 1 && fetches.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d idempotency keys (want the live one), %d old counters, %d logged-out tokens (want the live one), %d key-set fetches", keys, failures, revoked, fetches.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Sweep or RefreshKeys did not stop with its context")
		}
	}

	expect(t, a.do(req{Method: "GET", Path: "/readyz"}), http.StatusOK)
	app.StartDraining()
	app.StartDraining() // twice is fine
	r := a.do(req{Method: "GET", Path: "/readyz"})
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "shutting down") {
		t.Fatalf("readyz while draining: %d %s", r.Status, r.Body)
	}
}
