package services

// The account rules that need the database: what a registration stores,
// which emails and usernames are taken (regardless of case, and not by the
// user's own account), and the current password a credential change must
// give. The field rules are tabled in input_test.go; the HTTP tests
// (controllers/validation_test.go) keep one conflict and one refused
// current_password for the wiring of the 409 and the 422.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/todo-api/todo-api/models"
)

const accountTestPassword = "correct horse battery"

// accountName is a fresh valid username (and email local part).
func accountName(prefix string) string {
	seq++
	return fmt.Sprintf("%s%d_%d", prefix, seq, time.Now().UnixNano()%1e9)
}

// swapCase swaps the case of ASCII letters.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, s)
}

// register registers a fresh account through the service.
func register(t *testing.T, auth *Auth, email, username, password string) models.User {
	t.Helper()
	u, err := auth.Register(context.Background(), RegisterInput{Email: Some(email), Username: Some(username), Password: Some(password)}, "203.0.113.20")
	if err != nil {
		t.Fatalf("register %q %q: %v", email, username, err)
	}
	return u
}

// wantConflict checks that err is a *ConflictError naming exactly fields.
func wantConflict(t *testing.T, what string, err error, fields ...string) {
	t.Helper()
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("%s: err = %v, want a conflict on %q", what, err, fields)
		return
	}
	wantFields(t, what, &ValidationError{Fields: ce.Fields}, fields)
}

// sameAccount compares what a user change may touch.
func sameAccount(a, b models.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.Username == b.Username && a.IsActive == b.IsActive &&
		a.TokenVersion == b.TokenVersion && a.UpdatedAt.Equal(b.UpdatedAt) &&
		(a.HashedPassword == nil) == (b.HashedPassword == nil) && (a.HashedPassword == nil || *a.HashedPassword == *b.HashedPassword)
}

func loadUser(t *testing.T, id int64) models.User {
	t.Helper()
	var u models.User
	if err := db.Take(&u, id).Error; err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRegisterStoresNormalised: the email is stored trimmed and
// lower-cased and logs in as typed; the username keeps its case and logs
// in in any case; a 72-byte password of four-byte characters counts every
// byte; an upper-case non-ASCII email is refused or lower-cased.
func TestRegisterStoresNormalised(t *testing.T) {
	ctx := context.Background()
	auth := newTestAuth(t, AuthOptions{})
	email := "MiXeD." + strings.ToUpper(accountName("u")) + "@Example.COM"
	username := "MiXeD_" + strings.ToUpper(accountName("c"))
	pw := strings.Repeat("😀", 18)
	u := register(t, auth, "  "+email+" ", username, pw)
	if want := strings.ToLower(email); u.Email != want || u.Username != username {
		t.Errorf("email, username = %q, %q; want %q (lower-cased), %q (as sent)", u.Email, u.Username, want, username)
	}
	if stored := loadUser(t, u.ID); !sameAccount(stored, u) || !stored.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("stored %+v, Register answered %+v", stored, u)
	}
	for _, id := range []string{email, strings.ToLower(email), username, swapCase(username)} {
		if _, err := auth.Login(ctx, id, pw, "203.0.113.21"); err != nil {
			t.Errorf("login as %q: %v", id, err)
		}
	}
	// The last character changed for as many ASCII bytes (the same
	// length, still valid UTF-8): the login fails.
	_, size := utf8.DecodeLastRuneInString(pw)
	wrong := pw[:len(pw)-size] + strings.Repeat("#", size)
	if _, err := auth.Login(ctx, username, wrong, "203.0.113.21"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("login with the last character changed: %v, want ErrUnauthorized", err)
	}

	nonASCII := "ÉLODIE." + accountName("u") + "@EXAMPLE.COM"
	got, err := auth.Register(ctx, RegisterInput{Email: Some(nonASCII), Username: Some(accountName("reg")), Password: Some(accountTestPassword)}, "203.0.113.20")
	var v *ValidationError
	switch {
	case errors.As(err, &v):
		wantFields(t, "non-ASCII upper-case email", v, []string{"email"})
	case err != nil:
		t.Errorf("non-ASCII upper-case email: %v, want success or an email problem", err)
	case got.Email != strings.ToLower(nonASCII):
		t.Errorf("email = %q, want %q (lower-cased)", got.Email, strings.ToLower(nonASCII))
	}
}

// TestRegisterConflicts: an email or username another account holds is a
// conflict naming the field, whatever its case or surrounding spaces, and
// both are named when both are taken; the accounts holding them are left
// as they were.
func TestRegisterConflicts(t *testing.T) {
	ctx := context.Background()
	auth := newTestAuth(t, AuthOptions{})
	x := register(t, auth, accountName("x")+"@example.com", accountName("x"), accountTestPassword)
	y := register(t, auth, accountName("y")+"@example.com", accountName("y"), accountTestPassword)
	fresh := func() string { return accountName("f") + "@example.com" }
	for _, tc := range []struct {
		name            string
		email, username string
		want            []string
	}{
		{"same email, different case", strings.ToUpper(x.Email), accountName("c"), []string{"email"}},
		{"same email, padded with spaces", "  " + x.Email + " ", accountName("c"), []string{"email"}},
		{"same username, different case", fresh(), swapCase(x.Username), []string{"username"}},
		{"same username, same case", fresh(), x.Username, []string{"username"}},
		{"both of one user", strings.ToUpper(x.Email), strings.ToUpper(x.Username), []string{"email", "username"}},
		{"email of one user, username of another", x.Email, strings.ToUpper(y.Username), []string{"email", "username"}},
	} {
		_, err := auth.Register(ctx, RegisterInput{Email: Some(tc.email), Username: Some(tc.username), Password: Some(accountTestPassword)}, "203.0.113.22")
		wantConflict(t, tc.name, err, tc.want...)
	}
	for _, u := range []models.User{x, y} {
		if stored := loadUser(t, u.ID); !sameAccount(stored, u) {
			t.Errorf("account %d = %+v after the conflicts, want unchanged %+v", u.ID, stored, u)
		}
	}
	if _, err := auth.Login(ctx, x.Username, accountTestPassword, "203.0.113.23"); err != nil {
		t.Errorf("login of x: %v", err)
	}
	if _, err := auth.Login(ctx, y.Email, accountTestPassword, "203.0.113.23"); err != nil {
		t.Errorf("login of y: %v", err)
	}
	// Nothing was created by a refused registration: the user count of
	// the emails tried is still one.
	var n int64
	db.Model(&models.User{}).Where("email = ?", x.Email).Count(&n)
	if n != 1 {
		t.Errorf("%d accounts hold x's email, want 1", n)
	}
}

// TestUpdateUserConflicts: changing to an email or username another
// account holds is a conflict naming each taken field, whatever the case,
// and changes nothing; the user's own username in another case is no
// conflict.
func TestUpdateUserConflicts(t *testing.T) {
	ctx := context.Background()
	auth := newTestAuth(t, AuthOptions{})
	users := NewUsers(db, auth)
	other := register(t, auth, accountName("o")+"@example.com", accountName("o"), accountTestPassword)
	third := register(t, auth, accountName("t")+"@example.com", accountName("t"), accountTestPassword)
	for _, tc := range []struct {
		name string
		in   UpdateUserInput
		want []string
	}{
		{"email taken, other case", UpdateUserInput{Email: Some(strings.ToUpper(other.Email)), CurrentPassword: Some(accountTestPassword)}, []string{"email"}},
		{"username taken, other case", UpdateUserInput{Username: Some(swapCase(other.Username))}, []string{"username"}},
		{"both taken by one user", UpdateUserInput{Email: Some(other.Email), Username: Some(strings.ToUpper(other.Username)), CurrentPassword: Some(accountTestPassword)}, []string{"email", "username"}},
		{"both taken by two users", UpdateUserInput{Email: Some(other.Email), Username: Some(third.Username), CurrentPassword: Some(accountTestPassword)}, []string{"email", "username"}},
	} {
		me := register(t, auth, accountName("m")+"@example.com", accountName("m"), accountTestPassword)
		_, err := users.Update(ctx, callerOf(me), tc.in, "203.0.113.24")
		wantConflict(t, tc.name, err, tc.want...)
		if after := loadUser(t, me.ID); !sameAccount(after, me) {
			t.Errorf("%s: after a conflict %+v, want unchanged %+v", tc.name, after, me)
		}
	}
	me := register(t, auth, accountName("m")+"@example.com", accountName("own_"), accountTestPassword)
	got, err := users.Update(ctx, callerOf(me), UpdateUserInput{Username: Some(strings.ToUpper(me.Username))}, "203.0.113.24")
	if err != nil || got.Username != strings.ToUpper(me.Username) {
		t.Errorf("own username in another case: %+v, %v; want it stored as sent", got, err)
	}
}

// TestUpdateUserCredentials: a wrong current password is a problem on
// current_password and changes nothing; with the right one an email is
// stored lower-cased and a new password replaces the old, each moving the
// credential version on; a username alone needs no password.
func TestUpdateUserCredentials(t *testing.T) {
	ctx := context.Background()
	auth := newTestAuth(t, AuthOptions{})
	users := NewUsers(db, auth)
	const client = "203.0.113.25"

	me := register(t, auth, accountName("w")+"@example.com", accountName("w"), accountTestPassword)
	_, err := users.Update(ctx, callerOf(me), UpdateUserInput{Email: Some(accountName("n") + "@example.com"), CurrentPassword: Some("wrong password")}, client)
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Errorf("wrong current_password: %v, want a *ValidationError", err)
	} else {
		wantFields(t, "wrong current_password", v, []string{"current_password"})
	}
	if after := loadUser(t, me.ID); !sameAccount(after, me) {
		t.Errorf("after a wrong current_password %+v, want unchanged %+v", after, me)
	}
	if _, err := auth.Login(ctx, me.Username, accountTestPassword, client); err != nil {
		t.Errorf("login after a refused change: %v", err)
	}

	renamed := accountName("New_")
	got, err := users.Update(ctx, callerOf(me), UpdateUserInput{Username: Some(renamed)}, client)
	if err != nil || got.Username != renamed || got.TokenVersion != me.TokenVersion {
		t.Errorf("username alone: %+v, %v; want %q, the same credential version", got, err, renamed)
	}
	if _, err := auth.Login(ctx, renamed, accountTestPassword, client); err != nil {
		t.Errorf("login as the new username: %v", err)
	}

	email := "New." + strings.ToUpper(accountName("m")) + "@Example.ORG"
	got, err = users.Update(ctx, callerOf(got), UpdateUserInput{Email: Some(email), CurrentPassword: Some(accountTestPassword)}, client)
	if err != nil || got.Email != strings.ToLower(email) || got.TokenVersion != me.TokenVersion+1 {
		t.Errorf("email change: %+v, %v; want %q, the credential version moved on", got, err, strings.ToLower(email))
	}
	if _, err := auth.Login(ctx, email, accountTestPassword, client); err != nil {
		t.Errorf("login with the new email as typed: %v", err)
	}

	pw := strings.Repeat("é", 36) // 72 bytes
	got, err = users.Update(ctx, callerOf(got), UpdateUserInput{Password: Some(pw), CurrentPassword: Some(accountTestPassword)}, client)
	if err != nil || got.TokenVersion != me.TokenVersion+2 {
		t.Errorf("password change: %+v, %v; want the credential version moved on again", got, err)
	}
	if _, err := auth.Login(ctx, renamed, pw, client); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if _, err := auth.Login(ctx, renamed, accountTestPassword, client); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("login with the old password: %v, want ErrUnauthorized", err)
	}
	if stored := loadUser(t, me.ID); !sameAccount(stored, got) {
		t.Errorf("stored %+v, Update answered %+v", stored, got)
	}
}
