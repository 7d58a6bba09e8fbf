package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// A browser harness for tests that drive a web app: one headless Chromium
// per test, a fresh browser context (cookies, storage) per journey, and a
// watch on every tab that fails the test on what a user would call broken:
// a console error, an uncaught exception, a CORS refusal, and any failed
// request (no answer, or a status of 400 and up) the journey did not say it
// expects. It uses the same Chromium and flags as TestDocsPageInBrowser.

// webBrowserTimeout bounds the life of the browser of one test.
const webBrowserTimeout = 170 * time.Second

// webStepTimeout bounds one step of a journey.
const webStepTimeout = 20 * time.Second

// webBrowser is a running headless Chromium.
type webBrowser struct {
	ctx context.Context // its first tab; journeys open their own
	log *docsLog
}

// startWebBrowser starts headless Chromium with a fresh profile and
// everything that would reach out to the internet turned off. It is stopped
// when the test ends.
func startWebBrowser(t *testing.T) *webBrowser {
	t.Helper()
	if _, err := os.Stat(docsChromium); err != nil {
		t.Fatalf("%s not found (%v): %s", docsChromium, err, docsInstallHint)
	}
	profile, err := os.MkdirTemp("", "webapp-chromium-profile")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) }) // runs after the browser is gone

	opts := append(chromiumOptions(profile, 1280, 1400),
		// Tabs in the background keep their timers: journey c works in two.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	)
	b := &webBrowser{log: &docsLog{}}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), webBrowserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(opts, chromedp.CombinedOutput(b.log))...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(b.log.printf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for Chromium to exit
		cancelTimeout()
		if t.Failed() {
			if l := b.log.String(); l != "" {
				t.Logf("browser log:\n%s", l)
			}
		}
	})
	start := time.Now()
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("start %s: %v\n%s\n(%s)", docsChromium, err, b.log.String(), docsInstallHint)
	}
	t.Logf("chromium started in %s", time.Since(start).Round(time.Millisecond))
	b.ctx = tabCtx
	return b
}

// webTab is one browser tab of a journey, watched.
type webTab struct {
	t     *testing.T
	name  string
	ctx   context.Context
	watch *pageWatch
}

// open opens a tab in a new browser context (no cookies, no storage). At
// the end of the test its screenshot is saved and what its watch saw is
// judged.
func (b *webBrowser) open(t *testing.T, name string) *webTab {
	t.Helper()
	return openTab(t, name, b.ctx, chromedp.WithNewBrowserContext())
}

// sibling opens another tab in tb's browser context (its cookies; its own
// sessionStorage, as a tab has).
func (tb *webTab) sibling(name string) *webTab {
	tb.t.Helper()
	return openTab(tb.t, name, tb.ctx)
}

// openTab opens a watched tab from parent, a chromedp context.
func openTab(t *testing.T, name string, parent context.Context, opts ...chromedp.ContextOption) *webTab {
	t.Helper()
	w := &pageWatch{tab: name, reqs: map[network.RequestID]*watchedRequest{}}
	ctx, cancel := chromedp.NewContext(parent, append(opts, chromedp.WithListener(w.event))...)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open tab %s: %v", name, err)
	}
	tb := &webTab{t: t, name: name, ctx: ctx, watch: w}
	// The first call registers the directory's removal (without -artifacts):
	// made now, that runs after the screenshot below.
	t.ArtifactDir()
	// screenshot and judge use tb.ctx, made from parent above: the context
	// is inherited, through the struct, where contextcheck does not look.
	t.Cleanup(func() { //nolint:contextcheck // tb.ctx is derived from parent
		tb.screenshot()
		tb.judge()
		cancel()
	})
	return tb
}

// expectFailure declares a failed request the journey provokes: method
// ("*" for any) on a path starting with pathPrefix, answered status (0: no
// answer at all). The returned count tells how many were seen.
func (tb *webTab) expectFailure(method, pathPrefix string, status int, why string) *expectation {
	return tb.watch.expect(method, pathPrefix, status, why)
}

// judge fails the test for everything unexpected the tab saw, and logs the
// tab's console when the test failed.
func (tb *webTab) judge() {
	tb.t.Helper()
	// Events still in flight from the last step: the tab's loop delivers
	// them before a command's reply, so one round trip drains them.
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	chromedp.Run(ctx, chromedp.Evaluate[int](`1`))
	cancel()
	problems, console := tb.watch.report()
	for _, p := range problems {
		tb.t.Errorf("tab %s: %s", tb.name, p)
	}
	if tb.t.Failed() && console != "" {
		tb.t.Logf("tab %s console and network:\n%s", tb.name, console)
	}
}

// screenshot saves a PNG of the whole page in the test's artifact
// directory: kept with `go test -artifacts` (under -outputdir), otherwise
// removed when the test ends.
func (tb *webTab) screenshot() {
	tb.t.Helper()
	if tb.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is PNG; below it, JPEG
	if err != nil {
		tb.t.Logf("tab %s: no screenshot: %v", tb.name, err)
		return
	}
	path := filepath.Join(tb.t.ArtifactDir(), tb.name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Logf("tab %s: no screenshot: %v", tb.name, err)
		return
	}
	tb.t.Logf("tab %s: screenshot %s", tb.name, path)
}

// dump logs what the page shows, for a failed step.
func (tb *webTab) dump() {
	tb.t.Helper()
	if tb.ctx.Err() != nil {
		tb.t.Logf("tab %s: no page dump: %v", tb.name, tb.ctx.Err())
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		tb.t.Logf("tab %s: no page text: %v", tb.name, err)
		return
	}
	tb.t.Logf("tab %s: page text:\n%s", tb.name, clip(text, 6000))
}

// do runs browser actions as one named step; it fails the test, with what
// the page shows, when they fail or time out.
func (tb *webTab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	tabRun(tb, step, chromedp.Steps(actions...))
}

// tabRun runs one action as a named step and returns its value.
func tabRun[T any](tb *webTab, step string, action chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, webStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		tb.t.Errorf("tab %s, step %q: %v", tb.name, step, err)
		tb.dump()
		tb.t.FailNow()
	}
	return v
}

// tid is the CSS selector of a data-testid.
func tid(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// front brings the tab to the front, as a user switching tabs does.
func (tb *webTab) front() {
	tb.t.Helper()
	tb.do("bring "+tb.name+" to the front", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.BringToFront, cdp.Empty{})
		return err
	}))
}

// click clicks the element of a data-testid, with the mouse.
func (tb *webTab) click(id string) {
	tb.t.Helper()
	tb.do("click "+id, chromedp.Click(tid(id), chromedp.NodeVisible))
}

// typeInto types text into the field of a data-testid, key by key.
func (tb *webTab) typeInto(id, text string) {
	tb.t.Helper()
	// Focus and KeyEvent rather than SendKeys: SendKeys reads the node's
	// attributes without chromedp's lock (v0.23.0, query.go), a data race
	// with the page changing one (aria-invalid) that -race reports. For a
	// text input it does exactly this: focus the node, then type.
	tb.do("type into "+id, chromedp.Focus(tid(id), chromedp.NodeVisible), chromedp.KeyEvent(text))
}

// set replaces the value of an input, textarea or select, as a paste or a
// pick does, firing the event React listens to.
func (tb *webTab) set(id, value string) {
	tb.t.Helper()
	tb.do("set "+id, chromedp.WaitVisible(tid(id)), chromedp.Evaluate[chromedp.Void](`(() => {
		const el = document.querySelector(`+js(`[data-testid="`+id+`"]`)+`);
		const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype
			: el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
		Object.getOwnPropertyDescriptor(proto, "value").set.call(el, `+js(value)+`);
		el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
	})()`))
}

// waitVisible waits for the element of a data-testid.
func (tb *webTab) waitVisible(id string) {
	tb.t.Helper()
	tb.do("wait for "+id, chromedp.WaitVisible(tid(id)))
}

// waitFor polls a JavaScript predicate until it is true; on time-out it
// fails the test with desc and the value of show.
func (tb *webTab) waitFor(desc, predicate, show string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, webStepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!(`+predicate+`)`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(webStepTimeout-time.Second)))
	if err != nil {
		got := ""
		if show != "" {
			sctx, scancel := context.WithTimeout(tb.ctx, 3*time.Second)
			got, _ = chromedp.Run(sctx, chromedp.Evaluate[string](`String(`+show+`)`))
			scancel()
		}
		tb.t.Errorf("tab %s: waiting for %s: %v (now: %s)", tb.name, desc, err, got)
		tb.dump()
		tb.t.FailNow()
	}
}

// textOf returns the text of the element of a data-testid.
func (tb *webTab) textOf(id string) string {
	tb.t.Helper()
	return tabRun(tb, "read "+id, chromedp.Text(tid(id), chromedp.NodeVisible))
}

// expectation is a failed request a journey declared.
type expectation struct {
	method, path string
	status       int // 0: no answer
	why          string
	seen         int
	w            *pageWatch
}

// count is how many requests matched so far.
func (e *expectation) count() int {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	return e.seen
}

type watchedRequest struct {
	method, url string
	preflight   bool
}

// pageWatch collects what a tab's page does wrong. Its event method runs in
// the tab's event loop (chromedp.WithListener): it only records.
type pageWatch struct {
	tab      string
	mu       sync.Mutex
	reqs     map[network.RequestID]*watchedRequest
	expected []*expectation
	problems []string
	console  strings.Builder
}

func (w *pageWatch) expect(method, path string, status int, why string) *expectation {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := &expectation{method: method, path: path, status: status, why: why, w: w}
	w.expected = append(w.expected, e)
	return e
}

func (w *pageWatch) report() (problems []string, console string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.problems...), w.console.String()
}

func (w *pageWatch) event(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		w.reqs[ev.RequestID] = &watchedRequest{method: ev.Request.Method, url: ev.Request.URL, preflight: ev.Type == network.ResourceTypePreflight}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			w.failed(ev.RequestID, int(ev.Response.Status), fmt.Sprintf("answered %d %s", ev.Response.Status, ev.Response.StatusText))
		}
	case *network.EventLoadingFailed:
		r := w.reqs[ev.RequestID]
		if ev.CorsErrorStatus != nil || ev.BlockedReason != "" {
			cors := ""
			if ev.CorsErrorStatus != nil {
				cors = fmt.Sprintf(" CORS %s %s", ev.CorsErrorStatus.CorsError, ev.CorsErrorStatus.FailedParameter)
			}
			w.problem("%s refused by the browser:%s blocked=%q (%s)", describeRequest(r), cors, ev.BlockedReason, ev.ErrorText)
			return
		}
		if ev.Canceled {
			// The page gave up on it (an AbortController): its own choice.
			fmt.Fprintf(&w.console, "network: %s canceled by the page (%s)\n", describeRequest(r), ev.ErrorText)
			return
		}
		w.failed(ev.RequestID, 0, "got no answer: "+ev.ErrorText)
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if a.Value != nil {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		fmt.Fprintf(&w.console, "console.%s: %s\n", ev.Type, strings.Join(args, " "))
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			w.problem("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		w.problem("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *log.EventEntryAdded:
		e := ev.Entry
		fmt.Fprintf(&w.console, "log %s/%s: %s\n", e.Source, e.Level, e.Text)
		// A failed request is also logged ("Failed to load resource"): the
		// network events above judge it against what the journey expects.
		if e.Level == log.EntryLevelError && (e.Source != log.EntrySourceNetwork || strings.Contains(e.Text, "CORS")) {
			w.problem("console error (%s): %s", e.Source, e.Text)
		}
	}
}

func describeRequest(r *watchedRequest) string {
	if r == nil {
		return "a request"
	}
	if r.preflight {
		return "the preflight of " + r.url
	}
	return r.method + " " + r.url
}

// failed judges a failed request (status 0: no answer) against the
// expectations; w.mu is held.
func (w *pageWatch) failed(id network.RequestID, status int, what string) {
	r := w.reqs[id]
	fmt.Fprintf(&w.console, "network: %s %s\n", describeRequest(r), what)
	if r == nil || !strings.HasPrefix(r.url, "http") {
		w.problem("%s %s", describeRequest(r), what)
		return
	}
	u, err := url.Parse(r.url)
	if err != nil {
		w.problem("%s %s", describeRequest(r), what)
		return
	}
	method := r.method
	if r.preflight {
		method = "OPTIONS"
	}
	for _, e := range w.expected {
		if (e.method == "*" || e.method == method) && strings.HasPrefix(u.Path, e.path) && e.status == status {
			e.seen++
			return
		}
	}
	w.problem("unexpected: %s %s", describeRequest(r), what)
}

func (w *pageWatch) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	w.problems = append(w.problems, msg)
	fmt.Fprintf(&w.console, "PROBLEM: %s\n", msg)
}
