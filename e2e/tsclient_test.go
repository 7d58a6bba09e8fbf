package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tsDir is the Node project of the generated TypeScript client.
const tsDir = "tsclient"

// tsInstallHint says how to get Node.js and npm on this machine's kind.
const tsInstallHint = "install Node.js and npm: apt-get update && apt-get install -y nodejs npm"

// TestTSClientJourney generates a TypeScript client (openapi-typescript +
// openapi-fetch) from a running server's /openapi.json, type-checks it with
// tsc, and runs register -> login -> create todo -> list todos with it. A
// document that no longer matches what the client code expects fails the
// type check; a server that no longer matches the document fails the
// journey.
func TestTSClientJourney(t *testing.T) {
	dir := npmProject(t, tsDir, "tsc", "openapi-typescript")

	s := startServer(t, nil)

	// The generated and compiled files are .gitignored; remove old ones so a
	// failed generation cannot leave a stale schema behind.
	os.Remove(filepath.Join(dir, "src", "schema.ts"))
	os.RemoveAll(filepath.Join(dir, "dist"))

	tsRun(t, dir, 2*time.Minute, map[string]string{"OPENAPI_URL": s.URL + "/openapi.json"}, "npm", "run", "--silent", "generate")
	tsRun(t, dir, 2*time.Minute, nil, "npm", "run", "--silent", "typecheck")
	out := tsRun(t, dir, 2*time.Minute, map[string]string{"BASE_URL": s.URL}, "npm", "run", "--silent", "journey")
	if !strings.Contains(out, "journey OK") {
		t.Fatalf("the journey did not report success:\n%s", out)
	}
	t.Logf("journey:\n%s", out)
}

// npmProject returns the absolute path of the Node project in dir, with
// its npm packages installed (npm ci, pinned by its package-lock.json) when
// they are missing or stale; bins are commands it needs in
// node_modules/.bin. A machine without Node.js fails the test, saying how
// to get it. Tests that share a project install it once at a time.
func npmProject(t *testing.T, dir string, bins ...string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found in PATH: %s", tool, tsInstallHint)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	npmInstall.Lock()
	defer npmInstall.Unlock()
	if stale, why := nodeModulesStale(abs, bins...); stale {
		t.Logf("npm ci in %s: %s", dir, why)
		tsRun(t, abs, 5*time.Minute, nil, "npm", "ci", "--no-audit", "--no-fund")
	}
	return abs
}

// npmInstall keeps two tests from running npm ci at once.
var npmInstall sync.Mutex

// nodeModulesStale tells whether `npm ci` must run in dir: node_modules is
// absent, npm's record of what it installed there
// (node_modules/.package-lock.json) is older than package.json or
// package-lock.json, or one of bins is missing from node_modules/.bin.
func nodeModulesStale(dir string, bins ...string) (bool, string) {
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return true, "node_modules is absent"
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			return true, err.Error()
		}
		if fi.ModTime().After(installed.ModTime()) {
			return true, f + " is newer than node_modules"
		}
	}
	for _, bin := range bins {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", bin)); err != nil {
			return true, "node_modules/.bin/" + bin + " is missing"
		}
	}
	return false, ""
}

// tsRun runs a command in dir with env added, fails the test with its output
// when it fails or outlasts timeout, and returns its output.
func tsRun(t *testing.T, dir string, timeout time.Duration, env map[string]string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "npm_config_update_notifier=false")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// npm starts node and tsc as children: on time-out end the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	line := name + " " + strings.Join(args, " ")
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s: timed out after %s:\n%s", line, timeout, out)
	}
	if err != nil {
		t.Fatalf("%s (in %s): %v\n%s", line, dir, err, out)
	}
	t.Logf("%s: ok in %s", line, time.Since(start).Round(time.Millisecond))
	return out
}
