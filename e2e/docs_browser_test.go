package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/todo-api/todo-api/internal/pgharness"
)

// docsChromium is Debian's Chromium, the browser the docs page is tested in.
const docsChromium = "/usr/bin/chromium"

// docsInstallHint says how to get it.
const docsInstallHint = "install Debian's Chromium: apt-get update && apt-get install -y chromium"

// docsBrowserTimeout bounds everything the browser does in one test.
const docsBrowserTimeout = 45 * time.Second

// TestDocsPageInBrowser opens /docs in headless Chromium: the todo
// operations are listed, and Authorize with the OAuth2 password form gets a
// token that "Try it out" on GET /users/me then uses.
func TestDocsPageInBrowser(t *testing.T) {
	s := startServer(t, nil)

	// A user, registered from Go.
	username := fmt.Sprintf("docs_%d", time.Now().UnixNano()%1_000_000_000)
	password := "correct horse battery"
	newClient(s.URL).do("POST", "/api/v1/auth/register", "", map[string]string{"email": username + "@example.com", "username": username, "password": password}).
		expect(t, http.StatusCreated, nil)

	ctx := docsBrowser(t)

	// Every Content-Security-Policy violation on the page is recorded, so
	// that the strict policy is proven not to break it.
	docsDo(t, ctx, "record CSP violations",
		chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := cdp.Call(ctx, target, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `window.__csp = [];
					document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
			})
			return err
		}),
	)

	// (a) The page lists the todo operations.
	docsDo(t, ctx, "load /docs",
		chromedp.Navigate(s.URL+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`#operations-todos-listTodos`)),
	)
	for _, op := range []struct{ id, method, path, summary string }{
		{"listTodos", "GET", "/api/v1/todos", "List todos"},
		{"createTodo", "POST", "/api/v1/todos", "Create a todo"},
		{"getTodo", "GET", "/api/v1/todos/{id}", "Get a todo"},
		{"updateTodo", "PATCH", "/api/v1/todos/{id}", "Change a todo"},
		{"deleteTodo", "DELETE", "/api/v1/todos/{id}", "Delete a todo"},
	} {
		text := docsRun(t, ctx, "read operation "+op.id,
			chromedp.Text(chromedp.CSS(`#operations-todos-`+op.id+` .opblock-summary`), chromedp.NodeVisible))
		// Swagger UI breaks long paths with zero-width spaces.
		text = strings.ReplaceAll(text, "\u200b", "")
		for _, want := range []string{op.method, op.path, op.summary} {
			if !strings.Contains(text, want) {
				t.Errorf("operation %s: its summary line %q lacks %q", op.id, text, want)
			}
		}
	}
	if t.Failed() {
		docsDump(t, ctx)
		t.FailNow()
	}

	// (b) Authorize with the OAuth2 password form. The dialog has a section
	// per security scheme, headed by the scheme's name.
	const oauth = `//div[contains(concat(" ", normalize-space(@class), " "), " auth-container ")][.//h4[contains(., "oauth2Password")]]`
	docsDo(t, ctx, "open the Authorize dialog",
		chromedp.Click(chromedp.CSS(`.auth-wrapper button.authorize`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`#oauth_username`)),
	)
	docsDo(t, ctx, "fill the OAuth2 password form",
		// Focus and KeyEvent rather than SendKeys (see typeInto).
		chromedp.Focus(chromedp.CSS(`#oauth_username`), chromedp.NodeVisible), chromedp.KeyEvent(username),
		chromedp.Focus(chromedp.CSS(`#oauth_password`), chromedp.NodeVisible), chromedp.KeyEvent(password),
	)
	docsDo(t, ctx, "authorize",
		chromedp.Click(chromedp.Search(oauth+`//button[contains(concat(" ", normalize-space(@class), " "), " authorize ")]`), chromedp.NodeVisible),
		// Once authorized the section offers "Logout" instead of "Authorize".
		chromedp.WaitVisible(chromedp.Search(oauth+`//button[normalize-space(.)="Logout"]`)),
	)
	section := docsRun(t, ctx, "read the authorized section", chromedp.Text(chromedp.Search(oauth)))
	if !strings.Contains(section, "Authorized") || !strings.Contains(section, username) {
		t.Errorf("after Authorize the OAuth2 section reads %q; want it Authorized as %s", section, username)
	}
	docsDo(t, ctx, "close the dialog",
		chromedp.Click(chromedp.CSS(`.modal-ux button.btn-done`), chromedp.NodeVisible),
		chromedp.WaitNotPresent(chromedp.CSS(`.modal-ux`)),
	)

	// Try GET /users/me with the token.
	const me = `#operations-users-getMe`
	docsDo(t, ctx, "expand GET /api/v1/users/me",
		chromedp.ScrollIntoView(chromedp.CSS(me)),
		chromedp.Click(chromedp.CSS(me+` .opblock-summary-control`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(me+` .opblock-body`)),
	)
	// init.js sets tryItOutEnabled, so the operation may open in "try it out"
	// mode already (its button then reads "Cancel"); otherwise click it.
	tryOut := docsRun(t, ctx, "find Try it out", chromedp.Text(chromedp.CSS(me+` button.try-out__btn`), chromedp.NodeVisible))
	if strings.TrimSpace(tryOut) == "Try it out" {
		docsDo(t, ctx, "click Try it out", chromedp.Click(chromedp.CSS(me+` button.try-out__btn`), chromedp.NodeVisible))
	} else {
		t.Logf("GET /users/me opened in try-it-out mode (tryItOutEnabled); its button reads %q", tryOut)
	}
	const live = me + ` .live-responses-table tr.response` // not the header row
	docsDo(t, ctx, "execute",
		chromedp.Click(chromedp.CSS(me+` button.execute`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(live+` .response-col_status`)),
	)
	status := docsRun(t, ctx, "read the status", chromedp.Text(chromedp.CSS(live+` .response-col_status`)))
	body := docsRun(t, ctx, "read the body", chromedp.Text(chromedp.CSS(live+` .response-col_description`)))
	curl := docsRun(t, ctx, "read the curl line", chromedp.Text(chromedp.CSS(me+` .curl-command`)))
	if strings.TrimSpace(status) != "200" {
		t.Errorf("GET /users/me from the page: status %q, want 200; body:\n%s", status, body)
	}
	if !strings.Contains(body, `"username": "`+username+`"`) {
		t.Errorf("GET /users/me from the page: the response body lacks username %s:\n%s", username, body)
	}
	if !strings.Contains(curl, "Authorization: Bearer ") {
		t.Errorf("the page's request sent no bearer token; its curl line:\n%s", curl)
	}
	violations := docsRun(t, ctx, "read CSP violations", chromedp.Evaluate[[]string](`window.__csp`))
	if len(violations) > 0 {
		t.Errorf("the docs page broke its Content-Security-Policy: %q", violations)
	}
	if t.Failed() {
		docsDump(t, ctx)
	}
	if p := os.Getenv("DOCS_SCREENSHOT"); p != "" {
		docsScreenshot(t, ctx, p)
	}
}

// docsBrowser starts headless Chromium, with a fresh profile and everything
// that would reach out to the internet turned off, and returns a context for
// one tab in it. Everything is stopped when the test ends; if the test
// failed, Chromium's output and the page's console messages and uncaught
// exceptions are logged.
func docsBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(docsChromium); err != nil {
		t.Fatalf("%s not found (%v): %s", docsChromium, err, docsInstallHint)
	}
	profile, err := os.MkdirTemp("", "docs-chromium-profile")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) }) // runs after the browser is gone

	opts := chromiumOptions(profile, 1280, 1600)
	var browserLog docsLog
	ctx, cancelTimeout := context.WithTimeout(context.Background(), docsBrowserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(opts, chromedp.CombinedOutput(&browserLog))...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(browserLog.printf))
	consoleDone := make(chan struct{})
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for Chromium to exit
		cancelTimeout()
		<-consoleDone
		if t.Failed() {
			if l := browserLog.String(); l != "" {
				t.Logf("browser log:\n%s", l)
			}
		}
	})
	start := time.Now()
	if err := chromedp.Do(tabCtx); err != nil { // starts the browser, opens the tab
		close(consoleDone)
		t.Fatalf("start %s: %v\n%s\n(%s)", docsChromium, err, browserLog.String(), docsInstallHint)
	}
	t.Logf("chromium started in %s", time.Since(start).Round(time.Millisecond))
	messages := chromedp.Console(tabCtx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			browserLog.printf("page %s", m)
		}
	}()
	return tabCtx
}

// chromiumOptions start Debian's Chromium headless with the profile in
// profile and a window of width by height, and with everything that would
// reach out to the internet off (this machine's network is closed, and
// Chromium's attempts would only fill the log).
func chromiumOptions(profile string, width, height int) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:], // headless, no first run, no background networking, no sync, ...
		chromedp.ExecPath(docsChromium),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // root in a container
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("mute-audio", true),
	)
}

// docsStepTimeout bounds one step of the test in the browser.
const docsStepTimeout = 15 * time.Second

// docsDo runs browser actions as one named step and fails the test, with
// what the page shows, when they fail or time out.
func docsDo(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	docsRun(t, ctx, step, chromedp.Steps(actions...))
}

// docsRun runs one browser action as a named step and returns its value; it
// fails the test, with what the page shows, when the action fails or times
// out.
func docsRun[T any](t *testing.T, ctx context.Context, step string, action chromedp.Action[T]) T {
	t.Helper()
	stepCtx, cancel := context.WithTimeout(ctx, docsStepTimeout)
	defer cancel()
	v, err := chromedp.Run(stepCtx, action)
	if err != nil {
		t.Errorf("browser step %q: %v", step, err)
		docsDump(t, ctx)
		t.FailNow()
	}
	return v
}

// docsDump logs the page's visible text, and saves a screenshot, to show
// what the browser saw when a step failed.
func docsDump(t *testing.T, ctx context.Context) {
	t.Helper()
	if ctx.Err() != nil {
		t.Logf("no page dump: %v", ctx.Err())
		return
	}
	dumpCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(dumpCtx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		t.Logf("no page text: %v", err)
	} else {
		if len(text) > 6000 {
			text = text[:6000] + "\n[...]"
		}
		t.Logf("page text:\n%s", text)
	}
	docsScreenshot(t, ctx, filepath.Join(os.TempDir(), "docs-browser-"+strings.ReplaceAll(t.Name(), "/", "_")+".png"))
}

// docsScreenshot saves a PNG of the whole page to path.
func docsScreenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	shotCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// docsLog collects the browser's messages safely.
type docsLog struct{ pgharness.LogBuffer }

func (l *docsLog) printf(format string, args ...any) {
	fmt.Fprintf(&l.LogBuffer, format+"\n", args...)
}

// String returns the log without Chromium's complaints that the machine has
// no D-Bus, which say nothing about the page.
func (l *docsLog) String() string {
	var out strings.Builder
	for line := range strings.Lines(l.LogBuffer.String()) {
		if !strings.Contains(line, ":ERROR:dbus/") {
			out.WriteString(line)
		}
	}
	return out.String()
}
