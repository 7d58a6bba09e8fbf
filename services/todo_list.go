package services

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// sortKey is one column a list can be sorted by: ascending under its name,
// descending under "-" + its name. nullable columns put NULLs last
// ascending and first descending (PostgreSQL's default, so one index serves
// both directions). value is the row's value as a cursor keeps it (nil for
// NULL); parse turns a cursor's value back into one to compare with the
// column, and says whether it could.
type sortKey struct {
	name     string
	column   string
	nullable bool
	value    func(models.Todo) any
	parse    func(any) (any, bool)
}

// sortKeys are the sort columns; adding one is one entry here (and an
// index that serves it, see models).
var sortKeys = []sortKey{
	{name: "created_at", column: "created_at", parse: parseMicros,
		value: func(t models.Todo) any { return t.CreatedAt.UnixMicro() }},
	{name: "priority", column: "priority", parse: parseInteger,
		value: func(t models.Todo) any { return int64(t.Priority) }},
	{name: "due_date", column: "due_date", nullable: true, parse: parseMicros,
		value: func(t models.Todo) any {
			if t.DueDate == nil {
				return nil
			}
			return t.DueDate.UnixMicro()
		}},
	{name: "title", column: "title", parse: parseText,
		value: func(t models.Todo) any { return t.Title }},
}

// parseInteger reads a number a cursor holds (json.Number: exact for any
// int64).
func parseInteger(v any) (any, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// parseMicros reads a time a cursor holds as unix microseconds.
func parseMicros(v any) (any, bool) {
	n, ok := parseInteger(v)
	if !ok {
		return nil, false
	}
	return time.UnixMicro(n.(int64)).UTC(), true
}

func parseText(v any) (any, bool) {
	s, ok := v.(string)
	return s, ok
}

// sortOrder is a sort key in one direction. Ties are broken by id in the
// same direction, so the order is total and pages never overlap or skip.
type sortOrder struct {
	key  sortKey
	desc bool
}

// sorts maps every accepted sort value to its order; SortKeys lists the
// values, for messages and docs.
var sorts, SortKeys = func() (map[string]sortOrder, []string) {
	m := make(map[string]sortOrder, 2*len(sortKeys))
	names := make([]string, 0, 2*len(sortKeys))
	for _, k := range sortKeys {
		m[k.name] = sortOrder{key: k}
		m["-"+k.name] = sortOrder{key: k, desc: true}
		names = append(names, k.name, "-"+k.name)
	}
	return m, names
}()

// ListQuery is a listing request. Nil Sort and Limit take the defaults; a
// nil Cursor asks for a page by offset.
type ListQuery struct {
	Completed   *bool
	MinPriority *int
	Q           string
	DueBefore   *time.Time
	DueAfter    *time.Time
	Sort        *string
	Limit       *int
	Offset      int
	Cursor      *string
}

func (q ListQuery) sort() string {
	if q.Sort == nil {
		return DefaultSort
	}
	return *q.Sort
}

func (q ListQuery) limit() int {
	if q.Limit == nil {
		return DefaultLimit
	}
	return *q.Limit
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
// a cursor page costs the same however deep it is. A query CheckQuery
// refuses is a *QueryError.
//
// Page and total are one statement, one round trip (the count is an
// uncorrelated subquery, run once); a search reads its matches once for
// both (listStatement). Two limits keep one user's listings from taking
// everyone's connections and database time: at most ListsPerUser run at
// once for a user on all instances together (ErrTooManyLists, 429), and
// each stops after ListTimeout (ErrListTooSlow). Only an empty page costs
// a second statement (listEmpty), which tells a refused or revoked caller
// from an empty list and counts the matches.
func (s *Todos) List(ctx context.Context, c Caller, q ListQuery) (Page, error) {
	problems, after := s.check(q)
	if len(problems) > 0 {
		return Page{}, &QueryError{Fields: problems}
	}
	limit := q.limit()
	leave, ok := s.running.enter(c.ID, s.listsPerUser)
	if !ok {
		return Page{}, ErrTooManyLists
	}
	defer leave()
	listCtx := ctx
	if s.listTimeout > 0 {
		var cancel context.CancelFunc
		listCtx, cancel = context.WithTimeout(ctx, s.listTimeout)
		defer cancel()
	}
	var rows []listRow
	err := read(listCtx, func() error {
		rows = nil
		return s.listStatement(listCtx, c, q, after).Scan(&rows).Error
	})
	if err != nil {
		return Page{}, s.listError(ctx, listCtx, err, "list todos")
	}
	result := Page{Limit: limit, Offset: q.Offset}
	if len(rows) == 0 {
		total, err := s.listEmpty(listCtx, c, q)
		if err != nil {
			return Page{}, s.listError(ctx, listCtx, err, "count todos")
		}
		result.Total = total
		return result, nil
	}
	result.Total = rows[0].ListTotal
	result.Items = make([]models.Todo, len(rows))
	for i := range rows {
		result.Items[i] = rows[i].Todo
	}
	if len(result.Items) > limit {
		result.Items = result.Items[:limit]
		last := result.Items[limit-1]
		order := sorts[q.sort()]
		next := s.cursors.encode(cursor{Sort: q.sort(), Filters: q.fingerprint(), Value: order.key.value(last), ID: last.ID})
		result.NextCursor = &next
	}
	return result, nil
}

// runningLists counts each user's listings running in this process: a
// first filter before the database's gate (listGate), with the same limit,
// so that a flood of listings from one user is refused without a
// statement each. The gate in the database is what holds across
// instances; this one only spares it the obvious cases.
type runningLists struct {
	mu sync.Mutex
	n  map[int64]int
}

// enter counts a listing of user and returns its leave, or says no when
// limit are running already (a limit of 0 admits all, uncounted).
func (r *runningLists) enter(user int64, limit int) (leave func(), ok bool) {
	if limit <= 0 {
		return func() {}, true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n[user] >= limit {
		return nil, false
	}
	if r.n == nil {
		r.n = map[int64]int{}
	}
	r.n[user]++
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.n[user]--; r.n[user] <= 0 {
			delete(r.n, user)
		}
	}, true
}

// listRow is a row of listStatement: a todo of the page, and the number of
// all matches.
type listRow struct {
	models.Todo
	ListTotal int64
}

// listStatement is the one statement of a listing. Without q it reads the
// page through the index of its order and counts the matches in a
// subquery; with q the matches (ids and sort column only) are found once,
// materialized, and both counted and paged from there, since finding them
// is the expensive part and both need all of them.
func (s *Todos) listStatement(ctx context.Context, c Caller, q ListQuery, after *cursor) *gorm.DB {
	order := sorts[q.sort()]
	dir := "ASC"
	if order.desc {
		dir = "DESC"
	}
	db := s.db.WithContext(ctx)
	matches := func() *gorm.DB {
		m := applyFilters(db.Model(&models.Todo{}).Scopes(c.owned), c.ID, q)
		if gate, args := s.listGate(c); gate != "" {
			m = m.Where(gate, args...)
		}
		return m
	}
	bound := func(stmt *gorm.DB, table string) *gorm.DB {
		if after != nil {
			cond, args := order.after(*after, table)
			stmt = stmt.Where(cond, args...)
		} else if q.Offset > 0 {
			stmt = stmt.Offset(q.Offset)
		}
		col := table + "." + order.key.column
		return stmt.Order(col + " " + dir + ", " + table + ".id " + dir).Limit(q.limit() + 1)
	}
	if q.Q == "" {
		count := applyFilters(db.Model(&models.Todo{}).Scopes(c.owned), c.ID, q).Select("count(*)")
		if !q.filtered() {
			// All the user's todos: their number is kept exact in
			// todo_counts (a trigger on todos, migration 20261207140000),
			// read in the same snapshot as the page, so the total costs
			// at most 16 rows instead of counting 10,000.
			count = db.Raw(todoCountOf, c.ID)
		}
		if q.Offset > 0 && after == nil {
			// A deep page finds its ids first, from the index alone where
			// it can (an index-only scan skips the offset's rows without
			// reading them from the table), then reads only those rows:
			// at offset 5,000 the plain query fetched 5,021 rows to return
			// 21.
			page := bound(matches().Select("todos.id"), "todos")
			return db.Raw(`WITH p AS (?) SELECT todos.*, (?) AS list_total FROM p JOIN todos ON todos.id = p.id
				ORDER BY todos.`+order.key.column+" "+dir+", todos.id "+dir, page, count)
		}
		return bound(matches().Select("todos.*, (?) AS list_total", count), "todos")
	}
	found := matches().Select("todos.id, todos." + order.key.column)
	page := bound(db.Table("m").Select("m.id"), "m")
	return db.Raw(`WITH m AS MATERIALIZED (?), p AS (?)
		SELECT todos.*, (SELECT count(*) FROM m) AS list_total
		FROM p JOIN todos ON todos.id = p.id
		ORDER BY todos.`+order.key.column+" "+dir+", todos.id "+dir, found, page)
}

// listGate is the condition that admits a listing while fewer than
// ListsPerUser of the same user's run, on any instance: it takes one of
// that many transaction-scoped advisory locks keyed by the user, trying
// each in turn, and is false when all are held. The locks go with the
// statement (its own transaction, also through a transaction pooler), and
// as an uncorrelated subquery the gate is evaluated once, before any row
// is read. Empty when there is no such limit.
func (s *Todos) listGate(c Caller) (string, []any) {
	if s.listsPerUser <= 0 {
		return "", nil
	}
	user := int32(c.ID % math.MaxInt32)
	tries := make([]string, s.listsPerUser)
	args := make([]any, 0, 2*s.listsPerUser)
	for i := range tries {
		tries[i] = "pg_try_advisory_xact_lock(?, ?)"
		args = append(args, listLockClass+int32(i), user)
	}
	return "(SELECT " + strings.Join(tries, " OR ") + ")", args
}

// listLockClass is the first advisory lock class of the listing slots (the
// two-key form; the migration lock uses the one-key form, another space).
const listLockClass int32 = 0x746f6400 // "tod\x00"

// listEmpty explains a listing that found no row: the gate refused it
// (ErrTooManyLists), the token was revoked (ErrUnauthorized), or there are
// Total matches before this page. One statement; the count runs only when
// the other two pass.
func (s *Todos) listEmpty(ctx context.Context, c Caller, q ListQuery) (int64, error) {
	count := applyFilters(s.db.WithContext(ctx).Model(&models.Todo{}).Scopes(c.owned), c.ID, q).Select("count(*)")
	gate, gateArgs := s.listGate(c)
	if gate == "" {
		gate = "true"
	}
	var total int64
	args := append(append(gateArgs, c.accountArgs()...), count)
	err := read(ctx, func() error {
		return s.db.WithContext(ctx).Raw("SELECT CASE WHEN NOT "+gate+" THEN -1 WHEN NOT "+accountCheck+" THEN -2 ELSE (?) END", args...).Scan(&total).Error
	})
	switch {
	case err != nil:
		return 0, err
	case total == -1:
		return 0, ErrTooManyLists
	case total == -2:
		return 0, ErrUnauthorized
	}
	return total, nil
}

// listError translates a listing's failure: the list's own deadline
// passing (not the request's) is ErrListTooSlow.
func (s *Todos) listError(ctx, listCtx context.Context, err error, what string) error {
	if errors.Is(err, ErrTooManyLists) || errors.Is(err, ErrUnauthorized) {
		return err
	}
	if listCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return fmt.Errorf("%s: %w: %w", what, ErrListTooSlow, err)
	}
	return translate(err, what)
}

// Check lists the problems of a listing query that need no signing key:
// ranges, the sort key, and how a cursor may be combined.
func (q ListQuery) Check() []FieldError {
	var problems []FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if _, ok := sorts[q.sort()]; !ok {
		add("sort", "must be one of %s", strings.Join(SortKeys, ", "))
	}
	if n := q.limit(); n < 1 || n > MaxLimit {
		add("limit", "must be an integer from 1 to %d", MaxLimit)
	}
	if q.Offset < 0 {
		add("offset", "must be an integer of at least 0")
	}
	if q.MinPriority != nil && (*q.MinPriority < MinPriority || *q.MinPriority > MaxPriority) {
		add("min_priority", "must be an integer from %d to %d", MinPriority, MaxPriority)
	}
	if utf8.RuneCountInString(q.Q) > MaxQueryLength {
		add("q", "must be at most %d characters", MaxQueryLength)
	} else if strings.IndexByte(q.Q, 0) >= 0 || !utf8.ValidString(q.Q) {
		add("q", "must be valid text without NUL characters")
	}
	switch {
	case q.Cursor == nil:
	case *q.Cursor == "":
		add("cursor", "must not be empty")
	case q.Offset != 0:
		add("cursor", "cannot be combined with offset")
	}
	return problems
}

// CheckQuery lists every problem of a listing query: those of Check, and a
// cursor's, which must be one this service signed, for the same sort and
// filters. List calls it.
func (s *Todos) CheckQuery(q ListQuery) []FieldError {
	problems, _ := s.check(q)
	return problems
}

// check is CheckQuery, also returning the cursor when there is a valid one.
func (s *Todos) check(q ListQuery) ([]FieldError, *cursor) {
	problems := q.Check()
	if q.Cursor == nil {
		return problems, nil
	}
	for _, p := range problems {
		if p.Field == "cursor" {
			return problems, nil
		}
	}
	c, err := s.cursors.decode(*q.Cursor)
	order, sortOK := sorts[q.sort()]
	invalid := FieldError{Field: "cursor", Message: "is not a valid cursor; start again without one"}
	switch {
	case err != nil:
		return append(problems, invalid), nil
	case !sortOK:
		return problems, nil
	case c.Sort != q.sort() || c.Filters != q.fingerprint():
		return append(problems, FieldError{Field: "cursor", Message: "was issued for another sort or other filters; start again without one"}), nil
	case !order.accepts(c):
		return append(problems, invalid), nil
	}
	return problems, &c
}

// filtered reports whether q narrows the user's todos at all.
func (q ListQuery) filtered() bool {
	return q.Completed != nil || q.MinPriority != nil || q.DueBefore != nil || q.DueAfter != nil || q.Q != ""
}

func applyFilters(db *gorm.DB, userID int64, q ListQuery) *gorm.DB {
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
		if hasTrigram(q.Q) {
			// Narrows the search to rows holding every trigram of q, read
			// from the user's own posting lists of idx_todos_search_keys
			// (migration 20261130140000), and to the user's rows with too
			// many trigrams to index (20261207130000); the match below
			// decides.
			db = db.Where(`(todo_search_keys(user_id, title, description) @> todo_search_query_keys(?, ?)
				OR todo_search_keys(user_id, title, description) @> todo_search_overflow_key(?))`, userID, q.Q, userID)
		}
		// A case-insensitive substring, as ILIKE '%q%' (both sides
		// lower-cased), but found by strpos, whose search does not
		// backtrack: ILIKE's costs about text × pattern length, and a
		// 200-character pattern over 2,000 texts of 10,000 characters
		// took 3.9 s against strpos's 0.16 s. No escaping is needed: q
		// has no metacharacters here.
		db = db.Where(`(strpos(lower(title), lower(?)) > 0 OR strpos(lower(description), lower(?)) > 0)`, q.Q, q.Q)
	}
	return db
}

// hasTrigram tells whether s has three ASCII letters or digits in a row:
// exactly when the search keys of s (todo_search_query_keys) are not empty.
// With none, "contains the empty set" would hold for every row of every
// user and the index would be read whole; such a search scans the user's
// rows instead (idx_todos_user_created).
func hasTrigram(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			if run++; run == 3 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
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

// value is c's sort value as the column compares it; ok is false when c
// cannot be a position in this order (NULL for a column that has none, or
// a value of the wrong kind).
func (o sortOrder) value(c cursor) (v any, ok bool) {
	if c.Value == nil {
		return nil, o.key.nullable
	}
	return o.key.parse(c.Value)
}

func (o sortOrder) accepts(c cursor) bool {
	_, ok := o.value(c)
	return ok
}

// after returns the keyset condition "rows after c" in this order, on the
// columns of table; c must be one accepts allows.
func (o sortOrder) after(c cursor, table string) (string, []any) {
	value, _ := o.value(c)
	col, id := table+"."+o.key.column, table+".id"
	if !o.key.nullable {
		cmp := ">"
		if o.desc {
			cmp = "<"
		}
		return fmt.Sprintf("(%s, %s) %s (?, ?)", col, id, cmp), []any{value, c.ID}
	}
	// NULLs come last ascending and first descending.
	switch {
	case !o.desc && value == nil:
		return fmt.Sprintf("(%s IS NULL AND %s > ?)", col, id), []any{c.ID}
	case !o.desc:
		return fmt.Sprintf("(%[1]s > ? OR (%[1]s = ? AND %[2]s > ?) OR %[1]s IS NULL)", col, id), []any{value, value, c.ID}
	case value == nil:
		return fmt.Sprintf("((%[1]s IS NULL AND %[2]s < ?) OR %[1]s IS NOT NULL)", col, id), []any{c.ID}
	default:
		return fmt.Sprintf("(%[1]s < ? OR (%[1]s = ? AND %[2]s < ?))", col, id), []any{value, value, c.ID}
	}
}
