package listorder

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder keeps what Check reports instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestCheck: a walk that read the expected rows passes; duplicates, gaps,
// extra rows, a broken order and a changed row are each reported.
func TestCheck(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	row := func(id int64, title string) Row { return Row{ID: id, CreatedAt: at, Title: title} }
	want := []Row{row(1, "a"), row(2, "b"), row(3, "c")}
	same := func(r Row) Row { return r }
	for _, tc := range []struct {
		name string
		got  []Row
		want string // a part of the one report; "" for none
	}{
		{"all in order", want, ""},
		{"read twice", []Row{want[0], want[1], want[1], want[2]}, "id 2 read twice"},
		{"gap", []Row{want[0], want[2]}, "1 of 3 matching rows never read"},
		{"extra", []Row{want[0], want[1], want[2], row(9, "z")}, "1 rows read that do not match"},
		{"order", []Row{want[0], want[2], want[1]}, "order title broken at row 2"},
		{"changed", []Row{want[0], row(2, "x"), want[2]}, `title = "x", want "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			Check(r, "title", tc.got, want, same)
			switch {
			case tc.want == "" && len(r.errors) > 0:
				t.Errorf("reported %q, want nothing", r.errors)
			case tc.want != "" && (len(r.errors) == 0 || !strings.Contains(strings.Join(r.errors, "\n"), tc.want)):
				t.Errorf("reported %q, want %q", r.errors, tc.want)
			}
		})
	}
}
