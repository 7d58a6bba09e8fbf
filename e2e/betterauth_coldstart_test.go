package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/testdb"
)

// TestBetterAuthStartsAfterTheAPI: the API and its auth server start
// together (a deploy, two serverless cold starts), and the API is first.
// While the auth server has never answered, a token of it gets 503 with
// Retry-After (never a 401, which would sign the user out); a token taken
// the moment the auth server first answers works on the API, which started
// 5 s earlier, within about a second.
func TestBetterAuthStartsAfterTheAPI(t *testing.T) {
	needBetterAuthApp(t)
	baDB := testdb.Fresh(t)
	port := strconv.Itoa(freePort(t))

	// A token from the auth server's first life, which this API never saw.
	first := startBetterAuth(t, baDB, map[string]string{"PORT": port})
	user := first.signUp(t, fmt.Sprintf("cold-%d@example.com", time.Now().UnixNano()))
	early := first.token(t, user)
	first.Stop()

	s := startServer(t, map[string]string{"BETTER_AUTH_URL": first.URL})
	api := newClient(s.URL)
	time.Sleep(5 * time.Second) // the scenario: the API has been up for 5 s
	for range 3 {
		r := api.do("GET", "/api/v1/todos", early, nil)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Fatalf("token while the auth server never answered: %d (Retry-After %q) %s; want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}

	// The auth server starts (same database: same users and keys).
	second := startBetterAuth(t, baDB, map[string]string{"PORT": port})
	fresh := second.token(t, user)
	taken := time.Now()
	statuses := map[int]int{}
	for {
		r := api.do("GET", "/api/v1/todos", fresh, nil)
		statuses[r.Status]++
		if r.Status == http.StatusOK {
			break
		}
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("token after the auth server came up: %d %s; want 503 until the keys are in, then 200", r.Status, r.Body)
		}
		if time.Since(taken) > 10*time.Second {
			t.Fatalf("token still refused %s after the auth server answered: %v", time.Since(taken), statuses)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(taken)
	t.Logf("a token taken the moment the auth server answered worked %s later (answers before: %v)", took.Round(time.Millisecond), statuses)
	if took > 3*time.Second {
		t.Errorf("the token took %s to work; the contract says about a second", took.Round(time.Millisecond))
	}
	api.do("GET", "/api/v1/todos", early, nil).expect(t, http.StatusOK, nil)
}
