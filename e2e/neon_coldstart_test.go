package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/pgharness"
)

// TestNeonColdStart: serve started while the compute is down waits for it
// within DB_STARTUP_TIMEOUT and becomes ready without a restart; a database
// that never comes makes it exit non-zero soon after the budget, naming it.
func TestNeonColdStart(t *testing.T) {
	c := pgharness.StartCluster(t, pgharness.Options{})
	c.CreateDatabase("neondb", "")
	c.Stop()

	t.Run("wakes", func(t *testing.T) {
		s := launchServer(t, neonServerEnv(c.URLFor("neondb"), map[string]string{"DB_STARTUP_TIMEOUT": "20s"}))
		time.Sleep(2 * time.Second)
		if err := s.Wait(0); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("serve exited while the database was down: %v\n%s", err, s.logs.String())
		}
		retries := len(s.logLines("database not ready, retrying"))
		if retries == 0 {
			t.Errorf("no `database not ready, retrying` line while the database was down:\n%s", s.logs.String())
		}
		up := time.Now()
		c.Start()
		if err := s.waitReady(20 * time.Second); err != nil {
			t.Fatalf("not ready after the database came up: %v\n%s", err, s.logs.String())
		}
		t.Logf("database down 2s (%d retries logged); serve ready %s after it came up", retries, time.Since(up).Round(time.Millisecond))
		cl := newClient(s.URL)
		token := register(t, cl, "coldstart")
		if r := cl.do("POST", "/api/v1/todos", token, map[string]any{"title": "after a cold start"}); r.Status != 201 {
			t.Errorf("create after a cold start: %d %s", r.Status, r.Body)
		}
		s.Stop(t)
		c.Stop()
	})

	// A database that never answers: connection refused, and a black hole
	// that accepts TCP and never speaks (a proxy waiting for a compute).
	blackhole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var heldMu sync.Mutex
	go func() {
		for {
			conn, err := blackhole.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			held = append(held, conn)
			heldMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		blackhole.Close()
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	for _, tc := range []struct{ name, url string }{
		{"refused", c.URLFor("neondb")},
		{"black hole", fmt.Sprintf("postgres://postgres@%s/neondb?sslmode=disable", blackhole.Addr())},
	} {
		t.Run("never "+tc.name, func(t *testing.T) {
			const budget = 3 * time.Second
			start := time.Now()
			s := launchServer(t, neonServerEnv(tc.url, map[string]string{"DB_STARTUP_TIMEOUT": "3s"}))
			err := s.Wait(budget + 7*time.Second)
			elapsed := time.Since(start)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("serve still running %s after start with DB_STARTUP_TIMEOUT=3s: it hangs\n%s", elapsed.Round(time.Millisecond), s.logs.String())
			}
			code := s.cmd.ProcessState.ExitCode()
			t.Logf("exit %d after %s", code, elapsed.Round(time.Millisecond))
			if code == 0 {
				t.Errorf("exit status 0 without a database")
			}
			if elapsed > budget+3*time.Second {
				t.Errorf("exited after %s, want within the 3s budget plus 3s", elapsed.Round(time.Millisecond))
			}
			if elapsed < budget-200*time.Millisecond {
				t.Errorf("gave up after %s, before the 3s budget", elapsed.Round(time.Millisecond))
			}
			if !strings.Contains(s.logs.String(), "not reachable after") {
				t.Errorf("the error does not say the database was `not reachable after` the budget:\n%s", s.logs.String())
			}
		})
	}
}
