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
	"golang.org/x/time/rate"
)

// maxJWKSBytes bounds a JWKS answer; a real one is a few kilobytes.
const maxJWKSBytes = 1 << 20

// jwksCache holds the public keys of a JWKS endpoint. Keys are parsed and
// stored by jwkset; this type decides when to fetch:
//
//   - in the background every refresh interval, so that removed keys go
//     away and new ones arrive before they are needed;
//   - when a token names a key id it does not hold (a rotation), at most
//     once per minRefresh and without waiting: a flood of tokens with made-
//     up key ids costs the auth server one fetch per minRefresh, and the
//     tokens that find no fetch allowed are refused at once, never queued;
//   - never while a fetch is running: requests that miss wait for it.
//
// A failed fetch keeps the keys already held, so tokens signed with them
// keep working while the endpoint is down.
type jwksCache struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	refresh    time.Duration
	log        *slog.Logger
	keys       *jwkset.MemoryJWKSet
	unknownKID *rate.Limiter

	mu       sync.Mutex
	inflight chan struct{} // closed when the running fetch ends; nil when none runs
	lastErr  error         // the last fetch's error, nil after a success
}

func newJWKSCache(url string, refresh, minRefresh, timeout time.Duration, client *http.Client, log *slog.Logger) *jwksCache {
	if client == nil {
		client = &http.Client{}
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
	}
}

// run fetches now and then every refresh interval until ctx ends.
func (c *jwksCache) run(ctx context.Context) {
	c.unknownKID.Allow() // the fetch below counts as the first refresh
	c.refreshNow(ctx, false)
	t := time.NewTicker(c.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.refreshNow(ctx, false)
		}
	}
}

// key returns the key with id kid, fetching the set once more if it is
// unknown: joining a fetch already running, or starting one if the
// unknown-kid limit allows; otherwise the key is refused at once.
func (c *jwksCache) key(ctx context.Context, kid string) (jwkset.JWK, error) {
	k, err := c.keys.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) {
		return k, err
	}
	ran, err := c.refreshNow(ctx, true)
	if !ran {
		return jwkset.JWK{}, fmt.Errorf("unknown key id %q (key set fetched recently)", kid)
	}
	if err != nil {
		return jwkset.JWK{}, fmt.Errorf("unknown key id %q; fetching the key set: %w", kid, err)
	}
	return c.keys.KeyRead(ctx, kid)
}

// refreshNow fetches the key set, or waits for the fetch already running.
// With limited, a new fetch starts only if the unknown-kid limiter allows
// one; ran is false when none started and none was running.
func (c *jwksCache) refreshNow(ctx context.Context, limited bool) (ran bool, err error) {
	c.mu.Lock()
	done := c.inflight
	start := done == nil && (!limited || c.unknownKID.Allow())
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
	err = c.fetch(context.WithoutCancel(ctx))
	c.mu.Lock()
	failedBefore := c.lastErr != nil
	c.lastErr, c.inflight = err, nil
	c.mu.Unlock()
	close(done)
	switch {
	case err != nil:
		c.log.Warn("Better Auth key set: fetch failed; the keys already held stay in use", "url", c.url, "err", err)
	case failedBefore:
		c.log.Info("Better Auth key set: fetched again after failures", "url", c.url)
	}
	return true, err
}

// fetch downloads and parses the key set and replaces the keys held. A set
// in which no key can be used is an error and replaces nothing.
func (c *jwksCache) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
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
