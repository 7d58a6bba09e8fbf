package services

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestNewIdempotencyKey(t *testing.T) {
	for _, bad := range []string{"", strings.Repeat("k", 256), "a b", "tab\there", "clé", "nul\x00"} {
		if _, err := NewIdempotencyKey(bad, "/r", nil); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
	k1, err := NewIdempotencyKey(strings.Repeat("k", 255), "/api/v1/todos", []byte(`{"title":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := NewIdempotencyKey("x", "/api/v1/todos/batch", []byte(`{"title":"a"}`))
	k3, _ := NewIdempotencyKey("x", "/api/v1/todos", []byte(`{"title":"b"}`))
	if string(k1.Fingerprint) == string(k2.Fingerprint) || string(k1.Fingerprint) == string(k3.Fingerprint) {
		t.Error("fingerprints do not tell routes or bodies apart")
	}
}

// TestSweepIdempotencyKeys: expired keys go, live ones stay.
func TestSweepIdempotencyKeys(t *testing.T) {
	ctx := context.Background()
	u := newUser(t)
	for i, expires := range []time.Duration{-time.Hour, -time.Second, time.Hour} {
		if err := db.Exec(`INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, expires_at) VALUES (?, ?, '\x00', 201, '{}', ?)`,
			u.ID, "k"+string(rune('a'+i)), time.Now().Add(expires)).Error; err != nil {
			t.Fatal(err)
		}
	}
	n, err := NewTodos(db, []byte("k"), time.Hour, nil).SweepIdempotencyKeys(ctx)
	if err != nil || n < 2 {
		t.Fatalf("swept %d, %v; want at least the 2 expired", n, err)
	}
	var left []string
	db.Raw(`SELECT key FROM idempotency_keys WHERE user_id = ?`, u.ID).Scan(&left)
	if len(left) != 1 || left[0] != "kc" {
		t.Fatalf("left after the sweep: %v, want [kc]", left)
	}
}
