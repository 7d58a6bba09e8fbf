package services

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/todo-api/todo-api/models"
)

// TestClientLimiterHoldsAcrossInstances: three limiters over one database
// (three instances) let a client through burst requests in total, however
// the requests are spread and however many arrive at once; the others are
// refused with a wait of at most one interval. Another client has its own
// budget, and new limits start new buckets.
func TestClientLimiterHoldsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	const burst = 5
	secret := []byte("limiter test " + time.Now().String())
	instances := []*ClientLimiter{
		NewClientLimiter(db, 0.1, burst, secret),
		NewClientLimiter(db, 0.1, burst, secret),
		NewClientLimiter(db, 0.1, burst, secret),
	}
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		passed, refused int
		longest         time.Duration
	)
	for i := range 40 {
		wg.Go(func() {
			err := instances[i%len(instances)].Take(ctx, "203.0.113.7")
			mu.Lock()
			defer mu.Unlock()
			var rl *RateLimitError
			switch {
			case err == nil:
				passed++
			case errors.As(err, &rl):
				refused++
				longest = max(longest, rl.RetryAfter)
				if rl.RetryAfter <= 0 {
					t.Errorf("refused with Retry-After %v", rl.RetryAfter)
				}
			default:
				t.Errorf("take: %v", err)
			}
		})
	}
	wg.Wait()
	if passed != burst || refused != 40-burst {
		t.Errorf("40 concurrent requests over 3 instances: %d passed, %d refused; want %d and %d", passed, refused, burst, 40-burst)
	}
	if longest > 10*time.Second {
		t.Errorf("longest Retry-After %v, want at most one interval (10s)", longest)
	}
	if err := instances[1].Take(ctx, "198.51.100.9"); err != nil {
		t.Errorf("another client: %v, want its own budget", err)
	}
	if err := NewClientLimiter(db, 1, burst, secret).Take(ctx, "203.0.113.7"); err != nil {
		t.Errorf("the same client under new limits: %v, want a new bucket", err)
	}
}

// TestClientLimiterRefills: a spent budget comes back at the rate, and
// the sweep deletes only buckets that are full again.
func TestClientLimiterRefills(t *testing.T) {
	ctx := context.Background()
	l := NewClientLimiter(db, 20, 1, []byte("refill test "+time.Now().String()))
	if err := l.Take(ctx, "client"); err != nil {
		t.Fatal(err)
	}
	var rl *RateLimitError
	if err := l.Take(ctx, "client"); !errors.As(err, &rl) {
		t.Fatalf("second request at once: %v, want refused", err)
	}
	time.Sleep(rl.RetryAfter + 10*time.Millisecond)
	if err := l.Take(ctx, "client"); err != nil {
		t.Errorf("after Retry-After (%v): %v, want let through", rl.RetryAfter, err)
	}
	if err := db.Create(&models.AuthRateLimit{Key: "stale-" + time.Now().String(), TAT: time.Now().Add(-time.Minute)}).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&models.AuthRateLimit{Key: "live-" + time.Now().String(), TAT: time.Now().Add(time.Hour)}).Error; err != nil {
		t.Fatal(err)
	}
	if n, err := l.Sweep(ctx); err != nil || n < 1 {
		t.Errorf("sweep: %d rows, %v; want the stale one at least", n, err)
	}
	var stale, live int64
	db.Model(&models.AuthRateLimit{}).Where("tat < now()").Count(&stale)
	db.Model(&models.AuthRateLimit{}).Where("key LIKE 'live-%'").Count(&live)
	if stale != 0 || live != 1 {
		t.Errorf("after the sweep: %d full buckets, %d live; want 0 and 1", stale, live)
	}
}
