package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/todo-api/todo-api/migrations"
)

// TestExternalIdentityRollbackKeepsPasswordlessUsers: the rollback of
// 20261130130000 refuses while a user signs in only through Better Auth
// (rolling back would need a password they never set), changes nothing
// when it refuses, and goes through once no such user is left. The schema
// rules hold in between: an identity is issuer and subject together, and
// every account has a way to sign in.
func TestExternalIdentityRollbackKeepsPasswordlessUsers(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	// The migrations up to this one, so that it is the one rolled back.
	var upTo []migrations.Migration
	for _, m := range migrations.All() {
		upTo = append(upTo, m)
		if m.ID == "20261130130000" {
			break
		}
	}
	r := migrations.NewRunner(db, upTo, nil)
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`INSERT INTO users (email, username) VALUES ('nopw@example.com', 'nopw')`,
		`INSERT INTO users (email, username, auth_subject) VALUES ('half@example.com', 'half', 'sub-1')`,
	} {
		if err := db.Exec(bad).Error; err == nil || !strings.Contains(err.Error(), "chk_users_") {
			t.Fatalf("%s: want a check violation, got %v", bad, err)
		}
	}
	if err := db.Exec(`INSERT INTO users (email, username, auth_issuer, auth_subject) VALUES ('ba@example.com', 'ba_user', 'https://app.example.com', 'sub-1')`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO users (email, username, auth_issuer, auth_subject) VALUES ('ba2@example.com', 'ba_user2', 'https://app.example.com', 'sub-1')`).Error; err == nil {
		t.Fatal("a second user with the same issuer and subject was accepted")
	}

	_, err := r.Down(ctx, migrations.DownTarget{Steps: 1})
	if err == nil || !strings.Contains(err.Error(), "sign in only through Better Auth") {
		t.Fatalf("rollback with a passwordless user: want a refusal naming the reason, got %v", err)
	}
	st, err := r.State(ctx)
	if err != nil || !st.AtHead() {
		t.Fatalf("after the refused rollback the schema is not at head: %+v %v", st, err)
	}
	var n int64
	db.Raw(`SELECT count(*) FROM users WHERE auth_subject = 'sub-1'`).Scan(&n)
	if n != 1 {
		t.Fatalf("the refused rollback lost the user: %d rows", n)
	}

	if err := db.Exec(`UPDATE users SET hashed_password = 'set-by-hand' WHERE auth_subject = 'sub-1'`).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := r.Down(ctx, migrations.DownTarget{Steps: 1}); err != nil {
		t.Fatalf("rollback once every user has a password: %v", err)
	}
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
