package services

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/todo-api/todo-api/models"
)

// List limits.
const (
	DefaultLimit   = 20
	MaxLimit       = 100
	MaxQueryLength = 200
)

// DefaultSort is the list order when none is asked for.
const DefaultSort = "-created_at"

// sortSpec is one sort key: the column, its direction, and whether it can be
// NULL (NULLs sort last ascending and first descending, PostgreSQL's default,
// so one index serves both directions). Ties are broken by id in the same
// direction, so the order is total and pages never overlap or skip.
type sortSpec struct {
	column   string
	desc     bool
	nullable bool
}

var sorts = map[string]sortSpec{
	"created_at":  {column: "created_at"},
	"-created_at": {column: "created_at", desc: true},
	"priority":    {column: "priority"},
	"-priority":   {column: "priority", desc: true},
	"due_date":    {column: "due_date", nullable: true},
	"-due_date":   {column: "due_date", desc: true, nullable: true},
	"title":       {column: "title"},
	"-title":      {column: "title", desc: true},
}

// SortKeys lists the accepted sort values, for messages and docs.
var SortKeys = []string{"created_at", "-created_at", "priority", "-priority", "due_date", "-due_date", "title", "-title"}

// ListQuery is a parsed GET /todos query.
type ListQuery struct {
	Completed   *bool
	MinPriority *int
	Q           string
	DueBefore   *time.Time
	DueAfter    *time.Time
	Sort        string
	Limit       int
	Offset      int
	Cursor      string
}

// Page is one page of a listing.
type Page struct {
	Items      []models.Todo
	Total      int64
	Limit      int
	Offset     int
	NextCursor *string
}

// List returns one page of the user's todos under the filters, and the
// number of all matches. Pages come by offset or, with a cursor, by keyset:
// a cursor page costs the same however deep it is.
func (s *Todos) List(ctx context.Context, userID int64, q ListQuery) (Page, error) {
	q = q.withDefaults()
	if problems := s.CheckQuery(q); len(problems) > 0 {
		return Page{}, &QueryError{Fields: problems}
	}
	spec := sorts[q.Sort]
	fingerprint := q.fingerprint()

	db := s.db.WithContext(ctx)
	filtered := applyFilters(db.Model(&models.Todo{}).Where("user_id = ?", userID), q)

	var total int64
	if err := read(ctx, func() error { return filtered.Session(&gorm.Session{}).Count(&total).Error }); err != nil {
		return Page{}, translate(err, "count todos")
	}

	page := filtered.Session(&gorm.Session{})
	if q.Cursor != "" {
		c, _ := s.cursors.decode(q.Cursor) // checked by CheckQuery
		after, args, _ := spec.after(c)
		page = page.Where(after, args...)
	} else if q.Offset > 0 {
		page = page.Offset(q.Offset)
	}
	dir := "ASC"
	if spec.desc {
		dir = "DESC"
	}
	var items []models.Todo
	err := read(ctx, func() error {
		return page.Session(&gorm.Session{}).Order(spec.column + " " + dir + ", id " + dir).Limit(q.Limit + 1).Find(&items).Error
	})
	if err != nil {
		return Page{}, translate(err, "list todos")
	}
	result := Page{Items: items, Total: total, Limit: q.Limit, Offset: q.Offset}
	if len(items) > q.Limit {
		result.Items = items[:q.Limit]
		next := s.cursors.encode(spec.cursorAt(q.Sort, fingerprint, result.Items[q.Limit-1]))
		result.NextCursor = &next
	}
	return result, nil
}

func (q ListQuery) withDefaults() ListQuery {
	if q.Sort == "" {
		q.Sort = DefaultSort
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	return q
}

// CheckQuery lists every problem with a listing query (zero Sort and Limit
// mean the defaults): ranges, the sort key, and the cursor, which must be
// one this service signed, for the same sort and filters.
func (s *Todos) CheckQuery(q ListQuery) []FieldError {
	q = q.withDefaults()
	var problems []FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	spec, sortOK := sorts[q.Sort]
	if !sortOK {
		add("sort", "must be one of %s", strings.Join(SortKeys, ", "))
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		add("limit", "must be an integer from 1 to %d", MaxLimit)
	}
	if q.Offset < 0 {
		add("offset", "must be an integer of at least 0")
	}
	if q.MinPriority != nil && (*q.MinPriority < MinPriority || *q.MinPriority > MaxPriority) {
		add("min_priority", "must be an integer from %d to %d", MinPriority, MaxPriority)
	}
	if len([]rune(q.Q)) > MaxQueryLength {
		add("q", "must be at most %d characters", MaxQueryLength)
	} else if strings.IndexByte(q.Q, 0) >= 0 {
		add("q", "must not contain NUL characters")
	}
	if q.Cursor == "" {
		return problems
	}
	if q.Offset != 0 {
		add("cursor", "cannot be combined with offset")
		return problems
	}
	c, err := s.cursors.decode(q.Cursor)
	switch {
	case err != nil:
		add("cursor", "is not a valid cursor; start again without one")
	case !sortOK:
	case c.Sort != q.Sort || c.Filters != q.fingerprint():
		add("cursor", "was issued for another sort or other filters; start again without one")
	default:
		if _, _, err := spec.after(c); err != nil {
			add("cursor", "is not a valid cursor; start again without one")
		}
	}
	return problems
}

func applyFilters(db *gorm.DB, q ListQuery) *gorm.DB {
	if q.Completed != nil {
		db = db.Where("completed = ?", *q.Completed)
	}
	if q.MinPriority != nil {
		db = db.Where("priority >= ?", *q.MinPriority)
	}
	if q.DueBefore != nil {
		db = db.Where("due_date < ?", q.DueBefore.UTC())
	}
	if q.DueAfter != nil {
		db = db.Where("due_date > ?", q.DueAfter.UTC())
	}
	if q.Q != "" {
		pattern := "%" + escapeLike(q.Q) + "%"
		db = db.Where(`(title ILIKE ? ESCAPE '\' OR description ILIKE ? ESCAPE '\')`, pattern, pattern)
	}
	return db
}

// escapeLike makes %, _ and \ match themselves in a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// fingerprint identifies the filters a cursor was issued under.
func (q ListQuery) fingerprint() string {
	var b strings.Builder
	if q.Completed != nil {
		fmt.Fprintf(&b, "c=%t;", *q.Completed)
	}
	if q.MinPriority != nil {
		fmt.Fprintf(&b, "p=%d;", *q.MinPriority)
	}
	if q.DueBefore != nil {
		fmt.Fprintf(&b, "b=%d;", q.DueBefore.UnixMicro())
	}
	if q.DueAfter != nil {
		fmt.Fprintf(&b, "a=%d;", q.DueAfter.UnixMicro())
	}
	fmt.Fprintf(&b, "q=%s", q.Q)
	sum := sha256.Sum256([]byte(b.String()))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// cursor is the position after the last row of a page.
type cursor struct {
	Sort    string `json:"s"`
	Filters string `json:"f"`
	// Value is the sort column of the last row: unix microseconds for
	// times, the number for priority, the text for title; nil for a NULL.
	Value any   `json:"v"`
	ID    int64 `json:"i"`
}

func (spec sortSpec) cursorAt(sort, fingerprint string, t models.Todo) cursor {
	c := cursor{Sort: sort, Filters: fingerprint, ID: t.ID}
	switch spec.column {
	case "created_at":
		c.Value = t.CreatedAt.UnixMicro()
	case "priority":
		c.Value = int64(t.Priority)
	case "title":
		c.Value = t.Title
	case "due_date":
		if t.DueDate != nil {
			c.Value = t.DueDate.UnixMicro()
		}
	}
	return c
}

// after returns the keyset condition "rows after c" in this sort order.
func (spec sortSpec) after(c cursor) (string, []any, error) {
	cmp := ">"
	if spec.desc {
		cmp = "<"
	}
	var value any
	switch v := c.Value.(type) {
	case nil:
		if !spec.nullable {
			return "", nil, fmt.Errorf("null cursor value for %s", spec.column)
		}
	case json.Number: // decoded with UseNumber: exact for any int64
		n, err := v.Int64()
		if err != nil {
			return "", nil, fmt.Errorf("non-integer cursor value")
		}
		switch spec.column {
		case "created_at", "due_date":
			value = time.UnixMicro(n).UTC()
		case "priority":
			value = n
		default:
			return "", nil, fmt.Errorf("numeric cursor value for %s", spec.column)
		}
	case string:
		if spec.column != "title" {
			return "", nil, fmt.Errorf("text cursor value for %s", spec.column)
		}
		value = v
	default:
		return "", nil, fmt.Errorf("bad cursor value")
	}
	col := spec.column
	if !spec.nullable {
		return fmt.Sprintf("(%s, id) %s (?, ?)", col, cmp), []any{value, c.ID}, nil
	}
	// NULLs come last ascending and first descending.
	switch {
	case !spec.desc && value == nil:
		return fmt.Sprintf("(%s IS NULL AND id > ?)", col), []any{c.ID}, nil
	case !spec.desc:
		return fmt.Sprintf("(%[1]s > ? OR (%[1]s = ? AND id > ?) OR %[1]s IS NULL)", col), []any{value, value, c.ID}, nil
	case value == nil:
		return fmt.Sprintf("((%[1]s IS NULL AND id < ?) OR %[1]s IS NOT NULL)", col), []any{c.ID}, nil
	default:
		return fmt.Sprintf("(%[1]s < ? OR (%[1]s = ? AND id < ?))", col), []any{value, value, c.ID}, nil
	}
}

// maxCursorLength bounds what decode reads: the longest cursor (a 255
// character title of control characters, each escaped to six bytes) is
// about 2,200 characters.
const maxCursorLength = 4096

// cursorCodec signs cursors so that a tampered one is refused rather than
// trusted: base64url(JSON) "." base64url(HMAC-SHA256[:16]).
type cursorCodec struct {
	key []byte
}

func (cc cursorCodec) encode(c cursor) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keeps cursors of titles full of <>& short
	enc.Encode(c)
	payload := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(cc.sign(payload))
}

func (cc cursorCodec) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, cc.key)
	mac.Write([]byte("todo-api cursor v1\x00"))
	mac.Write(payload)
	return mac.Sum(nil)[:16]
}

func (cc cursorCodec) decode(s string) (cursor, error) {
	var c cursor
	if len(s) > maxCursorLength {
		return c, fmt.Errorf("cursor too long")
	}
	body, sig, ok := strings.Cut(s, ".")
	if !ok {
		return c, fmt.Errorf("malformed cursor")
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return c, err
	}
	given, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return c, err
	}
	if !hmac.Equal(given, cc.sign(payload)) {
		return c, fmt.Errorf("cursor signature mismatch")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	return c, nil
}
