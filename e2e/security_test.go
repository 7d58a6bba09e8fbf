package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/todo-api/todo-api/internal/testdb"
)

// publishedSecret was the development default once committed to the
// repository: anyone could sign tokens with it.
const publishedSecret = "development-only-secret-change-me-0123456789"

// TestNoSecretConfigured: with neither ENV nor BETTER_AUTH_SECRET set, serve
// generates a random secret, keeps it in ./.data/auth-secret (0600, never
// logged), refuses tokens signed with the once-published default, and
// accepts its own tokens after a restart.
func TestNoSecretConfigured(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"ENV": "", "BETTER_AUTH_SECRET": "", "DATABASE_URL": testdb.Fresh(t)}
	s := startServerIn(t, dir, env)

	path := filepath.Join(dir, ".data", "auth-secret")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no secret kept: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", perm)
	}
	secret, _ := os.ReadFile(path)
	if len(s.logLines("generated a random development secret")) != 1 {
		t.Errorf("the generation was not logged:\n%s", s.logs.String())
	}
	if strings.Contains(s.logs.String(), strings.TrimSpace(string(secret))) {
		t.Error("the generated secret appears in the logs")
	}

	c := newClient(s.URL)
	token := register(t, c, "nosecret")
	var me struct{ ID int64 }
	if r := c.do("GET", "/api/v1/users/me", token, nil); r.Status != http.StatusOK || r.json(&me) != nil {
		t.Fatalf("GET /users/me: %d %s", r.Status, r.Body)
	}
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": strconv.FormatInt(me.ID, 10), "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"iss": "todo-api", "aud": "todo-api", "ver": 0,
	}).SignedString([]byte(publishedSecret))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.do("GET", "/api/v1/users/me", forged, nil).Status; got != http.StatusUnauthorized {
		t.Errorf("token signed with the published default secret: %d, want 401", got)
	}

	s.Stop(t)
	s2 := startServerIn(t, dir, env)
	if len(s2.logLines("using the development secret")) != 1 {
		t.Errorf("the restarted server did not reuse the kept secret:\n%s", s2.logs.String())
	}
	if got := newClient(s2.URL).do("GET", "/api/v1/users/me", token, nil).Status; got != http.StatusOK {
		t.Errorf("token after a restart: %d, want 200", got)
	}
}

// TestProductionRefusesToStartWithoutSecret: fail closed.
func TestProductionRefusesToStartWithoutSecret(t *testing.T) {
	for name, secret := range map[string]string{"unset": "", "published default": publishedSecret} {
		t.Run(name, func(t *testing.T) {
			s := launchServerIn(t, t.TempDir(), map[string]string{"ENV": "production", "BETTER_AUTH_SECRET": secret, "BCRYPT_COST": "12", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"})
			if err := s.Wait(20 * time.Second); err == nil {
				t.Fatal("serve exited 0 without a usable secret in production")
			}
			if !strings.Contains(s.logs.String(), "BETTER_AUTH_SECRET") {
				t.Errorf("the refusal does not name BETTER_AUTH_SECRET:\n%s", s.logs.String())
			}
			if secret != "" && strings.Contains(s.logs.String(), secret) {
				t.Error("the refused secret was printed")
			}
		})
	}
}

// TestMetricsListener: in production /metrics is only on METRICS_ADDR.
func TestMetricsListener(t *testing.T) {
	port := freePort(t)
	s := startServer(t, map[string]string{"ENV": "production", "BCRYPT_COST": "10", "METRICS_ADDR": fmt.Sprintf("127.0.0.1:%d", port)})
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(s.URL + "/metrics"); code != http.StatusNotFound {
		t.Errorf("main port /metrics in production: %d, want 404", code)
	}
	code, body := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if code != http.StatusOK || !strings.Contains(body, "http_requests_total") {
		t.Errorf("METRICS_ADDR /metrics: %d, body has request counters: %v", code, strings.Contains(body, "http_requests_total"))
	}
	if code, _ := get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/todos", port)); code != http.StatusNotFound {
		t.Errorf("the metrics listener serves the API: %d", code)
	}
	// Profiles: on the private listener only.
	if code, body := get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", port)); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("METRICS_ADDR /debug/pprof/: %d", code)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		if code, _ := get(s.URL + path); code != http.StatusNotFound {
			t.Errorf("main port %s: %d, want 404", path, code)
		}
	}
}
