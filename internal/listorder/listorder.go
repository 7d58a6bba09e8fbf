// Package listorder is the contract's order of a todo listing, written
// independently of the service's SQL, and the check of a walk's pages
// against it, for the tests that walk every sort key through the service
// (services) and through HTTP (controllers).
package listorder

import (
	"cmp"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Row is what the order and the check read of a todo.
type Row struct {
	ID int64
	// UserID is compared where the walk knows it (0 where it does not).
	UserID      int64
	CreatedAt   time.Time
	Priority    int
	Title       string
	DueDate     *time.Time
	Description *string
	Completed   bool
}

// Compare orders a before b (<0) under the sort key, as the contract says:
// ties broken by id in the same direction; null due dates last ascending
// and first descending (so a descending order is exactly the reverse of
// the ascending one). Titles compare byte-wise: the walks' titles are
// lower-case ASCII letters only, which every collation orders the same
// way.
func Compare(key string, a, b Row) int {
	var c int
	switch strings.TrimPrefix(key, "-") {
	case "created_at":
		c = a.CreatedAt.Compare(b.CreatedAt)
	case "priority":
		c = cmp.Compare(a.Priority, b.Priority)
	case "title":
		c = strings.Compare(a.Title, b.Title)
	case "due_date":
		switch {
		case a.DueDate == nil && b.DueDate == nil:
		case a.DueDate == nil:
			c = 1
		case b.DueDate == nil:
			c = -1
		default:
			c = a.DueDate.Compare(*b.DueDate)
		}
	default:
		panic("unknown sort key " + key)
	}
	if c == 0 {
		c = cmp.Compare(a.ID, b.ID)
	}
	if strings.HasPrefix(key, "-") {
		c = -c
	}
	return c
}

// describe shows the sort column of r under key, for messages.
func (r Row) describe(key string) string {
	switch strings.TrimPrefix(key, "-") {
	case "created_at":
		return fmt.Sprintf("id=%d created_at=%s", r.ID, r.CreatedAt.Format(time.RFC3339Nano))
	case "priority":
		return fmt.Sprintf("id=%d priority=%d", r.ID, r.Priority)
	case "title":
		return fmt.Sprintf("id=%d title=%.20q", r.ID, r.Title)
	default:
		return fmt.Sprintf("id=%d due_date=%s", r.ID, optTime(r.DueDate))
	}
}

// Diff describes how a row read (got) differs from the row as created
// (want); empty when it does not.
func Diff(want, got Row) string {
	var d []string
	if got.UserID != want.UserID {
		d = append(d, fmt.Sprintf("user_id = %d, want %d", got.UserID, want.UserID))
	}
	if got.Title != want.Title {
		d = append(d, fmt.Sprintf("title = %q, want %q", got.Title, want.Title))
	}
	if optString(got.Description) != optString(want.Description) {
		d = append(d, fmt.Sprintf("description = %s, want %s", optString(got.Description), optString(want.Description)))
	}
	if got.Completed != want.Completed {
		d = append(d, fmt.Sprintf("completed = %t, want %t", got.Completed, want.Completed))
	}
	if got.Priority != want.Priority {
		d = append(d, fmt.Sprintf("priority = %d, want %d", got.Priority, want.Priority))
	}
	if (got.DueDate == nil) != (want.DueDate == nil) || (got.DueDate != nil && !got.DueDate.Equal(*want.DueDate)) {
		d = append(d, fmt.Sprintf("due_date = %s, want %s", optTime(got.DueDate), optTime(want.DueDate)))
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		d = append(d, fmt.Sprintf("created_at = %s, want %s", got.CreatedAt.Format(time.RFC3339Nano), want.CreatedAt.Format(time.RFC3339Nano)))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprintf("todo %d: %s", want.ID, strings.Join(d, "; "))
}

func optString(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

func optTime(t *time.Time) string {
	if t == nil {
		return "null"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Check compares the rows a walk read (got) with the expected sequence
// (want, in the order of key): no duplicates, no gaps, nothing extra
// (another user's rows are extra), sorted by key, and each row as it was
// created (see Diff).
func Check[T any](t testing.TB, key string, got, want []T, row func(T) Row) {
	t.Helper()
	byID := make(map[int64]T, len(want))
	for _, w := range want {
		byID[row(w).ID] = w
	}
	seen := map[int64]int{}
	var extra []int64
	dups := 0
	for i, g := range got {
		id := row(g).ID
		if j, dup := seen[id]; dup {
			if dups++; dups <= 5 {
				t.Errorf("id %d read twice (rows %d and %d)", id, j, i)
			}
			continue
		}
		seen[id] = i
		w, ok := byID[id]
		if !ok {
			extra = append(extra, id)
			continue
		}
		if d := Diff(row(w), row(g)); d != "" {
			t.Errorf("row %d differs from what was created: %s", i, d)
		}
	}
	if dups > 5 {
		t.Errorf("... %d duplicate rows in all", dups)
	}
	if len(extra) > 0 {
		t.Errorf("%d rows read that do not match (or are not this user's): ids %v", len(extra), extra[:min(len(extra), 20)])
	}
	var missing []int64
	for _, w := range want {
		if _, ok := seen[row(w).ID]; !ok {
			missing = append(missing, row(w).ID)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d matching rows never read (gaps): ids %v", len(missing), len(want), missing[:min(len(missing), 20)])
	}
	broken := 0
	for i := 1; i < len(got); i++ {
		p, okp := byID[row(got[i-1]).ID]
		c, okc := byID[row(got[i]).ID]
		if !okp || !okc || row(p).ID == row(c).ID {
			continue
		}
		if Compare(key, row(p), row(c)) >= 0 {
			if broken++; broken <= 3 {
				t.Errorf("order %s broken at row %d: %s comes before %s", key, i, row(p).describe(key), row(c).describe(key))
			}
		}
	}
	if len(got) == len(want) && len(missing) == 0 && len(extra) == 0 && dups == 0 && broken == 0 {
		for i := range got {
			if g, w := row(got[i]).ID, row(want[i]).ID; g != w {
				t.Errorf("row %d: id %d, want %d", i, g, w)
				break
			}
		}
	}
}

// Page is what a walk reads of one page of a listing.
type Page[T any] struct {
	Items      []T
	Total      int64
	Limit      int
	Offset     int
	NextCursor *string
}

// Walk reads every page of a listing whose expected rows number want,
// limit a page, by offset or by following the next cursor, checks each
// page (total, limit, offset, length, next cursor) and returns the rows
// in the order read. fetch reads page number page at offset, or after
// cursor ("" for the first page) when byCursor; it says where it read,
// for messages, and ok is false when it could not read the page (having
// reported why).
func Walk[T any](t testing.TB, limit int, byCursor bool, want int, fetch func(page, offset int, cursor string) (p Page[T], where string, ok bool)) []T {
	t.Helper()
	maxPages := want/limit + 3
	var got []T
	cursor := ""
	for page := 0; ; page++ {
		if page >= maxPages {
			t.Errorf("walk did not end after %d pages (%d rows read, %d match)", page, len(got), want)
			return got
		}
		offset := 0
		if !byCursor {
			offset = page * limit
		}
		p, where, ok := fetch(page, offset, cursor)
		if !ok {
			return got
		}
		if p.Total != int64(want) {
			t.Errorf("%s: total = %d, want %d", where, p.Total, want)
		}
		if p.Limit != limit {
			t.Errorf("%s: limit = %d, want %d", where, p.Limit, limit)
		}
		if p.Offset != offset {
			t.Errorf("%s: offset = %d, want %d", where, p.Offset, offset)
		}
		wantLen := min(limit, max(want-len(got), 0))
		if !byCursor {
			wantLen = min(limit, max(want-offset, 0))
		}
		if len(p.Items) != wantLen {
			t.Errorf("%s: %d items, want %d", where, len(p.Items), wantLen)
		}
		got = append(got, p.Items...)
		if !byCursor {
			more := offset+limit < want
			if (p.NextCursor != nil) != more {
				t.Errorf("%s: next cursor %s, want one: %t", where, optString(p.NextCursor), more)
			}
			if !more {
				return got
			}
			continue
		}
		switch {
		case p.NextCursor == nil && len(got) < want:
			t.Errorf("%s: no next cursor after %d of %d rows", where, len(got), want)
			return got
		case p.NextCursor == nil:
			return got
		case len(p.Items) == 0:
			t.Errorf("%s: empty page with a next cursor", where)
			return got
		case len(got) >= want:
			// Keep walking: whatever follows shows up as duplicates or
			// extra rows.
			t.Errorf("%s: next cursor %q on the last page, want none", where, *p.NextCursor)
		}
		if *p.NextCursor == cursor {
			t.Errorf("%s: the next cursor is the cursor just used: the walk would never end", where)
			return got
		}
		cursor = *p.NextCursor
	}
}
