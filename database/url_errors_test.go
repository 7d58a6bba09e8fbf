package database

import (
	"strings"
	"testing"
)

// TestURLFailures: what the URL helpers do with URLs they cannot use.
func TestURLFailures(t *testing.T) {
	const unparseable = "postgres://u:secretpw@h/db%zz"
	if IsPooled(unparseable) {
		t.Error("an unparseable URL was judged pooled")
	}
	if _, err := DirectURL(unparseable, ""); err == nil || err.Error() != "DATABASE_URL is not a valid URL" {
		t.Errorf("DirectURL(unparseable) = %v", err)
	}
	if _, err := WithDatabase(unparseable, "x"); err == nil || err.Error() != "not a valid URL" {
		t.Errorf("WithDatabase(unparseable) = %v", err)
	}
	for raw, want := range map[string]string{
		unparseable:                  "not a valid URL",
		"postgres://u@h":             "the URL names no database",
		"postgres://u@h/":            "the URL names no database",
		"postgres://u@h/todo?x=1":    "",
		"postgres://u@h/My%20Db":     "",
		"postgres://u@h:5432/todo/x": "",
	} {
		name, err := databaseName(raw)
		switch {
		case want != "" && (err == nil || err.Error() != want):
			t.Errorf("databaseName(%s) = %q, %v; want error %q", raw, name, err, want)
		case want == "" && (err != nil || name == ""):
			t.Errorf("databaseName(%s) = %q, %v", raw, name, err)
		}
	}
	if name, _ := databaseName("postgres://u@h/My%20Db"); name != "My Db" {
		t.Errorf("databaseName decodes to %q, want %q", name, "My Db")
	}

	for _, tt := range []struct{ url, unpooled, want string }{
		{"not a url", "", "DATABASE_URL is not a valid postgres:// URL"},
		{unparseable, "", "DATABASE_URL is not a valid postgres:// URL"},
		{"postgres://u@h/db", "/db", "DATABASE_URL_UNPOOLED is not a valid postgres:// URL"},
		{"postgres://u@h/db", "postgres://u@ep-a-1-pooler.x.neon.tech/db", "DATABASE_URL_UNPOOLED points at a -pooler host"},
	} {
		_, err := ResolveURLs(tt.url, tt.unpooled)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ResolveURLs(%q, %q) = %v, want %q", tt.url, tt.unpooled, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
}

// TestDirectURLShapes: -pooler comes off the first label whatever the host
// looks like, with the user information and port as written.
func TestDirectURLShapes(t *testing.T) {
	for pooled, want := range map[string]string{
		"postgres://ep-a-1-pooler/db":                     "postgres://ep-a-1/db",
		"postgres://u@ep-a-1-pooler:6543/db":              "postgres://u@ep-a-1:6543/db",
		"postgres://ep-a-1-pooler.x.neon.tech/db?a=b":     "postgres://ep-a-1.x.neon.tech/db?a=b",
		"postgres://u:p%40ss@ep-a-1-pooler.x.neon.tech/d": "postgres://u:p%40ss@ep-a-1.x.neon.tech/d",
		"postgres://pooler-x.neon.tech/db":                "postgres://pooler-x.neon.tech/db",
	} {
		got, err := DirectURL(pooled, "")
		if err != nil || got != want {
			t.Errorf("DirectURL(%s) = %q, %v; want %q", pooled, got, err, want)
		}
	}
}
