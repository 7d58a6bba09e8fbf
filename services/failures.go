package services

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"gorm.io/gorm"
)

// FailureLimits bound failed password checks, the way OWASP's
// authentication guidance describes: per account from one client, so that
// guessing one account's password from one client stops after a handful of
// tries, yet an attacker elsewhere cannot lock the owner out of their own
// client; and per client across accounts, so that one client cannot spray a
// common password over many accounts.
type FailureLimits struct {
	// PerAccount failures of one account from one client per Window.
	PerAccount int
	// PerClient failures from one client, any account, per Window.
	PerClient int
	Window    time.Duration
}

// failureGuard counts attempts in PostgreSQL (table auth_failures), so that
// every instance behind a load balancer counts the same ones. An attempt is
// counted before the password is compared and forgiven when it succeeds:
// counting only after a failure would let a burst of parallel guesses all
// pass the check before the first failure is recorded.
type failureGuard struct {
	db     *gorm.DB
	limits FailureLimits
	// key makes the row keys HMACs: the table never holds an email,
	// username or address in clear.
	key []byte
}

func newFailureGuard(db *gorm.DB, limits FailureLimits, secret []byte) *failureGuard {
	return &failureGuard{db: db, limits: limits, key: DeriveKey(secret, "todo-api auth failure keys")}
}

func (g *failureGuard) rowKey(parts ...string) string {
	mac := hmac.New(sha256.New, g.key)
	for _, p := range parts {
		mac.Write([]byte(p))
		mac.Write([]byte{0})
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// keys returns the row keys of an (account, client) pair and of the client.
func (g *failureGuard) keys(account, client string) (pair, cli string) {
	return g.rowKey("pair", account, client), g.rowKey("client", client)
}

// attempt counts one password check of account from client and refuses it
// with a *RateLimitError when either limit is already spent.
func (g *failureGuard) attempt(ctx context.Context, account, client string) error {
	pair, cli := g.keys(account, client)
	var rows []struct {
		Key        string
		Failures   int
		RetryAfter float64
	}
	window := g.limits.Window.Seconds()
	// A key already at its limit within its window is not counted again,
	// and then neither is the other: a client over its limit, spraying
	// passwords over many accounts, writes no row for each new account.
	// Such a key comes back from over with one failure more, so the check
	// below refuses as it would have.
	err := write(ctx, func() error {
		rows = rows[:0]
		return g.db.WithContext(ctx).Raw(`
			WITH over AS (
				SELECT key, failures + 1 AS failures,
					extract(epoch FROM window_start + make_interval(secs => @window) - now())::float8 AS retry_after
				FROM auth_failures
				WHERE key IN (@pair, @client) AND window_start > now() - make_interval(secs => @window)
				  AND failures >= CASE WHEN key = @client THEN CAST(@per_client AS int) ELSE CAST(@per_account AS int) END
			), counted AS (
				INSERT INTO auth_failures AS f (key, failures, window_start)
				SELECT * FROM (VALUES (@pair, 1, now()), (@client, 1, now())) AS v
				WHERE NOT EXISTS (SELECT FROM over)
				ON CONFLICT (key) DO UPDATE SET
					failures = CASE WHEN f.window_start <= now() - make_interval(secs => @window) THEN 1 ELSE f.failures + 1 END,
					window_start = CASE WHEN f.window_start <= now() - make_interval(secs => @window) THEN now() ELSE f.window_start END
				RETURNING f.key, f.failures,
					extract(epoch FROM f.window_start + make_interval(secs => @window) - now())::float8 AS retry_after
			)
			SELECT * FROM over UNION ALL SELECT * FROM counted`,
			map[string]any{"pair": pair, "client": cli, "window": window, "per_client": g.limits.PerClient, "per_account": g.limits.PerAccount}).Scan(&rows).Error
	})
	if err != nil {
		return translate(err, "count password attempt")
	}
	for _, r := range rows {
		switch {
		case r.Key == pair && r.Failures > g.limits.PerAccount:
			return &RateLimitError{Reason: "too many failed password attempts for this account from this client", RetryAfter: time.Duration(r.RetryAfter * float64(time.Second))}
		case r.Key == cli && r.Failures > g.limits.PerClient:
			return &RateLimitError{Reason: "too many failed password attempts from this client", RetryAfter: time.Duration(r.RetryAfter * float64(time.Second))}
		}
	}
	return nil
}

// succeeded forgives the attempt just counted: the pair starts afresh
// (OWASP: reset on success) and the client's count drops by one.
func (g *failureGuard) succeeded(ctx context.Context, account, client string) error {
	pair, cli := g.keys(account, client)
	err := write(ctx, func() error {
		return g.db.WithContext(ctx).Exec(`
			WITH reset AS (DELETE FROM auth_failures WHERE key = @pair)
			UPDATE auth_failures SET failures = failures - 1 WHERE key = @client AND failures > 0`,
			map[string]any{"pair": pair, "client": cli}).Error
	})
	return translate(err, "reset password attempts")
}

// sweep deletes the counters whose window has passed; the window_start
// index keeps it from scanning the whole table.
func (g *failureGuard) sweep(ctx context.Context) (int64, error) {
	res := g.db.WithContext(ctx).Exec(`DELETE FROM auth_failures WHERE window_start <= now() - make_interval(secs => ?)`, g.limits.Window.Seconds())
	return res.RowsAffected, translate(res.Error, "sweep password attempts")
}
