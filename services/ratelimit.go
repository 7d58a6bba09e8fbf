package services

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ClientLimiter is a token bucket per client (rate per second, burst)
// kept in PostgreSQL, so that a limit of N holds in total however many
// instances serve: each instance's own bucket would let every instance
// through N, and a balancer spreads one client over all of them.
//
// The bucket is the generic cell rate algorithm: one timestamp per client,
// its theoretical arrival time (tat). A request at now is let through when
// max(tat, now) + interval - now <= burst × interval, and moves tat to
// max(tat, now) + interval. That is one INSERT … ON CONFLICT DO UPDATE,
// whose row lock orders concurrent requests of one client on every
// instance; it needs no session state, so it works through a transaction
// pooler.
type ClientLimiter struct {
	db *gorm.DB
	// interval is the time one request uses up: 1 / rate.
	interval time.Duration
	burst    int
	// key makes the row keys HMACs: the table never holds an address.
	key []byte
	// reason says what was limited, in a refusal.
	reason string
}

// NewClientLimiter limits every client to perSecond requests per second
// with bursts of burst on the auth routes; secret keys the row HMACs.
func NewClientLimiter(db *gorm.DB, perSecond float64, burst int, secret []byte) *ClientLimiter {
	return newClientLimiter(db, "todo-api auth rate limit keys", "too many requests from this address", perSecond, burst, secret)
}

// NewRegistrationLimiter limits every client to perHour registrations an
// hour (in bursts of as many): registering costs a bcrypt hash, and one
// address must not be able to make accounts, or burn CPU, without end.
// Its buckets share auth_rate_limits, under keys of their own.
func NewRegistrationLimiter(db *gorm.DB, perHour int, secret []byte) *ClientLimiter {
	return newClientLimiter(db, "todo-api registration limit keys", "too many registrations from this address", float64(perHour)/3600, perHour, secret)
}

func newClientLimiter(db *gorm.DB, purpose, reason string, perSecond float64, burst int, secret []byte) *ClientLimiter {
	// The limits are part of the key: a bucket's tat only means something
	// under the limits that set it, so new limits start new buckets (and
	// instances running with different limits during a rollout keep apart).
	key := DeriveKey(secret, fmt.Sprintf("%s\x00%g\x00%d", purpose, perSecond, burst))
	return &ClientLimiter{
		db:       db,
		interval: time.Duration(float64(time.Second) / perSecond),
		burst:    burst,
		key:      key,
		reason:   reason,
	}
}

func (l *ClientLimiter) rowKey(client string) string {
	mac := hmac.New(sha256.New, l.key)
	mac.Write([]byte(client))
	return hex.EncodeToString(mac.Sum(nil))
}

// Take spends one request of client's budget, or refuses with a
// *RateLimitError saying when the next one is free. A database that cannot
// be reached is ErrUnavailable: the limit fails closed, and the requests it
// guards (register, login) need the database anyway.
func (l *ClientLimiter) Take(ctx context.Context, client string) error {
	// wait is NULL when the request was let through; otherwise the seconds
	// until it would be. When refused, the row is left as it was, and the
	// outer SELECT reads it as of the statement's start: a concurrent
	// request may have moved tat since, which only makes wait a little
	// short, never the decision wrong.
	var waits []struct{ Wait *float64 }
	err := write(ctx, func() error {
		waits = waits[:0]
		return l.db.WithContext(ctx).Raw(`
			WITH taken AS (
				INSERT INTO auth_rate_limits AS r (key, tat)
				VALUES (@key, now() + make_interval(secs => @interval))
				ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat, now()) + make_interval(secs => @interval)
				WHERE greatest(r.tat, now()) + make_interval(secs => @interval) - now() <= make_interval(secs => @allowance)
				RETURNING NULL::float8 AS wait
			)
			SELECT wait FROM taken
			UNION ALL
			SELECT greatest(extract(epoch FROM r.tat - now())::float8 + @interval - @allowance, 0.001)
			FROM auth_rate_limits r
			WHERE r.key = @key AND NOT EXISTS (SELECT FROM taken)`,
			map[string]any{
				"key":       l.rowKey(client),
				"interval":  l.interval.Seconds(),
				"allowance": (time.Duration(l.burst) * l.interval).Seconds(),
			}).Scan(&waits).Error
	})
	if err != nil {
		return translate(err, "take from the client's request budget")
	}
	if len(waits) == 0 {
		// Refused, but the row was inserted after this statement's
		// snapshot was taken: the bucket is busy right now.
		return &RateLimitError{Reason: l.reason, RetryAfter: l.interval}
	}
	if w := waits[0].Wait; w != nil {
		return &RateLimitError{Reason: l.reason, RetryAfter: time.Duration(*w * float64(time.Second))}
	}
	return nil
}

// Sweep deletes the buckets that have filled up again (tat has passed):
// such a row means the same as no row. The tat index keeps it from reading
// the whole table.
func (l *ClientLimiter) Sweep(ctx context.Context) (int64, error) {
	res := l.db.WithContext(ctx).Exec(`DELETE FROM auth_rate_limits WHERE tat < now()`)
	return res.RowsAffected, translate(res.Error, "sweep full request budgets")
}
