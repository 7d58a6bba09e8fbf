package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
)

// baDir is the Node project of the real Better Auth app (better-auth from
// npm, pinned by its package-lock.json) that these tests run.
const baDir = "betterauth"

// baSecret is the Better Auth app's own secret (cookies, key encryption);
// it has nothing to do with this service's BETTER_AUTH_SECRET.
const baSecret = "better-auth-app-secret-for-e2e-0123456789"

// needBetterAuthApp installs the Better Auth app's npm packages when they
// are missing or stale (see npmProject).
func needBetterAuthApp(t *testing.T) { npmProject(t, baDir) }

// baApp is a running Better Auth server.
type baApp struct {
	URL string
	// BasePath is where its routes are (Better Auth's basePath):
	// /api/auth unless BASE_PATH says otherwise (Neon Auth: /neondb/auth).
	BasePath string
	cmd      *exec.Cmd
	logs     *pgharness.LogBuffer
	done     chan struct{}
}

// startBetterAuth runs e2e/betterauth/server.mjs on dbURL with env added,
// and waits for its READY line. It is stopped when the test ends.
func startBetterAuth(t *testing.T, dbURL string, env map[string]string) *baApp {
	t.Helper()
	dir, err := filepath.Abs(baDir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "PORT=0", "BETTER_AUTH_SECRET="+baSecret, "BETTER_AUTH_TEST_ROUTES=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	a := &baApp{BasePath: "/api/auth", cmd: cmd, logs: &pgharness.LogBuffer{}, done: make(chan struct{})}
	if p := env["BASE_PATH"]; p != "" {
		a.BasePath = p
	}
	cmd.Stderr = a.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			a.logs.Write([]byte(line + "\n"))
			if u, ok := strings.CutPrefix(line, "READY "); ok {
				ready <- u
			}
		}
		cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			t.Logf("Better Auth server logs:\n%s", a.logs.String())
		}
	})
	select {
	case a.URL = <-ready:
	case <-a.done:
		t.Fatalf("the Better Auth server exited before it was ready:\n%s", a.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the Better Auth server was not ready within 60 s:\n%s", a.logs.String())
	}
	return a
}

// Stop ends the server (SIGTERM, then SIGKILL) and waits for it.
func (a *baApp) Stop() {
	select {
	case <-a.done:
		return
	default:
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
}

// baUser is a user of the Better Auth app with a live session.
type baUser struct {
	Email  string
	ID     string // Better Auth's user id, the tokens' sub
	cookie string // the session cookie, name=value
}

// signUp signs a user up through Better Auth's HTTP API, as the frontend
// does, and keeps the session cookie.
func (a *baApp) signUp(t *testing.T, email string) baUser {
	t.Helper()
	c := newClient(a.URL)
	r := c.do("POST", a.BasePath+"/sign-up/email", "", map[string]any{"email": email, "password": "correct horse battery", "name": "E2E " + email})
	var body struct {
		User struct{ ID string } `json:"user"`
	}
	r.expect(t, http.StatusOK, &body)
	u := baUser{Email: email, ID: body.User.ID}
	for _, sc := range (&http.Response{Header: r.Header}).Cookies() {
		if strings.HasSuffix(sc.Name, "session_token") {
			u.cookie = sc.Name + "=" + sc.Value
		}
	}
	if u.ID == "" || u.cookie == "" {
		t.Fatalf("sign-up answered no user id or session cookie: %s %v", r.Body, r.Header["Set-Cookie"])
	}
	return u
}

// token fetches a JWT for u from GET /api/auth/token, as authClient.token()
// does.
func (a *baApp) token(t *testing.T, u baUser) string {
	t.Helper()
	var body struct{ Token string }
	newClient(a.URL).do("GET", a.BasePath+"/token", "", nil, "Cookie", u.cookie).expect(t, http.StatusOK, &body)
	if strings.Count(body.Token, ".") != 2 {
		t.Fatalf("GET /api/auth/token: not a JWT: %q", body.Token)
	}
	return body.Token
}

// jwtPart decodes the header (0) or payload (1) of a JWT.
func jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// withHeader re-encodes a token's header with changes, keeping payload and
// signature.
func withHeader(t *testing.T, token string, change map[string]any) string {
	t.Helper()
	h := jwtPart(t, token, 0)
	for k, v := range change {
		h[k] = v
	}
	raw, _ := json.Marshal(h)
	parts := strings.Split(token, ".")
	return base64.RawURLEncoding.EncodeToString(raw) + "." + parts[1] + "." + parts[2]
}

// TestBetterAuthFrontend drives this API with nothing but the tokens a real
// Better Auth app (better-auth from npm, jwt() plugin, its own PostgreSQL
// database, its schema from its own migrator) issues: provisioning, todos,
// isolation between users, every kind of bad token, key rotation, and the
// Better Auth server going away.
func TestBetterAuthFrontend(t *testing.T) {
	needBetterAuthApp(t)

	baDB := testdb.Fresh(t)
	ba := startBetterAuth(t, baDB, nil)
	// Two more servers of the same app (same database, so the same users
	// and signing keys) that sign tokens this API must refuse: one for
	// another audience, one whose tokens are already expired.
	var other, expired *baApp
	var wg sync.WaitGroup
	wg.Go(func() {
		other = startBetterAuth(t, baDB, map[string]string{"JWT_ISSUER": ba.URL, "JWT_AUDIENCE": "https://another-api.example"})
	})
	wg.Go(func() {
		expired = startBetterAuth(t, baDB, map[string]string{"JWT_ISSUER": ba.URL, "JWT_AUDIENCE": ba.URL, "JWT_EXPIRATION": "2 hours ago"})
	})
	wg.Wait()

	apiDB := testdb.Fresh(t)
	s := startServer(t, map[string]string{
		"DATABASE_URL":                 apiDB,
		"BETTER_AUTH_URL":              ba.URL,
		"BETTER_AUTH_JWKS_MIN_REFRESH": "200ms",
	})
	api := newClient(s.URL)

	alice := ba.signUp(t, fmt.Sprintf("alice-%d@example.com", time.Now().UnixNano()))
	tok := ba.token(t, alice)
	h, p := jwtPart(t, tok, 0), jwtPart(t, tok, 1)
	t.Logf("Better Auth token: header %v; claims iss=%v aud=%v sub=%v exp-iat=%vs", h, p["iss"], p["aud"], p["sub"], p["exp"].(float64)-p["iat"].(float64))
	if h["alg"] != "EdDSA" || h["kid"] == nil || p["sub"] != alice.ID {
		t.Fatalf("unexpected token shape: header %v, claims %v", h, p)
	}

	// The first request provisions the user; the token is all it takes.
	var me struct {
		ID       int64  `json:"id"`
		Email    string `json:"email"`
		Username string `json:"username"`
		IsActive bool   `json:"is_active"`
	}
	api.do("GET", "/api/v1/users/me", tok, nil).expect(t, http.StatusOK, &me)
	if me.Email != alice.Email || !me.IsActive || me.ID == 0 {
		t.Fatalf("provisioned user: %+v", me)
	}
	var todo struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
	}
	created := api.do("POST", "/api/v1/todos", tok, map[string]any{"title": "from a Better Auth user"})
	created.expect(t, http.StatusCreated, &todo)
	var page apiPage
	api.do("GET", "/api/v1/todos", tok, nil).expect(t, http.StatusOK, &page)
	if page.Total != 1 || page.Items[0].ID != todo.ID {
		t.Fatalf("list: %+v", page)
	}
	api.do("PATCH", fmt.Sprintf("/api/v1/todos/%d", todo.ID), tok, map[string]any{"completed": true}).expect(t, http.StatusOK, nil)

	// A second token of the same user (and the one get-session hands out)
	// is the same local user.
	var again struct{ ID int64 }
	api.do("GET", "/api/v1/users/me", ba.token(t, alice), nil).expect(t, http.StatusOK, &again)
	sess := newClient(ba.URL).do("GET", "/api/auth/get-session", "", nil, "Cookie", alice.cookie)
	sessTok := sess.Header.Get("Set-Auth-Jwt")
	if sess.Status != http.StatusOK || sessTok == "" {
		t.Fatalf("get-session: %d, set-auth-jwt %q", sess.Status, sessTok)
	}
	var viaSession struct{ ID int64 }
	api.do("GET", "/api/v1/users/me", sessTok, nil).expect(t, http.StatusOK, &viaSession)
	if again.ID != me.ID || viaSession.ID != me.ID {
		t.Fatalf("same Better Auth user, other tokens: users %d and %d, want %d", again.ID, viaSession.ID, me.ID)
	}

	// Another Better Auth user sees none of it.
	bob := ba.signUp(t, fmt.Sprintf("bob-%d@example.com", time.Now().UnixNano()))
	bobTok := ba.token(t, bob)
	api.do("GET", fmt.Sprintf("/api/v1/todos/%d", todo.ID), bobTok, nil).expect(t, http.StatusNotFound, nil)
	var bobPage apiPage
	api.do("GET", "/api/v1/todos", bobTok, nil).expect(t, http.StatusOK, &bobPage)
	if bobPage.Total != 0 {
		t.Fatalf("bob sees %d todos", bobPage.Total)
	}

	// Provisioning race: a new user's first 16 requests at once.
	carol := ba.signUp(t, fmt.Sprintf("carol-%d@example.com", time.Now().UnixNano()))
	carolTok := ba.token(t, carol)
	ids := make([]int64, 16)
	statuses := make([]int, 16)
	start := make(chan struct{})
	for i := range ids {
		wg.Go(func() {
			<-start
			r := api.do("GET", "/api/v1/users/me", carolTok, nil)
			var u struct{ ID int64 }
			json.Unmarshal(r.Body, &u)
			ids[i], statuses[i] = u.ID, r.Status
		})
	}
	close(start)
	wg.Wait()
	for i := range ids {
		if statuses[i] != http.StatusOK || ids[i] != ids[0] {
			t.Fatalf("concurrent first requests: statuses %v, users %v", statuses, ids)
		}
	}
	if n := countRows(t, apiDB, "SELECT count(*) FROM users WHERE auth_subject = $1", carol.ID); n != 1 {
		t.Fatalf("16 concurrent first requests made %d users, want 1", n)
	}
	t.Logf("provisioning race: 16 concurrent first requests, all 200 as user %d, %d row", ids[0], 1)

	// Tokens that must be refused, each with its reason.
	otherAud := other.token(t, alice)
	expiredTok := expired.token(t, alice)
	if a := jwtPart(t, otherAud, 1)["aud"]; a != "https://another-api.example" {
		t.Fatalf("the other-audience server signed aud %v", a)
	}
	if c := jwtPart(t, expiredTok, 1); c["exp"].(float64) > float64(time.Now().Add(-time.Hour).Unix()) || c["aud"] != ba.URL || c["iss"] != ba.URL {
		t.Fatalf("the expired-token server signed %v", c)
	}
	if kid := jwtPart(t, otherAud, 0)["kid"]; kid != h["kid"] {
		t.Fatalf("the other-audience token is signed with key %v, not the app's key %v", kid, h["kid"])
	}
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)-1] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	attacks := []struct{ name, token string }{
		{"another audience", otherAud},
		{"expired", expiredTok},
		{"tampered signature", tampered},
		{"alg changed to ES256", withHeader(t, tok, map[string]any{"alg": "ES256"})},
		{"alg changed to HS256", withHeader(t, tok, map[string]any{"alg": "HS256"})},
		{"alg none", withHeader(t, tok, map[string]any{"alg": "none"})},
		{"unknown kid", withHeader(t, tok, map[string]any{"kid": "no-such-key-id"})},
		{"no kid", withHeader(t, tok, map[string]any{"kid": nil})},
	}
	for _, a := range attacks {
		r := api.do("GET", "/api/v1/users/me", a.token, nil)
		t.Logf("attack token %-22s → %d", a.name, r.Status)
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s (WWW-Authenticate %q), want a 401 problem", a.name, r.Status, r.Header.Get("Content-Type"), r.Header.Get("WWW-Authenticate"))
		}
	}

	// A Better Auth user whose email a local account already holds gets an
	// account of its own: not merged into the local one, and not locked out
	// with a 409 (anyone could register a Better Auth user's email here
	// first).
	localEmail := fmt.Sprintf("dora-%d@example.com", time.Now().UnixNano())
	var local struct{ ID int64 }
	api.do("POST", "/api/v1/auth/register", "", map[string]any{"email": localEmail, "username": fmt.Sprintf("dora%d", time.Now().UnixNano()%1e9), "password": "local password 1"}).expect(t, http.StatusCreated, &local)
	dora := ba.signUp(t, localEmail)
	var doraHere struct {
		ID    int64
		Email string
	}
	api.do("GET", "/api/v1/users/me", ba.token(t, dora), nil).expect(t, http.StatusOK, &doraHere)
	if doraHere.ID == local.ID || doraHere.Email != localEmail {
		t.Fatalf("the Better Auth user with a local account's email: %+v (local account %d); want an account of its own", doraHere, local.ID)
	}

	// Key rotation on the Better Auth side: new tokens carry a new kid,
	// picked up without restarting this API.
	var rotated struct{ Kid string }
	newClient(ba.URL).do("POST", "/test/rotate-keys", "", nil).expect(t, http.StatusOK, &rotated)
	time.Sleep(250 * time.Millisecond) // past BETTER_AUTH_JWKS_MIN_REFRESH after the unknown-kid attack
	newTok := ba.token(t, alice)
	if kid := jwtPart(t, newTok, 0)["kid"]; kid != rotated.Kid || kid == h["kid"] {
		t.Fatalf("after rotation the token's kid is %v (rotated to %s, was %v)", kid, rotated.Kid, h["kid"])
	}
	api.do("GET", "/api/v1/todos", newTok, nil).expect(t, http.StatusOK, nil)
	api.do("GET", "/api/v1/todos", tok, nil).expect(t, http.StatusOK, nil) // the old key is still published

	// The Better Auth servers go away: tokens whose keys are held keep
	// working; a key never seen is still a 401, answered at once.
	for _, a := range []*baApp{ba, other, expired} {
		a.Stop()
	}
	api.do("GET", "/api/v1/todos", newTok, nil).expect(t, http.StatusOK, nil)
	api.do("POST", "/api/v1/todos", bobTok, map[string]any{"title": "while Better Auth is down"}).expect(t, http.StatusCreated, nil)
	time.Sleep(250 * time.Millisecond)
	began := time.Now()
	api.do("GET", "/api/v1/todos", withHeader(t, tok, map[string]any{"kid": "rotated-while-down"}), nil).expect(t, http.StatusUnauthorized, nil)
	if d := time.Since(began); d > 6*time.Second {
		t.Errorf("an unknown kid with the JWKS down took %s", d)
	}

	// Deactivation here locks the Better Auth user out, and the next token
	// does not create the user again.
	api.do("DELETE", "/api/v1/users/me", newTok, nil).expect(t, http.StatusNoContent, nil)
	api.do("GET", "/api/v1/todos", newTok, nil).expect(t, http.StatusUnauthorized, nil)
	api.do("GET", "/api/v1/users/me", sessTok, nil).expect(t, http.StatusUnauthorized, nil)
	if n := countRows(t, apiDB, "SELECT count(*) FROM users WHERE auth_subject = $1", alice.ID); n != 1 {
		t.Fatalf("after deactivation %d rows for alice, want 1", n)
	}
	// Our own login keeps working beside it.
	api.do("POST", "/api/v1/auth/login", "", map[string]any{"username": localEmail, "password": "local password 1"}).expect(t, http.StatusOK, nil)
}
