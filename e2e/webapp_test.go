package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/todo-api/todo-api/internal/testdb"
)

// webDir is the reference web app (React, Vite, openapi-fetch, Better
// Auth's client), built by the test with npm.
const webDir = "../web"

// TestWebApp builds the reference web app (web/), serves it from its own
// origin, and drives it in headless Chromium against the real API binary
// (and, for Better Auth users, the real Better Auth server of
// e2e/betterauth/), one journey per subtest, each in a fresh browser
// context. Every journey fails on a console error, an uncaught exception,
// a CORS refusal, or a failed request it did not declare.
func TestWebApp(t *testing.T) {
	dir := npmProject(t, webDir, "vite", "tsc", "openapi-typescript")
	needBetterAuthApp(t) // the Better Auth server of journeys d, f and g
	// prebuild generates src/api/schema.d.ts from apidocs/openapi.yaml, and
	// build type-checks before bundling.
	tsRun(t, dir, 3*time.Minute, nil, "npm", "run", "--silent", "build")
	dist := filepath.Join(dir, "dist")

	b := startWebBrowser(t)

	t.Run("a_local_account_list_filter_sort_search_page_validate", func(t *testing.T) { webJourneyLocal(t, b, dist) })
	t.Run("b_lost_create_answer_retried_with_the_same_key", func(t *testing.T) { webJourneyLostAnswer(t, b, dist) })
	t.Run("c_two_tabs_edit_one_todo", func(t *testing.T) { webJourneyTwoTabs(t, b, dist) })
	t.Run("d_better_auth_user", func(t *testing.T) { webJourneyBetterAuth(t, b, dist) })
	t.Run("e_api_restarted_mid_session", func(t *testing.T) { webJourneyRestart(t, b, dist) })
	t.Run("f_better_auth_server_starts_after_the_api", func(t *testing.T) { webJourneyLateAuthServer(t, b, dist) })
	t.Run("g_neon_auth_user", func(t *testing.T) { webJourneyNeonAuth(t, b, dist) })
}

// webServer serves the built app (web/dist) on its own origin, with
// /config.json saying where the API and the auth server are.
type webServer struct {
	*httptest.Server
	mu     sync.Mutex
	config map[string]any
}

func serveWebApp(t *testing.T, dist string) *webServer {
	t.Helper()
	w := &webServer{config: map[string]any{"apiUrl": "http://127.0.0.1:1", "betterAuthUrl": nil}}
	files := http.FileServer(http.Dir(dist))
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/config.json" {
			w.mu.Lock()
			body, _ := json.Marshal(w.config)
			w.mu.Unlock()
			rw.Header().Set("Content-Type", "application/json")
			rw.Header().Set("Cache-Control", "no-store")
			rw.Write(body)
			return
		}
		files.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.Close)
	return w
}

// configure sets what /config.json answers.
func (w *webServer) configure(apiURL string, betterAuthURL *string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.config = map[string]any{"apiUrl": apiURL, "betterAuthUrl": betterAuthURL}
}

// webAPIEnv is the API's environment for a journey: the app's origin may
// call it, and shutdown does not wait (journey e restarts it).
func webAPIEnv(app *webServer, dbURL string, more map[string]string) map[string]string {
	env := map[string]string{"DATABASE_URL": dbURL, "ALLOWED_ORIGINS": app.URL, "SHUTDOWN_DRAIN_DELAY": "0s"}
	for k, v := range more {
		env[k] = v
	}
	return env
}

// restartServer stops s and starts the binary again with env on the same
// port (so on the same URL the page calls) and database.
func restartServer(t *testing.T, s *server, env map[string]string) *server {
	t.Helper()
	s.Stop(t)
	again := map[string]string{"PORT": strconv.Itoa(s.Port)}
	for k, v := range env {
		again[k] = v
	}
	s2 := launchServer(t, again)
	s2.URL, s2.Port = s.URL, s.Port // launchServer picked a port of its own; PORT overrides it
	if err := s2.waitReady(30 * time.Second); err != nil {
		t.Fatalf("restarted server did not become ready: %v\nlogs:\n%s", err, s2.logs.String())
	}
	return s2
}

// webUser is an account registered from Go, as register() makes it.
func webUser(t *testing.T, api *client, prefix string) (username, password, token string) {
	t.Helper()
	username = fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1_000_000_000)
	return username, "correct horse " + username, register(t, api, username)
}

// signInLocal opens the app and signs in with this API's login form.
func (tb *webTab) signInLocal(appURL, username, password string) {
	tb.t.Helper()
	tb.do("open the app", chromedp.Navigate(appURL), chromedp.WaitVisible(tid("login-form")))
	tb.typeInto("login-username", username)
	tb.typeInto("login-password", password)
	tb.click("login-submit")
	tb.waitVisible("whoami")
	tb.waitListIdle()
}

// waitListIdle waits until the list has loaded.
func (tb *webTab) waitListIdle() {
	tb.t.Helper()
	tb.waitFor("the list to load", `document.querySelector('[data-testid="todo-list"]')?.dataset.loading === "false"`, `document.body.innerText`)
}

// listTitles is the titles the list shows, top to bottom.
const listTitles = `JSON.stringify([...document.querySelectorAll('[data-testid="todo-title"]')].map(e => e.textContent))`

// waitTitles waits until the list, loaded, shows exactly want (in order)
// and the total says total.
func (tb *webTab) waitTitles(what string, want []string, total int) {
	tb.t.Helper()
	w, _ := json.Marshal(want)
	tb.waitFor(what,
		`document.querySelector('[data-testid="todo-list"]')?.dataset.loading === "false" && `+listTitles+` === `+js(string(w))+
			` && document.querySelector('[data-testid="total"]')?.textContent === `+js(strconv.Itoa(total)),
		listTitles+` + " total " + document.querySelector('[data-testid="total"]')?.textContent`)
}

// createTodo creates a todo with the app's form and waits for its status.
func (tb *webTab) createTodo(title string, priority int) {
	tb.t.Helper()
	tb.typeInto("new-title", title)
	tb.set("new-priority", strconv.Itoa(priority))
	tb.click("new-submit")
	tb.waitFor("“"+title+"” saved", `document.querySelector('[data-testid="create-status"]')?.textContent.startsWith(`+js("“"+title+"” saved")+`)`,
		`document.querySelector('[data-testid="create-status"], [data-testid="create-message"]')?.textContent`)
}

// todoID is the id of the todo the list shows with title.
func (tb *webTab) todoID(title string) string {
	tb.t.Helper()
	find := `[...document.querySelectorAll('[data-testid="todo-item"]')].find(li => li.querySelector('[data-testid="todo-title"]').textContent === ` + js(title) + `)`
	tb.waitFor(title+" in the list", find, listTitles)
	return tabRun(tb, "find "+title, chromedp.Evaluate[string](find+`.dataset.id`))
}

// openEdit opens the edit panel of the todo with id and waits for its form.
func (tb *webTab) openEdit(id string) {
	tb.t.Helper()
	tb.do("edit todo "+id,
		chromedp.Click(chromedp.CSS(`[data-testid="todo-item"][data-id="`+id+`"] [data-testid="todo-edit"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="edit-panel"][data-id="`+id+`"][data-ready="true"]`)),
	)
}

// (a) This API's own account: register (a bad password first: the 422
// names the field and the form shows it there), sign in, create several
// todos, page through them with next_cursor, then a filter, a sort and a
// search; a 300-character title answers 422 naming title, shown beside the
// title field.
func webJourneyLocal(t *testing.T, b *webBrowser, dist string) {
	app := serveWebApp(t, dist)
	s := startServer(t, webAPIEnv(app, testdb.Fresh(t), nil))
	app.configure(s.URL, nil)
	tab := b.open(t, "a-local")
	badPassword := tab.expectFailure("POST", "/api/v1/auth/register", 422, "a password of 5 characters")
	longTitle := tab.expectFailure("POST", "/api/v1/todos", 422, "a title of 300 characters")

	username := fmt.Sprintf("web_%d", time.Now().UnixNano()%1_000_000_000)
	tab.do("open the app", chromedp.Navigate(app.URL), chromedp.WaitVisible(tid("register-form")))
	tab.typeInto("register-email", username+"@example.com")
	tab.typeInto("register-username", username)
	tab.typeInto("register-password", "short")
	tab.click("register-submit")
	tab.waitVisible("register-password-error")
	if msg := tab.textOf("register-password-error"); !strings.Contains(msg, "8") {
		t.Errorf("the password's message %q does not say how long it must be", msg)
	}
	tab.set("register-password", "correct horse battery")
	tab.click("register-submit")
	tab.waitVisible("register-done")
	// Registering filled in the login form's username.
	tab.typeInto("login-password", "correct horse battery")
	tab.click("login-submit")
	tab.waitVisible("whoami")
	tab.waitTitles("an empty list", []string{}, 0)

	todos := []struct {
		title    string
		priority int
	}{
		{"alpha report", 1}, {"beta groceries", 4}, {"gamma taxes", 5}, {"delta laundry", 2},
		{"epsilon call mom", 3}, {"zeta garden", 0}, {"eta dentist", 4},
	}
	for _, td := range todos {
		tab.createTodo(td.title, td.priority)
	}
	newestFirst := make([]string, len(todos))
	for i, td := range todos {
		newestFirst[len(todos)-1-i] = td.title
	}
	tab.waitTitles("the seven todos, newest first", newestFirst, 7)

	// Pages of 5: the first page, then the rest with next_cursor.
	tab.set("page-size", "5")
	tab.waitTitles("the first page of 5", newestFirst[:5], 7)
	tab.click("load-more")
	tab.waitTitles("both pages", newestFirst, 7)
	tab.do("no more pages", chromedp.WaitNotPresent(tid("load-more")))

	tab.set("page-size", "20")
	tab.set("filter-min-priority", "3")
	tab.waitTitles("priority 3 and up", []string{"eta dentist", "epsilon call mom", "gamma taxes", "beta groceries"}, 4)
	tab.set("sort", "priority")
	// Ties (two of priority 4) are broken by id, in the sort's direction.
	tab.waitTitles("lowest priority first", []string{"epsilon call mom", "beta groceries", "eta dentist", "gamma taxes"}, 4)
	tab.typeInto("search", "ta")
	tab.waitTitles(`"ta", priority 3 and up`, []string{"beta groceries", "eta dentist", "gamma taxes"}, 3)

	// A title the API refuses: 422, its message beside the field, the
	// problem's detail in the form's message area, nothing created.
	tab.set("new-title", strings.Repeat("x", 300))
	tab.click("new-submit")
	tab.waitVisible("new-title-error")
	fieldMsg := tab.textOf("new-title-error")
	detail := tab.textOf("create-message")
	if fieldMsg == "" || detail == "" {
		t.Errorf("422 for the title: field message %q, detail %q", fieldMsg, detail)
	}
	t.Logf("a 300-character title: beside the field %q; message area %q", fieldMsg, detail)
	tab.waitTitles("still the same three", []string{"beta groceries", "eta dentist", "gamma taxes"}, 3)
	// Sign out: POST /api/v1/auth/logout ends the token at the API.
	tab.click("sign-out")
	tab.waitVisible("login-form")
	tab.waitFor("the logout request", `performance.getEntriesByType("resource").some(e => e.name.endsWith("/api/v1/auth/logout"))`, "")
	if n := badPassword.count(); n != 1 {
		t.Errorf("the short password made %d 422 answers, want 1", n)
	}
	if n := longTitle.count(); n != 1 {
		t.Errorf("the long title made %d 422 answers, want 1", n)
	}
}

// (b) A create whose answer is lost: the DevTools Fetch domain lets the
// first POST /api/v1/todos reach the server, then fails its response, so
// the server has written and the page sees a network error. The app sends
// the same request with the same Idempotency-Key again, gets the first
// answer replayed (Idempotent-Replayed: true), and says so; the API holds
// exactly one such todo.
func webJourneyLostAnswer(t *testing.T, b *webBrowser, dist string) {
	app := serveWebApp(t, dist)
	s := startServer(t, webAPIEnv(app, testdb.Fresh(t), nil))
	app.configure(s.URL, nil)
	api := newClient(s.URL)
	username, password, token := webUser(t, api, "lost")

	tab := b.open(t, "b-lost-answer")
	tab.signInLocal(app.URL, username, password)
	lost := tab.expectFailure("POST", "/api/v1/todos", 0, "the answer the test cuts off")

	// Intercept the create at the response stage: the request has been
	// served by then.
	type cut struct {
		status int64
		key    string
	}
	cuts := make(chan cut, 4)
	paused := chromedp.Events(tab.ctx, fetch.RequestPaused)
	tab.do("intercept creates", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: s.URL + "/api/v1/todos", RequestStage: fetch.RequestStageResponse},
		}})
		return err
	}))
	go func() {
		failed := false
		for ev, err := range paused {
			if err != nil {
				return
			}
			if ev.Request.Method == http.MethodPost && !failed {
				failed = true
				key := ""
				for k, v := range ev.Request.Headers {
					if strings.EqualFold(k, "Idempotency-Key") {
						key = fmt.Sprint(v)
					}
				}
				cuts <- cut{ev.ResponseStatusCode, key}
				chromedp.Call(tab.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
				continue
			}
			if ev.Request.Method == http.MethodPost {
				for k, v := range ev.Request.Headers {
					if strings.EqualFold(k, "Idempotency-Key") {
						cuts <- cut{ev.ResponseStatusCode, fmt.Sprint(v)}
					}
				}
			}
			chromedp.Call(tab.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()

	const title = "exactly once, though the answer is lost"
	tab.typeInto("new-title", title)
	tab.click("new-submit")
	tab.waitFor("the replayed status", `document.querySelector('[data-testid="create-status"]')?.textContent.includes("saved (the server already had it)")`,
		`document.querySelector('[data-testid="create-status"], [data-testid="create-message"], [data-testid="connection"]')?.textContent`)
	t.Logf("status line: %q", tab.textOf("create-status"))
	tab.waitTitles("the one todo", []string{title}, 1)
	tab.do("stop intercepting", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, fetch.Disable, cdp.Empty{})
		return err
	}))

	var seen []cut
	for len(seen) < 2 {
		select {
		case c := <-cuts:
			seen = append(seen, c)
		case <-time.After(5 * time.Second):
			t.Fatalf("the interception saw %d creates, want the cut one and its retry: %+v", len(seen), seen)
		}
	}
	first, retry := seen[0], seen[1]
	if first.status != http.StatusCreated {
		t.Errorf("the cut-off answer was %d, want 201 (the server wrote)", first.status)
	}
	if first.key == "" || retry.key != first.key {
		t.Errorf("Idempotency-Key: first %q, retry %q; want the same key", first.key, retry.key)
	}
	var page apiPage
	api.do("GET", "/api/v1/todos?q="+url.QueryEscape(title), token, nil).expect(t, http.StatusOK, &page)
	if page.Total != 1 {
		t.Errorf("the API holds %d todos titled %q, want exactly 1", page.Total, title)
	}
	if n := lost.count(); n != 1 {
		t.Errorf("%d creates failed in the page, want exactly the one the test cut", n)
	}
	t.Logf("the create's answer (201) was cut; the retry with key %s was answered from the record", first.key)
}

// (c) Two tabs edit one todo: both open the form (each with the todo's
// ETag), tab 1 saves, tab 2 saves: tab 2 gets 412 and says the todo
// changed elsewhere; tab 1's title stays. Reload shows tab 1's version.
func webJourneyTwoTabs(t *testing.T, b *webBrowser, dist string) {
	app := serveWebApp(t, dist)
	s := startServer(t, webAPIEnv(app, testdb.Fresh(t), nil))
	app.configure(s.URL, nil)
	api := newClient(s.URL)
	username, password, token := webUser(t, api, "tabs")
	var todo apiTodo
	api.do("POST", "/api/v1/todos", token, map[string]any{"title": "plan the trip"}).expect(t, http.StatusCreated, &todo)
	id := strconv.FormatInt(todo.ID, 10)

	tab1 := b.open(t, "c-tab1")
	tab1.signInLocal(app.URL, username, password)
	tab1.openEdit(id)
	tab2 := tab1.sibling("c-tab2")
	conflict := tab2.expectFailure("PATCH", "/api/v1/todos/"+id, 412, "the save of a stale ETag")
	tab2.front()
	tab2.signInLocal(app.URL, username, password)
	tab2.openEdit(id)

	tab1.front()
	tab1.set("edit-title", "plan the trip (tab 1)")
	tab1.click("edit-save")
	tab1.waitVisible("edit-status")

	tab2.front()
	tab2.set("edit-title", "plan the trip (tab 2)")
	tab2.click("edit-save")
	tab2.waitVisible("edit-conflict")
	t.Logf("tab 2 shows: %q", tab2.textOf("edit-conflict"))

	var now apiTodo
	api.do("GET", "/api/v1/todos/"+id, token, nil).expect(t, http.StatusOK, &now)
	if now.Title != "plan the trip (tab 1)" {
		t.Errorf("after both saves the title is %q, want tab 1's", now.Title)
	}
	tab2.click("edit-reload")
	tab2.waitFor("tab 1's title in tab 2's form", `document.querySelector('[data-testid="edit-title"]')?.value === "plan the trip (tab 1)" && !document.querySelector('[data-testid="edit-conflict"]')`,
		`document.querySelector('[data-testid="edit-title"]')?.value`)
	if n := conflict.count(); n != 1 {
		t.Errorf("tab 2 got %d answers 412, want 1", n)
	}
}

// (d) A Better Auth user signs up in the browser with Better Auth's own
// client (cross-origin: the auth server answers the app's origin with
// credentialed CORS) and manages todos with the JWTs authClient.token()
// gives; the API runs with BETTER_AUTH_URL.
func webJourneyBetterAuth(t *testing.T, b *webBrowser, dist string) {
	app := serveWebApp(t, dist)
	ba := startBetterAuth(t, testdb.Fresh(t), map[string]string{"TRUSTED_ORIGINS": app.URL})
	apiDB := testdb.Fresh(t)
	s := startServer(t, webAPIEnv(app, apiDB, map[string]string{"BETTER_AUTH_URL": ba.URL}))
	authURL := ba.URL + "/api/auth"
	app.configure(s.URL, &authURL)

	email := fmt.Sprintf("ba-web-%d@example.com", time.Now().UnixNano())
	tab := b.open(t, "d-better-auth")
	tab.do("open the app", chromedp.Navigate(app.URL), chromedp.WaitVisible(tid("ba-signup-form")))
	tab.typeInto("ba-signup-name", "Web User")
	tab.typeInto("ba-signup-email", email)
	tab.typeInto("ba-signup-password", "correct horse battery")
	tab.click("ba-signup-submit")
	tab.waitVisible("whoami")
	tab.waitTitles("an empty list", []string{}, 0)

	tab.createTodo("from Better Auth", 2)
	tab.createTodo("second one", 1)
	tab.waitTitles("two todos", []string{"second one", "from Better Auth"}, 2)
	id := tab.todoID("from Better Auth")
	tab.openEdit(id)
	tab.set("edit-title", "from Better Auth, done")
	tab.click("edit-completed")
	tab.click("edit-save")
	tab.waitVisible("edit-status")
	tab.set("filter-completed", "true")
	tab.waitTitles("the done one", []string{"from Better Auth, done"}, 1)
	// Delete from the edit panel: with If-Match, the ETag the save returned.
	tab.click("edit-delete")
	tab.do("the panel closes", chromedp.WaitNotPresent(tid("edit-panel")))
	tab.waitTitles("none done", []string{}, 0)
	tab.set("filter-completed", "")
	tab.waitTitles("the other one", []string{"second one"}, 1)
	// Sign out: POST /api/v1/auth/logout ends the JWT at the API, and
	// Better Auth's POST sign-out (with the cookie, from the app's origin)
	// ends the session.
	tab.click("sign-out")
	tab.waitVisible("ba-signin-form")

	if n := countRows(t, apiDB, "SELECT count(*) FROM users WHERE email = $1 AND auth_subject IS NOT NULL", email); n != 1 {
		t.Errorf("%d Better Auth users with email %s in the API's database, want 1", n, email)
	}
	if n := countRows(t, apiDB, "SELECT count(*) FROM todos t JOIN users u ON u.id = t.user_id WHERE u.email = $1", email); n != 1 {
		t.Errorf("the user has %d todos in the API's database, want 1", n)
	}
}

// (g) A Neon Auth user: the Better Auth server in Neon Auth's shape (routes
// under /neondb/auth, keys at /.well-known/jwks.json, iss and aud the
// origin, the admin plugin's fields such as banned in every token), the app
// configured with that base URL and the API with NEON_AUTH_BASE_URL alone.
// Sign up, create, edit, sign out, sign in again; the token is ended
// elsewhere: the app gets a fresh one on the 401 and goes on; delete; the
// user is banned: the fresh token is refused too, and the app signs out.
func webJourneyNeonAuth(t *testing.T, b *webBrowser, dist string) {
	app := serveWebApp(t, dist)
	ba := startBetterAuth(t, testdb.Fresh(t), map[string]string{
		"BASE_PATH": "/neondb/auth", "JWKS_PATH": "/.well-known/jwks.json", "ADMIN_PLUGIN": "1",
		"TRUSTED_ORIGINS": app.URL,
	})
	base := ba.URL + "/neondb/auth"
	apiDB := testdb.Fresh(t)
	s := startServer(t, webAPIEnv(app, apiDB, map[string]string{"NEON_AUTH_BASE_URL": base}))
	app.configure(s.URL, &base)

	email := fmt.Sprintf("neon-web-%d@example.com", time.Now().UnixNano())
	tab := b.open(t, "g-neon-auth")
	tab.do("open the app", chromedp.Navigate(app.URL), chromedp.WaitVisible(tid("ba-signup-form")))
	tab.typeInto("ba-signup-name", "Neon User")
	tab.typeInto("ba-signup-email", email)
	tab.typeInto("ba-signup-password", "correct horse battery")
	tab.click("ba-signup-submit")
	tab.waitVisible("whoami")
	tab.createTodo("from Neon Auth", 1)
	id := tab.todoID("from Neon Auth")
	tab.openEdit(id)
	tab.set("edit-priority", "5")
	tab.click("edit-save")
	tab.waitVisible("edit-status")
	tab.waitFor("priority 5 in the list", `document.querySelector('[data-testid="todo-item"][data-id="`+id+`"] [data-testid="todo-priority"]')?.textContent === "P5"`, `document.body.innerText`)

	signedOut := tab.pageToken()
	tab.click("sign-out")
	tab.waitVisible("ba-signin-form")
	// Signing in again within the second of the token that sign-out ended
	// would get that very token back (see the refresh below): a user does
	// not sign in that fast, the test waits as long.
	waitPastIAT(t, signedOut)
	tab.typeInto("ba-signin-email", email)
	tab.typeInto("ba-signin-password", "correct horse battery")
	tab.click("ba-signin-submit")
	tab.waitVisible("whoami")
	tab.waitTitles("the todo, after signing in again", []string{"from Neon Auth"}, 1)

	// The page's token stops working (ended from Go with POST /auth/logout):
	// the next request's 401 makes the app fetch a fresh JWT from Neon
	// Auth (authClient.token()) and repeat the request; the user stays in.
	api := newClient(s.URL)
	stale := tab.expectFailure("GET", "/api/v1/todos", 401, "a token ended elsewhere, then a banned user's")
	first := tab.pageToken()
	api.do("POST", "/api/v1/auth/logout", first, nil).expect(t, http.StatusNoContent, nil)
	// Better Auth's tokens have no jti, their iat is in whole seconds, and
	// EdDSA signatures are deterministic: a token fetched in the same second
	// is the very token just ended (the API revokes by the token's hash).
	// So the refresh waits for the next second.
	waitPastIAT(t, first)
	tab.click("refresh")
	tab.waitFor("a fresh token", `JSON.parse(sessionStorage.getItem("todo-app.session") ?? "null")?.token !== `+js(first), "")
	tab.waitTitles("the todo, with the fresh token", []string{"from Neon Auth"}, 1)
	tab.waitVisible("whoami")
	if n := stale.count(); n != 1 {
		t.Errorf("after the token was ended: %d answers 401, want 1 before the refresh", n)
	}

	tab.do("delete it from the list", chromedp.Click(chromedp.CSS(`[data-testid="todo-item"][data-id="`+id+`"] [data-testid="todo-delete"]`), chromedp.NodeVisible))
	tab.waitTitles("no todos", []string{}, 0)

	// Banned at Neon Auth (the admin plugin's banned flag; the session
	// stays): the page's next fresh token says banned: true, the API refuses
	// it too, and the app signs the user out, saying so.
	newClient(ba.URL).do("POST", "/test/ban?email="+url.QueryEscape(email), "", nil).expect(t, http.StatusOK, nil)
	api.do("POST", "/api/v1/auth/logout", tab.pageToken(), nil).expect(t, http.StatusNoContent, nil)
	tab.click("refresh")
	tab.waitVisible("signin-notice")
	if n := stale.count(); n != 3 {
		t.Errorf("after the ban: %d answers 401 in all, want 3 (the first refresh's, then the ended token's and the banned one's)", n)
	}

	if n := countRows(t, apiDB, "SELECT count(*) FROM users WHERE email = $1 AND auth_subject IS NOT NULL", email); n != 1 {
		t.Errorf("%d Neon Auth users with email %s in the API's database, want 1", n, email)
	}
}

// waitPastIAT waits until the second of the token's iat is over, so that a
// token minted now differs from it (at most a second; the condition is the
// clock itself).
func waitPastIAT(t *testing.T, token string) {
	t.Helper()
	if wait := time.Until(time.Unix(int64(jwtPart(t, token, 1)["iat"].(float64))+1, 0)); wait > 0 {
		time.Sleep(wait)
	}
}

// pageToken is the bearer token the page holds (in its sessionStorage).
func (tb *webTab) pageToken() string {
	tb.t.Helper()
	tok := tabRun(tb, "read the page's token", chromedp.Evaluate[string](`JSON.parse(sessionStorage.getItem("todo-app.session") ?? "null")?.token ?? ""`))
	if tok == "" {
		tb.t.Fatalf("tab %s holds no token", tb.name)
	}
	return tok
}

// (e) The API restarts in the middle of a session: the page says it cannot
// reach the server and keeps retrying; once the API is back (same port,
// same database) the list loads and creating works, without signing in
// again. Then the account is deactivated from Go: the next request's 401
// takes the page back to the sign-in screen, with a message.
func webJourneyRestart(t *testing.T, b *webBrowser, dist string) {
	app := serveWebApp(t, dist)
	env := webAPIEnv(app, testdb.Fresh(t), nil)
	s := startServer(t, env)
	app.configure(s.URL, nil)
	username, password, token := webUser(t, newClient(s.URL), "restart")

	tab := b.open(t, "e-restart")
	tab.signInLocal(app.URL, username, password)
	tab.createTodo("before the restart", 1)
	tab.waitTitles("the first todo", []string{"before the restart"}, 1)

	down := tab.expectFailure("*", "/api/v1/", 0, "requests while the API is down")
	s.Stop(t)
	tab.click("refresh")
	tab.waitFor("the page to say it cannot reach the server",
		`document.querySelector('[data-testid="connection"]')?.textContent.includes("Cannot reach the server")`, `document.body.innerText`)
	t.Logf("while the API is down: %q", tab.textOf("connection"))
	start := time.Now()
	s = restartServer(t, s, env)
	t.Logf("API back after %s", time.Since(start).Round(time.Millisecond))
	tab.waitFor("the banner to go", `!document.querySelector('[data-testid="connection"]')`, `document.body.innerText`)
	tab.waitTitles("the list again", []string{"before the restart"}, 1)
	tab.waitVisible("whoami")
	tab.createTodo("after the restart", 2)
	tab.waitTitles("both todos", []string{"after the restart", "before the restart"}, 2)
	var page apiPage
	newClient(s.URL).do("GET", "/api/v1/todos", token, nil).expect(t, http.StatusOK, &page)
	if page.Total != 2 {
		t.Errorf("the restarted API holds %d todos, want 2", page.Total)
	}
	// The account is deactivated elsewhere: the next request is a 401, and
	// the page goes back to the sign-in screen saying why.
	newClient(s.URL).do("DELETE", "/api/v1/users/me", token, nil).expect(t, http.StatusNoContent, nil)
	revoked := tab.expectFailure("GET", "/api/v1/todos", 401, "the token of a deactivated account")
	tab.click("refresh")
	tab.waitVisible("signin-notice")
	t.Logf("after a 401: %q", tab.textOf("signin-notice"))
	if n := revoked.count(); n != 1 {
		t.Errorf("%d answers 401, want 1 (our own tokens cannot be refreshed)", n)
	}
	if down.count() == 0 {
		t.Errorf("no request failed while the API was down: the page was not tried against it")
	}
	t.Logf("%d requests got no answer while the API was down", down.count())
}

// (f) The Better Auth server starts after the API: the API runs with
// BETTER_AUTH_URL naming a port nothing listens on yet, the app is open,
// then the auth server starts on that port and a user signs up in the
// browser. Until the API has fetched the auth server's keys it answers 503
// with Retry-After (the contract), and the app retries after it; then the
// user manages todos as usual. Any 401 on the way fails the journey.
func webJourneyLateAuthServer(t *testing.T, b *webBrowser, dist string) {
	app := serveWebApp(t, dist)
	port := freePort(t)
	authOrigin := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := startServer(t, webAPIEnv(app, testdb.Fresh(t), map[string]string{"BETTER_AUTH_URL": authOrigin}))
	authURL := authOrigin + "/api/auth"
	app.configure(s.URL, &authURL)

	tab := b.open(t, "f-late-auth-server")
	notReady := tab.expectFailure("*", "/api/v1/", 503, "the API has not fetched the auth server's keys yet")
	tab.do("open the app", chromedp.Navigate(app.URL), chromedp.WaitVisible(tid("ba-signup-form")))

	ba := startBetterAuth(t, testdb.Fresh(t), map[string]string{"PORT": strconv.Itoa(port), "TRUSTED_ORIGINS": app.URL})
	if ba.URL != authOrigin {
		t.Fatalf("the Better Auth server says it is at %s, want %s", ba.URL, authOrigin)
	}
	// The API retries its first fetch quickly, so it may well have the
	// keys before the first token reaches it. So that the app's side of
	// the contract is exercised every time, the first list request also
	// gets a 503 with Retry-After: 1 as the API sends it, made by the
	// browser (Fetch.fulfillRequest) with the API's CORS headers.
	paused := chromedp.Events(tab.ctx, fetch.RequestPaused)
	tab.do("intercept the first list", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: s.URL + "/api/v1/todos?*", RequestStage: fetch.RequestStageRequest},
		}})
		return err
	}))
	go func() {
		made := false
		for ev, err := range paused {
			if err != nil {
				return
			}
			if ev.Request.Method == http.MethodGet && !made {
				made = true
				chromedp.Call(tab.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID:    ev.RequestID,
					ResponseCode: http.StatusServiceUnavailable,
					ResponseHeaders: []*fetch.HeaderEntry{
						{Name: "Content-Type", Value: "application/problem+json"},
						{Name: "Retry-After", Value: "1"},
						{Name: "Access-Control-Allow-Origin", Value: app.URL},
						{Name: "Access-Control-Expose-Headers", Value: "ETag, Location, X-Request-ID, Retry-After, WWW-Authenticate"},
						{Name: "Vary", Value: "Origin"},
					},
					Body: []byte(`{"type":"/problems/unavailable","title":"Service unavailable","status":503,"detail":"The auth server's keys are not available yet; retry shortly."}`),
				})
				continue
			}
			chromedp.Call(tab.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()

	email := fmt.Sprintf("late-%d@example.com", time.Now().UnixNano())
	tab.typeInto("ba-signup-name", "Late User")
	tab.typeInto("ba-signup-email", email)
	tab.typeInto("ba-signup-password", "correct horse battery")
	tab.click("ba-signup-submit")
	tab.waitFor("the page to say it retries after Retry-After",
		`document.querySelector('[data-testid="connection"][data-state="busy"]')?.textContent.includes("retrying in")`, `document.body.innerText`)
	t.Logf("after a 503: %q", tab.textOf("connection"))
	tab.waitVisible("whoami")
	tab.waitTitles("an empty list", []string{}, 0)
	tab.do("stop intercepting", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, fetch.Disable, cdp.Empty{})
		return err
	}))
	tab.createTodo("after the auth server came", 3)
	tab.waitTitles("the todo", []string{"after the auth server came"}, 1)
	id := tab.todoID("after the auth server came")
	tab.openEdit(id)
	tab.click("edit-completed")
	tab.click("edit-save")
	tab.waitVisible("edit-status")
	tab.click("edit-delete")
	tab.waitTitles("no todos", []string{}, 0)
	if n := notReady.count(); n < 1 {
		t.Errorf("no 503 reached the page, not even the one the test made")
	} else {
		t.Logf("answers 503 in the page: %d (one made by the test; the rest from the API before it had the keys)", n)
	}
}
