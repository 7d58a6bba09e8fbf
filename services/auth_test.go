package services

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/models"
)

var authTestSecret = []byte(strings.Repeat("s", 32))

func newTestAuth(t *testing.T, opts AuthOptions) *Auth {
	t.Helper()
	auth, err := NewAuth(db, testAuthOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

// testAuthOptions is opts with a test secret, the cheapest bcrypt cost and
// the configuration's defaults in every field opts leaves zero.
func testAuthOptions(opts AuthOptions) AuthOptions {
	if opts.Secret == nil {
		opts.Secret = authTestSecret
	}
	opts.TokenTTL = cmp.Or(opts.TokenTTL, time.Hour)
	opts.BcryptCost = 4
	opts.Issuer = cmp.Or(opts.Issuer, "todo-api")
	opts.Audience = cmp.Or(opts.Audience, "todo-api")
	if opts.Failures == (FailureLimits{}) {
		opts.Failures = FailureLimits{PerAccount: 5, PerClient: 30, Window: 15 * time.Minute}
	}
	opts.HashConcurrency = cmp.Or(opts.HashConcurrency, 2)
	if ba := opts.BetterAuth; ba != nil {
		ba.Refresh = cmp.Or(ba.Refresh, 10*time.Minute)
		ba.MinRefresh = cmp.Or(ba.MinRefresh, 10*time.Second)
		ba.FetchTimeout = cmp.Or(ba.FetchTimeout, 5*time.Second)
	}
	return opts
}

// TestNewAuthRequiresItsOptions: the service takes its settings from the
// configuration and has no defaults of its own, so a setting left out is
// an error at start-up, never a silent fallback.
func TestNewAuthRequiresItsOptions(t *testing.T) {
	_, err := NewAuth(db, AuthOptions{Secret: authTestSecret, TokenTTL: time.Hour, BcryptCost: 4})
	if err == nil || !strings.Contains(err.Error(), "Audience, Failures, HashConcurrency, Issuer: not set") {
		t.Errorf("NewAuth without issuer, audience, limits and concurrency: %v", err)
	}
	opts := testAuthOptions(AuthOptions{BetterAuth: &BetterAuthOptions{JWKSURL: "http://127.0.0.1:1/jwks", Issuer: "i", Audience: "a"}})
	opts.BetterAuth.FetchTimeout = 0
	if _, err := NewAuth(db, opts); err == nil {
		t.Error("NewAuth accepted Better Auth options without a fetch timeout")
	}
}

// newUserWithPassword is newUser with a real bcrypt hash of password.
func newUserWithPassword(t *testing.T, password string) models.User {
	t.Helper()
	u := newUser(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Model(&u).Update("hashed_password", string(hash)).Error; err != nil {
		t.Fatal(err)
	}
	return u
}

// TestTokensDieWithTheirCredentials: a password change, an email change,
// and deactivation followed by reactivation each end every token issued
// before them; a username change does not.
func TestTokensDieWithTheirCredentials(t *testing.T) {
	ctx := context.Background()
	for _, cache := range []bool{false, true} {
		t.Run(fmt.Sprintf("cache=%v", cache), func(t *testing.T) {
			var c *UserCache
			if cache {
				c = NewUserCache(time.Minute, nil)
			}
			auth := newTestAuth(t, AuthOptions{Cache: c})
			users := NewUsers(db, auth)
			const pw = "old-password"
			u := newUserWithPassword(t, pw)
			name := u.Username
			login := func() string {
				t.Helper()
				tok, err := auth.Login(ctx, name, pw, "203.0.113.9")
				if err != nil {
					t.Fatal(err)
				}
				return tok.AccessToken
			}
			works := func(token string) bool {
				_, err := authenticate(ctx, auth, token)
				if err != nil && !errors.Is(err, ErrUnauthorized) {
					t.Fatal(err)
				}
				return err == nil
			}

			before := login()
			if !works(before) {
				t.Fatal("fresh token refused")
			}
			name = "renamed_" + u.Username[4:]
			if _, err := users.Update(ctx, tokenCaller(ctx, t, auth, before), UpdateUserInput{Username: Some(name)}, "203.0.113.9"); err != nil {
				t.Fatal(err)
			}
			if !works(before) {
				t.Error("a username change ended the token; only credentials should")
			}

			if _, err := users.Update(ctx, tokenCaller(ctx, t, auth, before), UpdateUserInput{Email: Some("moved-" + u.Email), CurrentPassword: Some(pw)}, "203.0.113.9"); err != nil {
				t.Fatal(err)
			}
			if works(before) {
				t.Error("token issued before the email change still works")
			}

			before = login()
			if _, err := users.Update(ctx, tokenCaller(ctx, t, auth, before), UpdateUserInput{Password: Some("new-password"), CurrentPassword: Some(pw)}, "203.0.113.9"); err != nil {
				t.Fatal(err)
			}
			if works(before) {
				t.Error("token issued before the password change still works")
			}
			tok, err := auth.Login(ctx, name, "new-password", "203.0.113.9")
			if err != nil || !works(tok.AccessToken) {
				t.Fatalf("token after the change: %v", err)
			}

			if err := users.Deactivate(ctx, tokenCaller(ctx, t, auth, tok.AccessToken)); err != nil {
				t.Fatal(err)
			}
			if works(tok.AccessToken) {
				t.Error("token works after deactivation")
			}
			db.Exec("UPDATE users SET is_active = true WHERE id = ?", u.ID)
			if works(tok.AccessToken) {
				t.Error("token issued before deactivation works again after reactivation")
			}
		})
	}
}

// TestDeactivationRace: requests that loaded the user just before a
// deactivation must not put the active copy back into the cache. After
// Deactivate returns, no request may be accepted, however the reads
// interleave.
func TestDeactivationRace(t *testing.T) {
	ctx := context.Background()
	auth := newTestAuth(t, AuthOptions{Cache: NewUserCache(time.Minute, nil)})
	users := NewUsers(db, auth)
	const rounds, readers = 60, 8
	var acceptedAfter, acceptedBefore atomic.Int64
	for range rounds {
		u := newUser(t)
		tok, err := auth.issue(u)
		if err != nil {
			t.Fatal(err)
		}
		var done atomic.Bool
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					// Whether deactivation had returned when this
					// request started decides what it may get.
					after := done.Load()
					_, err := authenticate(ctx, auth, tok.AccessToken)
					switch {
					case err == nil && after:
						acceptedAfter.Add(1)
					case err == nil:
						acceptedBefore.Add(1)
					case !errors.Is(err, ErrUnauthorized):
						t.Error(err)
					}
				}
			}()
		}
		time.Sleep(2 * time.Millisecond)
		if err := users.Deactivate(ctx, tokenCaller(ctx, t, auth, tok.AccessToken)); err != nil {
			t.Fatal(err)
		}
		done.Store(true)
		time.Sleep(5 * time.Millisecond)
		close(stop)
		wg.Wait()
	}
	t.Logf("%d rounds × %d readers: %d accepted before deactivation returned, %d after", rounds, readers, acceptedBefore.Load(), acceptedAfter.Load())
	if acceptedBefore.Load() == 0 {
		t.Error("no request was accepted before deactivation: the race was not exercised")
	}
	if n := acceptedAfter.Load(); n != 0 {
		t.Errorf("%d requests accepted after Deactivate returned, want 0", n)
	}
}

// TestIssuerAndAudience: our tokens carry iss and aud; a token signed with
// the same secret by another service (other iss or aud), or lacking iat or
// the credential version, is refused.
func TestIssuerAndAudience(t *testing.T) {
	ctx := context.Background()
	auth := newTestAuth(t, AuthOptions{Issuer: "todo-api", Audience: "todo-api"})
	u := newUser(t)
	tok, err := auth.issue(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	c := parsed.Claims.(jwt.MapClaims)
	if c["iss"] != "todo-api" || fmt.Sprint(c["aud"]) != "[todo-api]" || c["iat"] == nil || c["ver"] == nil {
		t.Errorf("issued claims = %v, want iss, aud, iat and ver", c)
	}

	now := time.Now()
	sign := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(authTestSecret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": fmt.Sprint(u.ID), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "todo-api", "aud": "todo-api", "ver": 0}
	}
	if _, err := authenticate(ctx, auth, sign(base())); err != nil {
		t.Fatalf("well-formed token refused: %v", err)
	}
	tests := map[string]func(jwt.MapClaims){
		"another issuer":   func(c jwt.MapClaims) { c["iss"] = "billing-service" },
		"another audience": func(c jwt.MapClaims) { c["aud"] = "billing-service" },
		"no issuer":        func(c jwt.MapClaims) { delete(c, "iss") },
		"no audience":      func(c jwt.MapClaims) { delete(c, "aud") },
		"no iat":           func(c jwt.MapClaims) { delete(c, "iat") },
		"no version":       func(c jwt.MapClaims) { delete(c, "ver") },
		"old version":      func(c jwt.MapClaims) { c["ver"] = -1 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			claims := base()
			mutate(claims)
			if _, err := authenticate(ctx, auth, sign(claims)); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("err = %v, want ErrUnauthorized", err)
			}
		})
	}
}

// TestFailedPasswordLimits: failures are limited per account from one
// client, and per client across accounts; the owner at another client is
// not locked out; a success starts the pair afresh; parallel guesses
// cannot slip past the limit; the window passes; the sweep deletes what
// has expired.
func TestFailedPasswordLimits(t *testing.T) {
	ctx := context.Background()
	limits := FailureLimits{PerAccount: 3, PerClient: 5, Window: time.Minute}
	auth := newTestAuth(t, AuthOptions{Failures: limits})
	users := NewUsers(db, auth)
	const pw = "right-password"
	tries := func(login func() error, n int) (unauthorized, limited int) {
		for range n {
			var rl *RateLimitError
			switch err := login(); {
			case errors.Is(err, ErrUnauthorized):
				unauthorized++
			case errors.As(err, &rl):
				limited++
				if rl.RetryAfter < time.Second || rl.RetryAfter > limits.Window {
					t.Errorf("RetryAfter = %v, want within (0, %v]", rl.RetryAfter, limits.Window)
				}
			default:
				t.Fatalf("login: %v", err)
			}
		}
		return
	}

	t.Run("per account from one client", func(t *testing.T) {
		u := newUserWithPassword(t, pw)
		wrong := func(client string) func() error {
			return func() error { _, err := auth.Login(ctx, u.Username, "wrong-password", client); return err }
		}
		if un, lim := tries(wrong("198.51.100.1"), 5); un != 3 || lim != 2 {
			t.Errorf("5 wrong logins: %d unauthorized, %d limited; want 3 and 2", un, lim)
		}
		// The right password from the same client is limited too...
		var rl *RateLimitError
		if _, err := auth.Login(ctx, u.Email, pw, "198.51.100.1"); !errors.As(err, &rl) {
			t.Errorf("right password from the limited client (by email): err = %v, want a rate limit", err)
		}
		// ...but the owner elsewhere logs in.
		if _, err := auth.Login(ctx, u.Username, pw, "198.51.100.2"); err != nil {
			t.Errorf("owner from another client: %v", err)
		}
		// current_password counts against the same account.
		err := users.auth.CheckPassword(ctx, u.ID, "current_password", "wrong-password", "198.51.100.1")
		if !errors.As(err, &rl) {
			t.Errorf("current_password from the limited client: err = %v, want a rate limit", err)
		}
	})

	t.Run("a client over its limit writes no more rows", func(t *testing.T) {
		const client = "198.51.100.40"
		for range limits.PerClient {
			u := newUserWithPassword(t, pw)
			auth.Login(ctx, u.Username, "wrong-password", client)
		}
		var before, after int64
		db.Model(&models.AuthFailure{}).Count(&before)
		for range 10 {
			u := newUserWithPassword(t, pw)
			var rl *RateLimitError
			if _, err := auth.Login(ctx, u.Username, "wrong-password", client); !errors.As(err, &rl) {
				t.Fatalf("spraying past the client's limit: %v, want a rate limit", err)
			}
		}
		db.Model(&models.AuthFailure{}).Count(&after)
		if after != before {
			t.Errorf("10 refused attempts on new accounts wrote %d counter rows, want 0", after-before)
		}
	})

	t.Run("success starts afresh", func(t *testing.T) {
		u := newUserWithPassword(t, pw)
		for range 2 {
			auth.Login(ctx, u.Username, "wrong-password", "198.51.100.3")
		}
		if _, err := auth.Login(ctx, u.Username, pw, "198.51.100.3"); err != nil {
			t.Fatal(err)
		}
		if un, lim := tries(func() error { _, err := auth.Login(ctx, u.Username, "wrong", "198.51.100.3"); return err }, 3); un != 3 || lim != 0 {
			t.Errorf("after a success: %d unauthorized, %d limited; want 3 and 0", un, lim)
		}
	})

	t.Run("unknown accounts look the same", func(t *testing.T) {
		if un, lim := tries(func() error { _, err := auth.Login(ctx, "nobody_here", "wrong", "198.51.100.4"); return err }, 5); un != 3 || lim != 2 {
			t.Errorf("unknown user: %d unauthorized, %d limited; want 3 and 2 like a real account", un, lim)
		}
	})

	t.Run("per client across accounts", func(t *testing.T) {
		limited := 0
		for i := range 8 {
			u := newUserWithPassword(t, pw)
			_, err := auth.Login(ctx, u.Username, fmt.Sprintf("spray-%d", i), "198.51.100.5")
			var rl *RateLimitError
			if errors.As(err, &rl) {
				limited++
			}
		}
		if limited != 3 {
			t.Errorf("8 accounts sprayed from one client: %d limited, want 3 (limit %d)", limited, limits.PerClient)
		}
	})

	t.Run("parallel guesses", func(t *testing.T) {
		u := newUserWithPassword(t, pw)
		const n = 40
		var unauthorized, limited atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := auth.Login(ctx, u.Username, "wrong-password", "198.51.100.6")
				var rl *RateLimitError
				switch {
				case errors.Is(err, ErrUnauthorized):
					unauthorized.Add(1)
				case errors.As(err, &rl):
					limited.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if unauthorized.Load() != int64(limits.PerAccount) || limited.Load() != n-int64(limits.PerAccount) {
			t.Errorf("%d parallel guesses: %d compared, %d limited; want %d compared", n, unauthorized.Load(), limited.Load(), limits.PerAccount)
		}
	})

	t.Run("window passes and sweep", func(t *testing.T) {
		u := newUserWithPassword(t, pw)
		tries(func() error { _, err := auth.Login(ctx, u.Username, "wrong", "198.51.100.7"); return err }, 4)
		pair, _ := auth.guard.keys(accountKey(u.ID), "198.51.100.7")
		db.Exec("UPDATE auth_failures SET window_start = now() - interval '2 minutes' WHERE key = ?", pair)
		if un, lim := tries(func() error { _, err := auth.Login(ctx, u.Username, "wrong", "198.51.100.7"); return err }, 1); un != 1 || lim != 0 {
			t.Errorf("after the window: %d unauthorized, %d limited; want a fresh count", un, lim)
		}
		db.Exec("UPDATE auth_failures SET window_start = now() - interval '2 minutes' WHERE key = ?", pair)
		n, err := auth.SweepFailures(ctx)
		if err != nil || n < 1 {
			t.Errorf("sweep deleted %d rows (err %v), want at least the expired one", n, err)
		}
		var left int64
		db.Model(&models.AuthFailure{}).Where("key = ?", pair).Count(&left)
		if left != 0 {
			t.Error("expired counter survived the sweep")
		}
	})
}

// TestVerifiedTokensStillExpire: a token remembered as verified is
// refused once it expires (beyond the leeway), and a remembered token of a
// user whose credentials changed is refused by the version check.
func TestVerifiedTokensStillExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	auth := newTestAuth(t, AuthOptions{Now: clock})
	u := newUserWithPassword(t, "correct horse battery")
	tok, err := auth.Login(ctx, u.Username, "correct horse battery", "198.51.100.9")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second is served from memory
		if _, err := authenticate(ctx, auth, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Hour + tokenLeeway + time.Second)
	if _, err := authenticate(ctx, auth, tok.AccessToken); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("expired remembered token: want ErrUnauthorized, got %v", err)
	}
	now = time.Now()
	tok, err = auth.Login(ctx, u.Username, "correct horse battery", "198.51.100.9")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(ctx, auth, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := db.Model(&models.User{}).Where("id = ?", u.ID).Update("token_version", gorm.Expr("token_version + 1")).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(ctx, auth, tok.AccessToken); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("remembered token after a credential change: want ErrUnauthorized, got %v", err)
	}
}
