// Package listorder is the contract's order of a todo listing, written
// independently of the service's SQL, for the tests that walk every sort
// key through the service (services) and through HTTP (controllers).
package listorder

import (
	"cmp"
	"strings"
	"time"
)

// Row is what the order reads of a todo.
type Row struct {
	ID        int64
	CreatedAt time.Time
	Priority  int
	Title     string
	DueDate   *time.Time
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
