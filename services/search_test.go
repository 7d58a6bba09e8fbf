package services

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/models"
)

func TestHasTrigram(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"abc", true}, {"ab", false}, {"a b c", false}, {"a-bc", false}, {"x1y", true},
		{"%_\\", false}, {"ünï", false}, {"日本語", false}, {"aéb", false}, {"ab%cd", false}, {"  invoice ", true}, {"", false},
	} {
		if got := hasTrigram(tc.q); got != tc.want {
			t.Errorf("hasTrigram(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// TestSearchMatchesILIKE: q finds exactly the rows a plain ILIKE over the
// user's todos finds, whether or not the search keys narrow it (words,
// parts of words, across words, punctuation, case, non-ASCII, LIKE
// metacharacters, too short for a trigram), and never another user's.
func TestSearchMatchesILIKE(t *testing.T) {
	ctx := context.Background()
	s := NewTodos(db, []byte("k"), time.Hour, nil)
	owner, other := newUser(t), newUser(t)
	texts := []struct{ title, desc string }{
		{"Pay the INVOICE", ""},
		{"Send invoices", "to ACME, Inc. before Friday"},
		{"Straße kehren", "Größe prüfen"},
		{"100% done_ish", `path C:\temp\files`},
		{"日本語のメモ", "東京"},
		{"a", "xy"},
		{"Mixed-case Word", "re-invoice later"},
		{"nothing here", "at all"},
	}
	for _, u := range []models.User{owner, other} {
		for _, x := range texts {
			in := TodoInput{Title: Some(x.title)}
			if x.desc != "" {
				in.Description = Some(x.desc)
			}
			if _, err := createOne(ctx, s, callerOf(u), in); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, q := range []string{
		"invoice", "INVOICE", "voic", "nvoices", "ACME, Inc", "e, I", "straße", "STRASSE", "größe",
		"100%", "done_", `C:\temp`, "%", "_", `\`, "日本", "本語のメ", "東京", "a", "xy", "ed-ca", "word",
		"re-invoice later", "zzz", "in", "at all", "Größe prüfen", "ße kehren", "Straße kehren", "prüfen", "のメモ",
	} {
		page, err := s.List(ctx, callerOf(owner), ListQuery{Q: q})
		if err != nil {
			t.Fatalf("q=%q: %v", q, err)
		}
		var want int64
		// The reference: ILIKE with %, _ and \ escaped to match themselves.
		pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
		db.Raw(`SELECT count(*) FROM todos WHERE user_id = ? AND (title ILIKE ? ESCAPE '\' OR description ILIKE ? ESCAPE '\')`, owner.ID, pattern, pattern).Scan(&want)
		if page.Total != want || int64(len(page.Items)) != want {
			t.Errorf("q=%q: total %d, %d items; a plain ILIKE finds %d", q, page.Total, len(page.Items), want)
		}
		for _, it := range page.Items {
			if it.UserID != owner.ID {
				t.Errorf("q=%q returned another user's todo %d", q, it.ID)
			}
		}
	}
}
