package services

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestBetterAuthKeysBeforeTheServerAnswers: an API that starts before its
// auth server (a deploy, two cold starts at once) answers a token that
// could be good with ErrKeysUnavailable (503), never ErrUnauthorized (401,
// which signs the user out), and a token wrong on its face with
// ErrUnauthorized without fetching; a flood of such tokens costs the auth
// server a bounded number of fetches; once the server answers, its tokens
// work within about a second; and the failed fetches used up nothing: a
// key rotation right after is picked up at once.
func TestBetterAuthKeysBeforeTheServerAnswers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k1, k2 := newBAKey(t, "EdDSA"), newBAKey(t, "EdDSA")
	srv := newBAServer(t, k1)
	srv.down.Store(true)
	auth := newBAAuth(t, srv, nil, time.Minute) // one rotation fetch a minute
	go auth.RunBetterAuthKeys(ctx)
	sub := uniqueSub("cold-")
	good := func(k baKey) string { return signBA(t, k, baClaims(sub, sub+"@example.com")) }

	// Down: a good-looking token is 503 after waiting at most about
	// coldWait; wrong ones are 401 at once.
	start := time.Now()
	if _, err := auth.Caller(ctx, good(k1)); !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrUnauthorized) {
		t.Fatalf("token while the auth server never answered: %v; want ErrKeysUnavailable and not ErrUnauthorized", err)
	}
	if d := time.Since(start); d > coldWait+2*time.Second {
		t.Errorf("the refusal took %s; want about %s at most", d, coldWait)
	}
	for name, tok := range map[string]string{
		"expired": signBA(t, k1, func() map[string]any {
			c := baClaims(sub, "x@example.com")
			c["exp"] = time.Now().Add(-time.Hour).Unix()
			return c
		}()),
		"other issuer": signBA(t, k1, func() map[string]any {
			c := baClaims(sub, "x@example.com")
			c["iss"] = "https://evil.example"
			return c
		}()),
		"not a JWT": "not.a.jwt",
		"HS256 instead": func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, baClaims(sub, "x@example.com"))
			tok.Header["kid"] = k1.kid
			s, _ := tok.SignedString([]byte("a shared secret the attacker picked"))
			return s
		}(),
	} {
		before := srv.fetches.Load()
		if _, err := auth.Caller(ctx, tok); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s token while the keys are unknown: %v; want ErrUnauthorized", name, err)
		}
		if n := srv.fetches.Load() - before; n > 1 { // the background loop may fetch meanwhile
			t.Errorf("%s token caused %d fetches", name, n)
		}
	}

	// A flood while down: the fetches stay bounded by the cold schedule
	// (one per coldGap for requests, the loop's own every coldRetryMax at
	// most), whatever the number of tokens.
	before, floodStart := srv.fetches.Load(), time.Now()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 4 {
				if _, err := auth.Caller(ctx, good(newBAKey(t, "EdDSA"))); !errors.Is(err, ErrKeysUnavailable) {
					t.Errorf("made-up key while down: %v; want ErrKeysUnavailable", err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(floodStart)
	limit := int64(elapsed/coldGap) + int64(elapsed/coldRetryFirst) + 2
	if n := srv.fetches.Load() - before; n > limit {
		t.Errorf("200 tokens in %s caused %d fetches; want at most %d", elapsed.Round(time.Millisecond), n, limit)
	} else {
		t.Logf("200 tokens while down for %s: %d fetches", elapsed.Round(time.Millisecond), n)
	}

	// The server answers: the same token works, within about a second.
	srv.down.Store(false)
	up := time.Now()
	tok := good(k1)
	for {
		_, err := auth.Caller(ctx, tok)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrKeysUnavailable) {
			t.Fatalf("token after the auth server came up: %v", err)
		}
		if time.Since(up) > 5*time.Second {
			t.Fatalf("token still refused %s after the auth server came up: %v", time.Since(up), err)
		}
	}
	t.Logf("first token accepted %s after the auth server came up", time.Since(up).Round(time.Millisecond))

	// The failed start-up fetches left the rotation allowance alone.
	srv.setKeys(k1, k2)
	if _, err := auth.Caller(ctx, good(k2)); err != nil {
		t.Errorf("token with a key added right after start-up: %v", err)
	}
}

// TestBetterAuthRefreshRetriesWithBackoff: a background refresh that fails
// once the keys are held is tried again within seconds (backoff), not
// only after the whole refresh interval; the keys held keep working.
func TestBetterAuthRefreshRetriesWithBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := newBAKey(t, "EdDSA")
	srv := newBAServer(t, k)
	auth := newTestAuth(t, AuthOptions{BetterAuth: &BetterAuthOptions{
		JWKSURL: srv.URL, Issuer: baIssuer, Audience: baAudience,
		Refresh: 4 * time.Second, MinRefresh: time.Second, FetchTimeout: time.Second,
	}})
	go auth.RunBetterAuthKeys(ctx)
	sub := uniqueSub("backoff-")
	tok := signBA(t, k, baClaims(sub, sub+"@example.com"))
	if _, err := auth.Caller(ctx, tok); err != nil {
		t.Fatal(err)
	}
	srv.down.Store(true)
	// Wait for the first failed refresh (at about the refresh interval).
	failedAt := srv.fetches.Load()
	deadline := time.Now().Add(10 * time.Second)
	for srv.fetches.Load() == failedAt && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	first := time.Now()
	n := srv.fetches.Load()
	// The retry comes after warmRetryFirst (± its jitter), well before
	// the next whole interval.
	for srv.fetches.Load() == n && time.Since(first) < 3*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if srv.fetches.Load() == n {
		t.Errorf("no retry within 3 s of a failed refresh (interval 4 s)")
	} else {
		t.Logf("failed refresh retried after %s", time.Since(first).Round(time.Millisecond))
	}
	if _, err := auth.Caller(ctx, tok); err != nil {
		t.Errorf("held key while refreshes fail: %v", err)
	}
}

// TestBetterAuthKeysFromAServerStillLoading: an auth server that accepts
// connections before it answers them (a Node.js app that binds its port,
// then loads) holds the first fetches; once it answers, its tokens work
// within a couple of seconds, not after the whole fetch timeout.
func TestBetterAuthKeysFromAServerStillLoading(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := newBAKey(t, "EdDSA")
	keys := newBAServer(t, k)
	var loading atomic.Bool
	loading.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loading.Load() {
			<-r.Context().Done() // never answers a request that came while loading
			return
		}
		keys.Config.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	auth := newTestAuth(t, AuthOptions{BetterAuth: &BetterAuthOptions{
		JWKSURL: srv.URL, Issuer: baIssuer, Audience: baAudience, FetchTimeout: 10 * time.Second,
	}})
	go auth.RunBetterAuthKeys(ctx)
	sub := uniqueSub("loading-")
	tok := signBA(t, k, baClaims(sub, sub+"@example.com"))
	time.Sleep(300 * time.Millisecond) // the first fetch is waiting on the loading server
	loading.Store(false)
	ready := time.Now()
	for {
		_, err := auth.Caller(ctx, tok)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrKeysUnavailable) {
			t.Fatal(err)
		}
		if time.Since(ready) > 5*time.Second {
			t.Fatalf("token still refused %s after the server finished loading (fetch timeout 10 s)", time.Since(ready))
		}
	}
	t.Logf("token accepted %s after the server finished loading", time.Since(ready).Round(time.Millisecond))
}

// TestJWKSRedirectsNotFollowed: a key set URL that answers with a redirect
// is a failed fetch (saying so), and the place it points to is never
// asked: whoever answers for the configured host cannot send this service
// to fetch keys elsewhere.
func TestJWKSRedirectsNotFollowed(t *testing.T) {
	ctx := context.Background()
	k := newBAKey(t, "EdDSA")
	elsewhere := newBAServer(t, k)
	redirector := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusFound))
	defer redirector.Close()
	auth := newTestAuth(t, AuthOptions{BetterAuth: &BetterAuthOptions{JWKSURL: redirector.URL, Issuer: baIssuer, Audience: baAudience}})
	sub := uniqueSub("redirect-")
	_, err := auth.Caller(ctx, signBA(t, k, baClaims(sub, sub+"@example.com")))
	if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "redirects are not followed") {
		t.Errorf("keys behind a redirect: %v; want ErrKeysUnavailable saying redirects are not followed", err)
	}
	if n := elsewhere.fetches.Load(); n != 0 {
		t.Errorf("the redirect's target was fetched %d times", n)
	}
}
