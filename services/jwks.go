package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"
)

// maxJWKSBytes bounds a JWKS answer; a real one is a few kilobytes.
const maxJWKSBytes = 1 << 20

// jwksCache holds the public keys of a JWKS endpoint. Keys are parsed and
// stored by jwkset; this type decides when to fetch:
//
//   - until a fetch has succeeded once (the auth server may start after
//     this API, or be down when it starts), in the background with a short
//     backoff (coldRetry: 100 ms growing to 500 ms), and for a request
//     that needs a key at most once per coldGap; a request waits for the
//     first key set up to coldWait, then gets ErrKeysUnavailable (503): the
//     token cannot be judged yet, and a 401 would sign its user out;
//   - then in the background every refresh interval, so that removed keys
//     go away and new ones arrive before they are needed; a failed refresh
//     is retried with backoff (warmRetry: 1 s growing to a minute, never
//     beyond the refresh interval), keeping the keys already held;
//   - when a token names a key id not held (a rotation), at most once per
//     minRefresh and without waiting: a flood of tokens with made-up key
//     ids costs the auth server one fetch per minRefresh, and the tokens
//     that find no fetch allowed are refused (401) at once, never queued;
//   - never while a fetch is running: requests that miss wait for it.
type jwksCache struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	refresh    time.Duration
	log        *slog.Logger
	keys       *jwkset.MemoryJWKSet
	unknownKID *rate.Limiter
	// coldFetch spaces the fetches requests start before the first key set
	// arrived.
	coldFetch *rate.Limiter

	mu       sync.Mutex
	inflight chan struct{} // closed when the running fetch ends; nil when none runs
	lastErr  error         // the last fetch's error, nil after a success
	// loaded is closed by the first fetch that succeeds.
	loaded     chan struct{}
	loadedOnce sync.Once
	// failures counts fetches failed in a row; lastWarn is when one was
	// last logged as a warning (at most once a minute while they go on).
	failures int
	lastWarn time.Time
	// timeouts counts fetches in a row that ran out of time before the
	// first key set arrived (see fetchTimeout).
	timeouts int
}

// The fetch schedule before the first key set arrived, and of retries
// after a failed background refresh (see jwksCache).
const (
	coldGap          = 250 * time.Millisecond
	coldWait         = time.Second
	coldFetchTimeout = time.Second
	coldRetryFirst   = 100 * time.Millisecond
	coldRetryMax     = 500 * time.Millisecond
	warmRetryFirst   = time.Second
	warmRetryMax     = time.Minute
	failureWarnEvery = time.Minute
)

func newJWKSCache(url string, refresh, minRefresh, timeout time.Duration, client *http.Client, log *slog.Logger) *jwksCache {
	if client == nil {
		client = &http.Client{
			// The key set is at the configured URL, checked at start
			// (https in production). Following a redirect would let that
			// host, or whoever answers for it, send this service to fetch
			// keys from anywhere, an http:// address included.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &jwksCache{
		url:        url,
		client:     client,
		timeout:    timeout,
		refresh:    refresh,
		log:        log,
		keys:       jwkset.NewMemoryStorage(),
		unknownKID: rate.NewLimiter(rate.Every(minRefresh), 1),
		coldFetch:  rate.NewLimiter(rate.Every(coldGap), 1),
		loaded:     make(chan struct{}),
	}
}

// isLoaded tells whether a key set has ever been fetched.
func (c *jwksCache) isLoaded() bool {
	select {
	case <-c.loaded:
		return true
	default:
		return false
	}
}

// run fetches now and then every refresh interval until ctx ends; a failed
// fetch is retried with backoff, short while no key set was ever fetched.
func (c *jwksCache) run(ctx context.Context) {
	cold := &backoff.ExponentialBackOff{InitialInterval: coldRetryFirst, RandomizationFactor: 0.2, Multiplier: 2, MaxInterval: coldRetryMax}
	warm := &backoff.ExponentialBackOff{InitialInterval: warmRetryFirst, RandomizationFactor: 0.2, Multiplier: 2, MaxInterval: min(warmRetryMax, c.refresh)}
	for {
		_, err := c.refreshNow(ctx, nil)
		wait := c.refresh
		switch {
		case err == nil:
			cold.Reset()
			warm.Reset()
		case c.isLoaded():
			wait = warm.NextBackOff()
		default:
			wait = cold.NextBackOff()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// key returns the key with id kid. One not held is looked for once more:
// before the first key set arrived, by a fetch (or the wait for one, see
// jwksCache), ErrKeysUnavailable if none arrives; after it, by joining a
// fetch already running or starting one if the unknown-kid limit allows;
// otherwise the key is refused at once.
func (c *jwksCache) key(ctx context.Context, kid string) (jwkset.JWK, error) {
	k, err := c.keys.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) {
		return k, err
	}
	if !c.isLoaded() {
		return c.firstKey(ctx, kid)
	}
	ran, err := c.refreshNow(ctx, c.unknownKID)
	if !ran {
		return jwkset.JWK{}, fmt.Errorf("unknown key id %q (key set fetched recently)", kid)
	}
	if err != nil {
		return jwkset.JWK{}, fmt.Errorf("unknown key id %q; fetching the key set: %w", kid, err)
	}
	return c.keys.KeyRead(ctx, kid)
}

// firstKey is key before any key set was fetched: it fetches now, or, when
// a request fetched within coldGap, waits up to coldWait for the first key
// set (the background loop keeps trying).
func (c *jwksCache) firstKey(ctx context.Context, kid string) (jwkset.JWK, error) {
	ran, err := c.refreshNow(ctx, c.coldFetch)
	if !ran {
		t := time.NewTimer(coldWait)
		select {
		case <-c.loaded:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	if !c.isLoaded() {
		if err == nil {
			c.mu.Lock()
			err = c.lastErr
			c.mu.Unlock()
		}
		return jwkset.JWK{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	return c.keys.KeyRead(ctx, kid)
}

// refreshNow fetches the key set, or waits for the fetch already running.
// With a limiter, a new fetch starts only if it allows one; ran is false
// when none started and none was running.
func (c *jwksCache) refreshNow(ctx context.Context, limiter *rate.Limiter) (ran bool, err error) {
	c.mu.Lock()
	done := c.inflight
	start := done == nil && (limiter == nil || limiter.Allow())
	if start {
		done = make(chan struct{})
		c.inflight = done
	}
	c.mu.Unlock()
	if done == nil {
		return false, nil
	}
	if !start {
		select {
		case <-done:
		case <-ctx.Done():
			return true, ctx.Err()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return true, c.lastErr
	}
	// The fetch outlives a request that gives up: others may be waiting
	// for the same keys.
	err = c.fetch(context.WithoutCancel(ctx), c.fetchTimeout())
	c.mu.Lock()
	if errors.Is(err, context.DeadlineExceeded) {
		c.timeouts++
	} else {
		c.timeouts = 0
	}
	failedBefore := c.failures
	c.lastErr, c.inflight = err, nil
	warn := false
	if err != nil {
		c.failures++
		if now := time.Now(); c.failures == 1 || now.Sub(c.lastWarn) >= failureWarnEvery {
			warn, c.lastWarn = true, now
		}
	} else {
		c.failures = 0
		c.loadedOnce.Do(func() { close(c.loaded) })
	}
	failures := c.failures
	c.mu.Unlock()
	close(done)
	switch {
	case warn && c.isLoaded():
		c.log.Warn("Better Auth key set: fetch failed; the keys already held stay in use, retrying with backoff", "url", c.url, "failures_in_a_row", failures, "err", err)
	case warn:
		c.log.Warn("Better Auth key set: fetch failed and no key was ever fetched; its tokens get 503 until one is, retrying", "url", c.url, "failures_in_a_row", failures, "err", err)
	case err == nil && failedBefore > 0:
		c.log.Info("Better Auth key set: fetched after failures", "url", c.url, "failures", failedBefore)
	}
	return true, err
}

// fetchTimeout bounds the next fetch: the configured timeout once a key
// set has arrived; before that, coldFetchTimeout doubled for each fetch in
// a row that ran out of time, up to the configured one. A server that
// accepts connections before it answers them (a Node.js app binding its
// port, then loading) would otherwise hold the first fetch for the whole
// timeout after it has become ready, and its tokens with it; one that is
// merely slow still gets the time it needs, a few fetches later.
func (c *jwksCache) fetchTimeout() time.Duration {
	if c.isLoaded() {
		return c.timeout
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return min(c.timeout, coldFetchTimeout<<min(c.timeouts, 8))
}

// fetch downloads and parses the key set and replaces the keys held. A set
// in which no key can be used is an error and replaces nothing.
func (c *jwksCache) fetch(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); loc != "" {
			return fmt.Errorf("status %d, redirecting to %q: redirects are not followed; set the key set's own URL", resp.StatusCode, loc)
		}
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("key set larger than %d bytes", maxJWKSBytes)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for _, m := range set.Keys {
		if m.KID == "" {
			continue // tokens must name their key; an unnamed one is never chosen
		}
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			c.log.Warn("Better Auth key set: key skipped", "kid", m.KID, "err", err)
			continue
		}
		if m.USE != "" && m.USE != jwkset.UseSig {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return fmt.Errorf("no usable signing key among %d", len(set.Keys))
	}
	return c.keys.KeyReplaceAll(ctx, keys)
}
