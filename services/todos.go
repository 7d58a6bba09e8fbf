package services

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/models"
)

// Todo field limits (see apidocs/openapi.yaml).
const (
	MaxTitleLength       = 255
	MaxDescriptionLength = 10000
	MinPriority          = 0
	MaxPriority          = 5
	MaxBatchItems        = 1000
)

// Todos is the todo service. Every method is scoped to one user: another
// user's todo is ErrNotFound, never a different error.
type Todos struct {
	db      *gorm.DB
	now     func() time.Time
	cursors cursorCodec
	// idempotencyTTL is how long the answer kept with an Idempotency-Key
	// is replayed.
	idempotencyTTL time.Duration
	// listTimeout stops a listing that takes longer (0: only the
	// request's deadline); listsPerUser bounds one user's listings running
	// at once on all instances (0: no bound). See List.
	listTimeout  time.Duration
	listsPerUser int
	running      runningLists
	// budget bounds each user's creates (see BudgetCreates); leases are
	// the units of it this process holds already.
	budget createBudget
	leases budgetLeases
}

// NewTodos returns the service. cursorKey signs pagination cursors;
// idempotencyTTL is how long the answer of a create sent with an
// Idempotency-Key is replayed; now is the clock (nil means the wall clock).
func NewTodos(db *gorm.DB, cursorKey []byte, idempotencyTTL time.Duration, now func() time.Time) *Todos {
	if now == nil {
		now = database.Now
	}
	return &Todos{db: db, now: now, cursors: cursorCodec{key: cursorKey}, idempotencyTTL: idempotencyTTL}
}

// LimitLists bounds listings: each stops after timeout, and at most
// perUser of one user's run at once (see List); 0 leaves either unbounded.
func (s *Todos) LimitLists(timeout time.Duration, perUser int) *Todos {
	s.listTimeout, s.listsPerUser = timeout, perUser
	return s
}

// TodoInput is a todo to create or a patch. In a create, fields not given
// take their defaults; in a patch, they are left alone and Null clears
// description or due_date.
type TodoInput struct {
	Title       Optional[string]
	Description Optional[string]
	Completed   Optional[bool]
	Priority    Optional[int]
	DueDate     Optional[time.Time]
}

// Validate lists every problem of the input, with field names prefixed by
// prefix (for batch items). creating makes title required. Create, Update
// and CreateBatch call it; it is exported for callers that must list these
// problems together with their own when they cannot call the service.
func (in TodoInput) Validate(prefix string, creating bool) *ValidationError {
	v := &ValidationError{}
	switch {
	case !in.Title.Set && creating:
		v.Add(prefix+"title", "is required")
	case in.Title.Null:
		v.Add(prefix+"title", "must not be null")
	case in.Title.Set:
		checkText(v, prefix+"title", strings.TrimSpace(in.Title.Value), 1, MaxTitleLength)
	}
	if in.Description.Set && !in.Description.Null {
		checkText(v, prefix+"description", in.Description.Value, 0, MaxDescriptionLength)
	}
	if in.Completed.Null {
		v.Add(prefix+"completed", "must be true or false, not null")
	}
	if in.Priority.Null {
		v.Add(prefix+"priority", "must be an integer from %d to %d, not null", MinPriority, MaxPriority)
	} else if in.Priority.Set && (in.Priority.Value < MinPriority || in.Priority.Value > MaxPriority) {
		v.Add(prefix+"priority", "must be an integer from %d to %d", MinPriority, MaxPriority)
	}
	if in.DueDate.Set && !in.DueDate.Null {
		if y := in.DueDate.Value.UTC().Year(); y < 1 || y > 9999 {
			v.Add(prefix+"due_date", "must be a date-time between the years 0001 and 9999 (in UTC)")
		}
	}
	return v
}

func (in TodoInput) newTodo(userID int64, now time.Time) models.Todo {
	t := models.Todo{UserID: userID, Title: strings.TrimSpace(in.Title.Value), CreatedAt: now, UpdatedAt: now}
	if in.Description.Set && !in.Description.Null {
		d := in.Description.Value
		t.Description = &d
	}
	t.Completed = in.Completed.Value
	t.Priority = int16(in.Priority.Value)
	if in.DueDate.Set && !in.DueDate.Null {
		d := storedTime(in.DueDate.Value)
		t.DueDate = &d
	}
	return t
}

// storedTime is t as PostgreSQL keeps it (database.StoredTime).
var storedTime = database.StoredTime

// CreateRequest is a create: the todos of POST /todos (one, Single) or
// of POST /todos/batch (1 to MaxBatchItems), and, with Once, the
// Idempotency-Key that makes it happen at most once.
type CreateRequest struct {
	Items []TodoInput
	// Single names a problem by the field alone (title), not by the item
	// (items[0].title).
	Single bool
	Once   *Once
}

// Created is what a create did: the todos it wrote, or, for a repeat of a
// create under the same key, the answer the first one gave (Replayed).
type Created struct {
	Todos    []models.Todo
	Answer   []byte
	Replayed bool
}

// Create stores the request's todos, all or none: every item is validated
// first, then one multi-row INSERT runs (see insert); under Once, in one
// transaction with the answer kept for the key (see once).
func (s *Todos) Create(ctx context.Context, c Caller, req CreateRequest) (Created, error) {
	v := ValidateBatch(req.Items)
	if req.Single {
		if len(req.Items) != 1 {
			return Created{}, fmt.Errorf("a single create of %d todos", len(req.Items))
		}
		v = req.Items[0].Validate("", true)
	}
	if err := v.Err(); err != nil {
		return Created{}, err
	}
	if req.Once != nil {
		return s.once(ctx, c, req.Items, *req.Once)
	}
	todos := s.newTodos(c.ID, req.Items)
	if err := write(ctx, func() error { return s.insert(ctx, s.db.WithContext(ctx), c, todos) }); err != nil {
		return Created{}, translate(err, "create todos")
	}
	return Created{Todos: todos}, nil
}

// insert writes todos, built by newTodo, in one statement, and sets their
// ids. GORM's Create has no way to make an INSERT conditional, and a
// separate check would cost a round trip on every create, so the statement
// is INSERT … SELECT … WHERE, and itself checks:
//   - the account (see Caller);
//   - the user's todo limit, against the sum of the user's todo_counts
//     (migration 20261207140000), as the statement's snapshot sees it;
//   - the write budget, on the user's create_budgets row, unless this
//     process holds units of it already (see budgetLeases): the statement
//     then locks that row, spends what it asks if the budget has it (the
//     create's cost, or more when more of the user's creates are running
//     here) and inserts only when it could spend at least the cost.
//
// The rows come back in the order of the VALUES list, as with GORM's own
// multi-row INSERT … RETURNING.
func (s *Todos) insert(ctx context.Context, db *gorm.DB, c Caller, todos []models.Todo) error {
	cost := createCost(todos)
	ask := 0 // units the statement asks the user's budget row for
	if s.budget.perMinute > 0 {
		done := s.leases.begin(c.ID)
		defer done()
		if !s.leases.take(c.ID, cost, time.Now()) {
			ask = s.leases.size(c.ID, cost, s.budget.burst)
		}
	}
	rows, err := s.insertRows(db, c, todos, cost, ask)
	if err != nil {
		return err
	}
	if len(rows) != len(todos) && ask > 0 && s.leases.take(c.ID, cost, time.Now()) {
		// The row had nothing left because others of the user's creates
		// here took it ahead: spend theirs.
		if rows, err = s.insertRows(db, c, todos, cost, 0); err != nil {
			return err
		}
	}
	if len(rows) != len(todos) {
		return s.refused(ctx, c, todos, cost, len(rows))
	}
	if granted := rows[0].Granted; granted > cost {
		s.leases.put(c.ID, granted-cost, time.Now())
	}
	for i := range todos {
		todos[i].ID = rows[i].ID
	}
	return nil
}

// insertedRow is a row insertRows wrote: its id, and the budget units the
// statement took from the user's budget row.
type insertedRow struct {
	ID      int64
	Granted int
}

// insertRows runs insert's statement; with ask > 0 it takes up to ask
// units of the budget from the user's budget row, and at least cost, or writes
// nothing.
func (s *Todos) insertRows(db *gorm.DB, c Caller, todos []models.Todo, cost, ask int) ([]insertedRow, error) {
	var sql strings.Builder
	args := make([]any, 0, 8*len(todos)+16)
	if ask > 0 {
		// The user's create_budgets row (made by the first create) is
		// locked and moved on by what the budget has room for, up to ask,
		// in whole units, from the row as the statement finds it (READ
		// COMMITTED re-reads a row updated meanwhile); granted hands that
		// to RETURNING, which sees only the new row. Nothing is spent, and
		// nothing written, when the account does not pass.
		room := func(tat string) string {
			return "least(?::int, floor((?::float8 - extract(epoch FROM greatest(" + tat + ", now()) - now())) / ?::float8 + 1e-9))::int"
		}
		roomArgs := []any{ask, s.budget.allowance(), s.budget.spend(1)}
		sql.WriteString("WITH account AS (INSERT INTO create_budgets AS b (user_id, tat, granted) SELECT ?::bigint, now() + make_interval(secs => g.units * ?::float8), g.units FROM (SELECT " +
			room("now()") + " AS units) AS g WHERE g.units >= ? AND " + accountCheck)
		args = append(args, c.ID, s.budget.spend(1))
		args = append(args, roomArgs...)
		args = append(args, cost)
		args = append(args, c.accountArgs()...)
		sql.WriteString(" ON CONFLICT (user_id) DO UPDATE SET tat = greatest(b.tat, now()) + make_interval(secs => " + room("b.tat") + " * ?::float8), granted = " + room("b.tat"))
		args = append(args, roomArgs...)
		args = append(args, s.budget.spend(1))
		args = append(args, roomArgs...)
		sql.WriteString(" WHERE " + room("b.tat") + " >= ? RETURNING b.granted) ")
		args = append(args, roomArgs...)
		args = append(args, cost)
	}
	sql.WriteString("INSERT INTO todos (user_id, title, description, completed, priority, due_date, created_at, updated_at) SELECT * FROM (VALUES ")
	for i, t := range todos {
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString("(?::bigint, ?::varchar, ?::text, ?::boolean, ?::smallint, ?::timestamptz, ?::timestamptz, ?::timestamptz)")
		args = append(args, t.UserID, t.Title, t.Description, t.Completed, t.Priority, t.DueDate, t.CreatedAt, t.UpdatedAt)
	}
	if ask > 0 {
		sql.WriteString(") AS v WHERE EXISTS (SELECT 1 FROM account)")
	} else {
		sql.WriteString(") AS v WHERE " + accountCheck)
		args = append(args, c.accountArgs()...)
	}
	if s.budget.maxTodos > 0 {
		sql.WriteString(" AND " + todoCountOf + " + ? <= ?")
		args = append(args, c.ID, len(todos), s.budget.maxTodos)
	}
	if ask > 0 {
		sql.WriteString(" RETURNING id, (SELECT granted FROM account) AS granted")
	} else {
		sql.WriteString(" RETURNING id, 0 AS granted")
	}
	var rows []insertedRow
	err := db.Raw(sql.String(), args...).Scan(&rows).Error
	return rows, err
}

// todoCountOf is how many todos a user has (the parameter): the sum of
// the user's stripes of todo_counts.
const todoCountOf = "(SELECT coalesce(sum(n), 0) FROM todo_counts WHERE todo_counts.user_id = ?)"

// refused says why a create wrote nothing: the account no longer passes
// (ErrUnauthorized), the user is at the todo limit (*TodoLimitError), or
// the budget is spent for now (*RateLimitError, with how long to wait).
func (s *Todos) refused(ctx context.Context, c Caller, todos []models.Todo, cost, written int) error {
	var row struct {
		Account   bool
		TodoCount int64
		Wait      float64
	}
	err := read(ctx, func() error {
		return s.db.WithContext(ctx).Raw("SELECT "+accountCheck+" AS account, "+todoCountOf+" AS todo_count, "+
			"coalesce(extract(epoch FROM greatest((SELECT tat FROM create_budgets WHERE user_id = ?), now()) + make_interval(secs => ?) - now())::float8 - ?, 0) AS wait",
			append(c.accountArgs(), c.ID, c.ID, s.budget.spend(cost), s.budget.allowance())...).Scan(&row).Error
	})
	switch {
	case err != nil:
		return translate(err, "check why the create was refused")
	case !row.Account:
		return ErrUnauthorized
	case s.budget.maxTodos > 0 && row.TodoCount+int64(len(todos)) > int64(s.budget.maxTodos):
		return &TodoLimitError{Max: s.budget.maxTodos, Have: row.TodoCount}
	case s.budget.perMinute > 0 && row.Wait > 0:
		return &RateLimitError{Reason: "too many todos created by this account", RetryAfter: time.Duration(row.Wait * float64(time.Second))}
	}
	return fmt.Errorf("insert todos: %d of %d rows written for an account within its limits", written, len(todos))
}

// createBudget is the per-user write budget of creates (BudgetCreates).
type createBudget struct {
	perMinute float64
	burst     int
	maxTodos  int
}

// budgetUnitBytes is how much text one unit of the budget covers: a create
// costs one unit per todo, or per this many bytes of title and description
// if that is more, so the budget bounds bytes written (rows, indexes, and
// the answers kept with Idempotency-Keys, which are about as large) as well
// as rows.
const budgetUnitBytes = 4096

// createCost is the budget units a create of todos spends.
func createCost(todos []models.Todo) int {
	var bytes int
	for _, t := range todos {
		bytes += len(t.Title)
		if t.Description != nil {
			bytes += len(*t.Description)
		}
	}
	return max(len(todos), (bytes+budgetUnitBytes-1)/budgetUnitBytes)
}

// spend is the seconds cost units move the budget's clock.
func (b createBudget) spend(cost int) float64 {
	if b.perMinute <= 0 {
		return 0
	}
	return float64(cost) * 60 / b.perMinute
}

// allowance is how far ahead of now the clock may run: the burst.
func (b createBudget) allowance() float64 { return b.spend(b.burst) }

// MaxCreateCost is the most units one create can cost: a full batch (the
// body limit keeps its bytes under this too, at 1 MiB); a burst below it
// could never be met.
const MaxCreateCost = MaxBatchItems

// BudgetCreates limits each user to perMinute units of creates per minute
// with bursts of burst (a unit is a todo, or budgetUnitBytes of its text),
// and to maxTodos todos in all; 0 turns either off.
func (s *Todos) BudgetCreates(perMinute float64, burst, maxTodos int) *Todos {
	s.budget = createBudget{perMinute: perMinute, burst: burst, maxTodos: maxTodos}
	return s
}

// TodoLimitError is a create that would take the user past the most todos
// allowed (403).
type TodoLimitError struct {
	Max  int
	Have int64
}

func (e *TodoLimitError) Error() string {
	return fmt.Sprintf("the account holds %d todos, and at most %d are allowed", e.Have, e.Max)
}

// newTodos are the rows of a create of validated items, stamped with one
// time.
func (s *Todos) newTodos(userID int64, items []TodoInput) []models.Todo {
	now := s.now()
	todos := make([]models.Todo, len(items))
	for i, in := range items {
		todos[i] = in.newTodo(userID, now)
	}
	return todos
}

// ValidateBatch lists every problem of a batch: its size, and when the size
// is within bounds, every item's (named items[i].field).
func ValidateBatch(items []TodoInput) *ValidationError {
	v := &ValidationError{}
	switch {
	case len(items) == 0:
		v.Add("items", "must hold at least 1 todo")
	case len(items) > MaxBatchItems:
		v.Add("items", "must hold at most %d todos, got %d", MaxBatchItems, len(items))
		return v
	}
	for i, in := range items {
		v.Fields = append(v.Fields, in.Validate(fmt.Sprintf("items[%d].", i), true).Fields...)
	}
	return v
}

// Get returns one of the user's todos.
func (s *Todos) Get(ctx context.Context, c Caller, id int64) (models.Todo, error) {
	var todo models.Todo
	err := read(ctx, func() error {
		return s.db.WithContext(ctx).Where("id = ?", id).Scopes(c.owned).Take(&todo).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if err := c.confirm(ctx, s.db); err != nil {
			return todo, err
		}
	}
	if err != nil {
		return todo, translate(err, fmt.Sprintf("get todo %d", id))
	}
	return todo, nil
}

// Precondition is what a conditional write accepts: nil means
// unconditional; Any accepts every version; otherwise the todo's
// updated_at must be one of At. Every write moves updated_at forward, so
// it is the todo's version.
type Precondition struct {
	Any bool
	At  []time.Time
}

// times returns the distinct instants of At that can be versions of ours:
// those outside the years PostgreSQL's timestamps and our JSON can hold
// can never match, and are dropped.
func (p *Precondition) times() []time.Time {
	var out []time.Time
	seen := make(map[int64]bool, len(p.At))
	for _, t := range p.At {
		t = t.UTC()
		micros := t.UnixMicro()
		if y := t.Year(); seen[micros] || y < 1 || y > 9999 {
			continue
		}
		seen[micros] = true
		out = append(out, t)
	}
	return out
}

// maxInlineVersions is how many accepted versions go into the write's
// WHERE clause; a longer list (a client sending thousands of If-Match tags
// would exceed PostgreSQL's 65,535 bind parameters) is first narrowed to
// the one that matches the current version.
const maxInlineVersions = 32

// narrow reduces a long list of versions to the current one when it is in
// the list, so the write stays one atomic conditional statement; when it is
// not, the precondition has failed.
func (s *Todos) narrow(ctx context.Context, c Caller, id int64, pre *Precondition) (*Precondition, error) {
	if pre == nil || pre.Any || len(pre.At) <= maxInlineVersions {
		return pre, nil
	}
	var current models.Todo
	err := read(ctx, func() error {
		return s.db.WithContext(ctx).Select("updated_at").Where("id = ?", id).Scopes(c.owned).Take(&current).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if err := c.confirm(ctx, s.db); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, translate(err, fmt.Sprintf("read version of todo %d", id))
	}
	want := current.UpdatedAt.UnixMicro()
	for _, t := range pre.times() {
		if t.UnixMicro() == want {
			return &Precondition{At: []time.Time{t}}, nil
		}
	}
	return nil, ErrPreconditionFailed
}

// conditional narrows a write to the versions pre accepts, so the check
// and the write are one statement: of two writers holding the same version,
// the second finds no row (PostgreSQL re-checks the WHERE after the first
// commits) and gets ErrPreconditionFailed.
func conditional(q *gorm.DB, pre *Precondition) *gorm.DB {
	if pre == nil || pre.Any {
		return q
	}
	times := pre.times()
	if len(times) == 0 {
		return q.Where("false")
	}
	return q.Where("updated_at IN ?", times)
}

// Update applies a patch. With a precondition the write happens only if the
// todo is still at one of the given versions.
func (s *Todos) Update(ctx context.Context, c Caller, id int64, in TodoInput, pre *Precondition) (models.Todo, error) {
	if err := in.Validate("", false).Err(); err != nil {
		return models.Todo{}, err
	}
	pre, err := s.narrow(ctx, c, id, pre)
	if err != nil {
		return models.Todo{}, err
	}
	updates := map[string]any{
		// Strictly later than before even if the clock stands still or
		// steps back, so the version always changes.
		"updated_at": gorm.Expr("GREATEST(?::timestamptz, updated_at + interval '1 microsecond')", s.now()),
	}
	if in.Title.Set {
		updates["title"] = strings.TrimSpace(in.Title.Value)
	}
	if in.Description.Set {
		if in.Description.Null {
			updates["description"] = nil
		} else {
			updates["description"] = in.Description.Value
		}
	}
	if in.Completed.Set {
		updates["completed"] = in.Completed.Value
	}
	if in.Priority.Set {
		updates["priority"] = in.Priority.Value
	}
	if in.DueDate.Set {
		if in.DueDate.Null {
			updates["due_date"] = nil
		} else {
			updates["due_date"] = storedTime(in.DueDate.Value)
		}
	}
	var rows []models.Todo
	err = write(ctx, func() error {
		rows = nil
		q := s.db.WithContext(ctx).Model(&rows).Clauses(clause.Returning{}).Where("id = ?", id).Scopes(c.owned)
		return conditional(q, pre).Updates(updates).Error
	})
	if err != nil {
		return models.Todo{}, translate(err, fmt.Sprintf("update todo %d", id))
	}
	if len(rows) == 1 {
		return rows[0], nil
	}
	return models.Todo{}, s.missOrStale(ctx, c, id)
}

// Delete removes a todo, under the same precondition rules as Update.
func (s *Todos) Delete(ctx context.Context, c Caller, id int64, pre *Precondition) error {
	pre, err := s.narrow(ctx, c, id, pre)
	if err != nil {
		return err
	}
	var deleted int64
	err = write(ctx, func() error {
		q := s.db.WithContext(ctx).Where("id = ?", id).Scopes(c.owned)
		res := conditional(q, pre).Delete(&models.Todo{})
		deleted = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return translate(err, fmt.Sprintf("delete todo %d", id))
	}
	if deleted == 1 {
		return nil
	}
	return s.missOrStale(ctx, c, id)
}

// missOrStale explains a conditional write that touched no row: the token
// was revoked, the todo does not exist for this user, or the precondition
// was stale.
func (s *Todos) missOrStale(ctx context.Context, c Caller, id int64) error {
	if err := c.confirm(ctx, s.db); err != nil {
		return err
	}
	var n int64
	err := read(ctx, func() error {
		return s.db.WithContext(ctx).Model(&models.Todo{}).Where("id = ? AND user_id = ?", id, c.ID).Limit(1).Count(&n).Error
	})
	if err != nil {
		return translate(err, fmt.Sprintf("check todo %d", id))
	}
	if n == 0 {
		return ErrNotFound
	}
	return ErrPreconditionFailed
}

// QueryError is a bad query parameter value (400).
type QueryError struct {
	Fields []FieldError
}

func (e *QueryError) Error() string { return describeFields("bad query", e.Fields) }
