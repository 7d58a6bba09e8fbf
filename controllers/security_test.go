package controllers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The HTTP side of the security rules: each test proves the wiring and the
// answer's shape; the rules themselves are tested in services.

// TestFailedLoginsLimitedPerAccount: after AUTH_FAILURE_LIMIT wrong
// passwords for one account from one client, that client gets 429 with
// Retry-After even with the right password; the owner at another address
// still logs in; PATCH /users/me's current_password counts the same way.
func TestFailedLoginsLimitedPerAccount(t *testing.T) {
	a := newAPI(t, map[string]string{"AUTH_FAILURE_LIMIT": "3", "AUTH_FAILURE_CLIENT_LIMIT": "10"})
	// The counters are shared by every test of the package (as by every
	// instance): start from none.
	if err := db.Exec("DELETE FROM auth_failures").Error; err != nil {
		t.Fatal(err)
	}
	acc := newAccount(t, a)
	const attacker, owner = "198.18.0.1:4000", "198.18.0.2:4000"
	wrong := map[string]any{"username": acc.Username, "password": "not-the-password"}
	for range 3 {
		expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: wrong, Peer: attacker}), http.StatusUnauthorized)
	}
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Username, "password": acc.Password}, Peer: attacker}), http.StatusTooManyRequests)
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 15*60 {
		t.Errorf("Retry-After = %q, want 1..900 seconds", r.Header.Get("Retry-After"))
	}
	if p := checkProblem(t, r); !strings.Contains(p.Detail, "password attempts") {
		t.Errorf("detail = %q", p.Detail)
	}
	login(t, a, acc.Username, acc.Password) // from the default peer
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Email, "password": acc.Password}, Peer: owner}), http.StatusOK)

	// A stolen token cannot brute-force current_password either.
	patch := func(pw string) response {
		return a.do(req{Method: "PATCH", Path: "/api/v1/users/me", Token: acc.Token, Peer: attacker, Body: map[string]any{"password": "brand-new-password", "current_password": pw}})
	}
	expect(t, patch("guess-number-1"), http.StatusTooManyRequests)
	other := newAccount(t, a)
	for range 3 {
		expect(t, a.do(req{Method: "PATCH", Path: "/api/v1/users/me", Token: other.Token, Peer: attacker, Body: map[string]any{"email": "x-" + other.Email, "current_password": "guess"}}), http.StatusUnprocessableEntity)
	}
	expect(t, a.do(req{Method: "PATCH", Path: "/api/v1/users/me", Token: other.Token, Peer: attacker, Body: map[string]any{"email": "x-" + other.Email, "current_password": other.Password}}), http.StatusTooManyRequests)
}

// TestLoginPasswordOver72Bytes: login refuses what register refuses;
// bcrypt would ignore the bytes past 72.
func TestLoginPasswordOver72Bytes(t *testing.T) {
	a := sharedAPI(t)
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": "someone", "password": strings.Repeat("p", 73)}}), http.StatusUnprocessableEntity)
	if p := checkProblem(t, r); len(p.Errors) != 1 || p.Errors[0].Field != "password" || !strings.Contains(p.Errors[0].Message, "72 bytes") {
		t.Errorf("errors = %+v, want password at most 72 bytes", p.Errors)
	}
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": "someone", "password": strings.Repeat("p", 72)}}), http.StatusUnauthorized)
}

// TestTrustedProxies: X-Forwarded-For names the client only when the peer
// is a trusted proxy; IPv6 clients share a bucket per /64.
func TestTrustedProxies(t *testing.T) {
	body := map[string]any{"username": "nobody_here", "password": "whatever-pass"}
	loginFrom := func(a *api, peer, xff string) int {
		h := map[string]string{}
		if xff != "" {
			h["X-Forwarded-For"] = xff
		}
		return a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: body, Peer: peer, Header: h}).Status
	}
	limits := map[string]string{"AUTH_RATE_LIMIT": "0.01", "AUTH_RATE_BURST": "1", "TRUSTED_PROXIES": "10.0.0.0/8"}

	t.Run("untrusted peer", func(t *testing.T) {
		a := newAPI(t, limits)
		if s := loginFrom(a, "198.18.1.1:1", "203.0.113.1"); s != http.StatusUnauthorized {
			t.Fatalf("first: %d", s)
		}
		if s := loginFrom(a, "198.18.1.1:1", "203.0.113.2"); s != http.StatusTooManyRequests {
			t.Errorf("a forged X-Forwarded-For from an untrusted peer changed the bucket: %d", s)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		a := newAPI(t, limits)
		if s := loginFrom(a, "10.1.2.3:1", "203.0.113.1"); s != http.StatusUnauthorized {
			t.Fatalf("first: %d", s)
		}
		if s := loginFrom(a, "10.1.2.3:1", "203.0.113.2"); s != http.StatusUnauthorized {
			t.Errorf("another client behind the trusted proxy shared the bucket: %d", s)
		}
		if s := loginFrom(a, "10.1.2.4:1", "203.0.113.1"); s != http.StatusTooManyRequests {
			t.Errorf("the same client through another proxy instance got a fresh bucket: %d", s)
		}
		// The client cannot prepend its own entry: the right-most
		// untrusted address counts.
		if s := loginFrom(a, "10.1.2.3:1", "198.51.100.77, 203.0.113.1"); s != http.StatusTooManyRequests {
			t.Errorf("a client-supplied X-Forwarded-For entry was believed: %d", s)
		}
	})
	t.Run("IPv6 per /64", func(t *testing.T) {
		a := newAPI(t, limits)
		if s := loginFrom(a, "[2001:db8:1:2::1]:1", ""); s != http.StatusUnauthorized {
			t.Fatalf("first: %d", s)
		}
		if s := loginFrom(a, "[2001:db8:1:2:ffff::9]:1", ""); s != http.StatusTooManyRequests {
			t.Errorf("another address in the same /64 got a fresh bucket: %d", s)
		}
		if s := loginFrom(a, "[2001:db8:1:3::1]:1", ""); s != http.StatusUnauthorized {
			t.Errorf("another /64 shared the bucket: %d", s)
		}
	})
}

// TestCacheHeaders: token and user responses are never stored; todos are
// private and revalidated; the docs page has a strict CSP.
func TestCacheHeaders(t *testing.T) {
	a := sharedAPI(t)
	name := valName("cache")
	acc := newAccount(t, a)
	reg := a.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": name + "@example.com", "username": name, "password": "password123"}})
	lg := a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Username, "password": acc.Password}})
	checks := []struct {
		name   string
		r      response
		status int
		cache  string
	}{
		{"register", reg, 201, "no-store"},
		{"login", lg, 200, "no-store"},
		{"GET /users/me", a.do(req{Method: "GET", Path: "/api/v1/users/me", Token: acc.Token}), 200, "no-store"},
		{"PATCH /users/me", a.do(req{Method: "PATCH", Path: "/api/v1/users/me", Token: acc.Token, Body: map[string]any{}}), 200, "no-store"},
		{"401", a.do(req{Method: "GET", Path: "/api/v1/users/me"}), 401, "no-store"},
		{"GET /todos", a.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token}), 200, "private, no-cache"},
	}
	for _, c := range checks {
		if c.r.Status != c.status || c.r.Header.Get("Cache-Control") != c.cache {
			t.Errorf("%s: %d, Cache-Control %q; want %d, %q", c.name, c.r.Status, c.r.Header.Get("Cache-Control"), c.status, c.cache)
		}
	}
	if lg.Header.Get("Pragma") != "no-cache" {
		t.Errorf("token response Pragma = %q, want no-cache (RFC 6749 §5.1)", lg.Header.Get("Pragma"))
	}

	docs := a.do(req{Method: "GET", Path: "/docs"})
	csp := docs.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("/docs CSP = %q, lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("/docs CSP = %q allows inline code or another origin", csp)
	}
	if api := a.do(req{Method: "GET", Path: "/healthz"}).Header.Get("Content-Security-Policy"); api != "default-src 'none'; frame-ancestors 'none'" {
		t.Errorf("API CSP = %q", api)
	}
}

// TestMetricsNotOnTheMainPortInProduction: production serves /metrics only
// on METRICS_ADDR (tested end to end in e2e); development (also a
// deployment that forgot ENV) serves it here to this machine only, by the
// peer address whatever X-Forwarded-For says, and not at all once
// METRICS_ADDR is set.
func TestMetricsNotOnTheMainPortInProduction(t *testing.T) {
	const local, remote = "127.0.0.1:40000", "198.51.100.9:40000"
	prod := newAPI(t, map[string]string{"ENV": "production", "BCRYPT_COST": "10"})
	expect(t, prod.do(req{Method: "GET", Path: "/metrics", Peer: local}), http.StatusNotFound)
	dev := newAPI(t, map[string]string{"ENV": "development", "TRUSTED_PROXIES": "198.51.100.0/24"})
	expect(t, dev.do(req{Method: "GET", Path: "/metrics", Peer: local}), http.StatusOK)
	expect(t, dev.do(req{Method: "GET", Path: "/metrics", Peer: "[::1]:40000"}), http.StatusOK)
	expect(t, dev.do(req{Method: "GET", Path: "/metrics", Peer: remote}), http.StatusNotFound)
	expect(t, dev.do(req{Method: "GET", Path: "/metrics", Peer: remote, Header: map[string]string{"X-Forwarded-For": "127.0.0.1"}}), http.StatusNotFound)
	elsewhere := newAPI(t, map[string]string{"ENV": "development", "METRICS_ADDR": "127.0.0.1:19090"})
	expect(t, elsewhere.do(req{Method: "GET", Path: "/metrics", Peer: local}), http.StatusNotFound)
}
