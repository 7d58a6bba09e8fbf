package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/testdb"
)

// TestNeonAuthShapedServer runs a real Better Auth server set up the way
// Neon Auth is (routes under /neondb/auth, keys at /.well-known/jwks.json,
// issuer and audience the origin, EdDSA, the admin plugin's banned flag)
// and this API with nothing but NEON_AUTH_BASE_URL, local accounts off:
// its tokens work, a banned user's token is refused, register is a 404,
// and logout ends a Neon Auth token.
func TestNeonAuthShapedServer(t *testing.T) {
	needBetterAuthApp(t)
	port := strconv.Itoa(freePort(t))
	origin := "http://127.0.0.1:" + port
	ba := startBetterAuth(t, testdb.Fresh(t), map[string]string{
		"PORT":         port,
		"BASE_PATH":    "/neondb/auth",
		"JWKS_PATH":    "/.well-known/jwks.json",
		"JWT_ISSUER":   origin,
		"JWT_AUDIENCE": origin,
		"ADMIN_PLUGIN": "1",
	})
	s := startServer(t, map[string]string{"NEON_AUTH_BASE_URL": origin + "/neondb/auth", "LOCAL_AUTH": "false"})
	api := newClient(s.URL)

	email := fmt.Sprintf("neon-%d@example.com", time.Now().UnixNano())
	user := ba.signUp(t, email)
	tok := ba.token(t, user)
	h, c := jwtPart(t, tok, 0), jwtPart(t, tok, 1)
	if h["alg"] != "EdDSA" || c["iss"] != origin || c["aud"] != origin || c["banned"] != false {
		t.Fatalf("not a Neon Auth-shaped token: header %v, claims %v", h, c)
	}
	var me struct{ Email string }
	api.do("GET", "/api/v1/users/me", tok, nil).expect(t, http.StatusOK, &me)
	if me.Email != email {
		t.Fatalf("users/me: %+v, want %s", me, email)
	}
	api.do("POST", "/api/v1/todos", tok, map[string]any{"title": "from Neon Auth"}).expect(t, http.StatusCreated, nil)
	api.do("POST", "/api/v1/auth/register", "", map[string]any{"email": "x" + email, "username": "neon_local", "password": "correct horse battery"}).expect(t, http.StatusNotFound, nil)

	// Logout ends that token here, and only it.
	other := ba.token(t, user)
	api.do("POST", "/api/v1/auth/logout", other, nil).expect(t, http.StatusNoContent, nil)
	api.do("GET", "/api/v1/todos", other, nil).expect(t, http.StatusUnauthorized, nil)
	if other != tok {
		api.do("GET", "/api/v1/todos", tok, nil).expect(t, http.StatusOK, nil)
	}

	// Banned by the auth server: the user's next token says so and is
	// refused.
	newClient(ba.URL).do("POST", "/test/ban?email="+url.QueryEscape(email), "", nil).expect(t, http.StatusOK, nil)
	banned := ba.token(t, user)
	if jwtPart(t, banned, 1)["banned"] != true {
		t.Fatalf("the token after the ban says banned=%v", jwtPart(t, banned, 1)["banned"])
	}
	r := api.do("GET", "/api/v1/todos", banned, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("banned user's token: %d %s, want 401", r.Status, r.Body)
	}
}
