package database

import (
	"net/url"
	"strings"
	"testing"
)

// sameURL compares URLs by their parts, query parameters as sets.
func sameURL(t testing.TB, what, got, want string) {
	t.Helper()
	g, err1 := url.Parse(got)
	w, err2 := url.Parse(want)
	if err1 != nil || err2 != nil {
		t.Errorf("%s: unparseable: %q / %q", what, got, want)
		return
	}
	gp, _ := g.User.Password()
	wp, _ := w.User.Password()
	if g.Scheme != w.Scheme || g.User.Username() != w.User.Username() || gp != wp || g.Host != w.Host || g.Path != w.Path ||
		g.Query().Encode() != w.Query().Encode() {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// TestNeonConsoleURL: the URL Neon's console gives resolves to the right
// direct URL and query modes, and a plain-text or pooled "direct" URL is
// refused.
func TestNeonConsoleURL(t *testing.T) {
	const console = "postgresql://neondb_owner:npg_xxx@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require"
	const direct = "postgresql://neondb_owner:npg_xxx@ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require"

	got, err := DirectURL(console, "")
	if err != nil {
		t.Fatal(err)
	}
	sameURL(t, "DirectURL(console)", got, direct)
	urls, err := ResolveURLs(console, "")
	if err != nil {
		t.Fatalf("ResolveURLs(console URL): %v", err)
	}
	sameURL(t, "ResolveURLs(console).Serve", urls.Serve, console)
	sameURL(t, "ResolveURLs(console).Direct", urls.Direct, direct)
	// auto query mode: exec on the pooled URL, the statement cache on
	// the direct one (the mapping itself is proven on real connections
	// by e2e.TestNeonURL).
	if !IsPooled(urls.Serve) || IsPooled(urls.Direct) {
		t.Errorf("IsPooled(serve)=%v IsPooled(direct)=%v, want true, false", IsPooled(urls.Serve), IsPooled(urls.Direct))
	}
	urls, err = ResolveURLs(console, direct)
	if err != nil {
		t.Fatal(err)
	}
	sameURL(t, "ResolveURLs(console, unpooled).Direct", urls.Direct, direct)
	if _, err := ResolveURLs(console, console); err == nil {
		t.Error("a -pooler DATABASE_URL_UNPOOLED was accepted")
	}
	noTLS := strings.Replace(console, "sslmode=require", "sslmode=disable", 1)
	if _, err := ResolveURLs(noTLS, ""); err == nil {
		t.Error("sslmode=disable on a Neon host was accepted")
	} else if strings.Contains(err.Error(), "npg_xxx") {
		t.Errorf("the error shows the password: %v", err)
	}
	bare := "postgresql://neondb_owner:npg_xxx@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/neondb"
	if urls, err := ResolveURLs(bare, ""); err != nil {
		t.Errorf("ResolveURLs without parameters: %v", err)
	} else if u, _ := url.Parse(urls.Serve); u.Query().Get("sslmode") != "require" {
		t.Errorf("a Neon URL without sslmode was not given sslmode=require: %s", urls.Serve)
	}
}
