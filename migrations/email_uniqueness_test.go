package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/todo-api/todo-api/migrations"
)

// TestEmailUniqueAmongPasswordAccounts: after 20261207120100 an email is
// unique among password accounts (case included, by the lower-case CHECK)
// but may also be held by accounts from an auth server's tokens; its
// rollback refuses, changing nothing, while two accounts share an email,
// and goes through once none do.
func TestEmailUniqueAmongPasswordAccounts(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	var upTo []migrations.Migration
	for _, m := range migrations.All() {
		upTo = append(upTo, m)
		if m.ID == "20261207120100" {
			break
		}
	}
	r := migrations.NewRunner(db, upTo, nil)
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{
		`INSERT INTO users (email, username, hashed_password) VALUES ('ada@example.com', 'ada', 'h')`,
		`INSERT INTO users (email, username, auth_issuer, auth_subject) VALUES ('ada@example.com', 'ba_1', 'https://a.example', 's1')`,
		`INSERT INTO users (email, username, auth_issuer, auth_subject) VALUES ('ada@example.com', 'ba_2', 'https://b.example', 's1')`,
	} {
		if err := db.Exec(ok).Error; err != nil {
			t.Fatalf("%s: %v", ok, err)
		}
	}
	if err := db.Exec(`INSERT INTO users (email, username, hashed_password) VALUES ('ada@example.com', 'ada2', 'h')`).Error; err == nil || !strings.Contains(err.Error(), "uq_users_password_email") {
		t.Fatalf("a second password account with the email: want a unique violation, got %v", err)
	}

	_, err := r.Down(ctx, migrations.DownTarget{Steps: 1})
	if err == nil || !strings.Contains(err.Error(), "held by more than one account") {
		t.Fatalf("rollback with a shared email: want a refusal naming the reason, got %v", err)
	}
	if st, err := r.State(ctx); err != nil || !st.AtHead() {
		t.Fatalf("after the refused rollback the schema is not at head: %+v %v", st, err)
	}
	if err := db.Exec(`DELETE FROM users WHERE auth_subject IS NOT NULL`).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := r.Down(ctx, migrations.DownTarget{Steps: 1}); err != nil {
		t.Fatalf("rollback once no email is shared: %v", err)
	}
	if err := db.Exec(`INSERT INTO users (email, username, auth_issuer, auth_subject) VALUES ('ada@example.com', 'ba_3', 'https://a.example', 's3')`).Error; err == nil {
		t.Fatal("after the rollback an email is shared again")
	}
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
