package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-api/todo-api/cli"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/models"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "todo-api-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "todo-api")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes the command line in this process, from the repository
// root, against dbURL, as the binary would (cli.Run is all main does), so
// that its coverage counts here. Tests that need processes of their own
// (concurrent migrations) use runProcess.
func run(t *testing.T, dbURL string, args ...string) result {
	t.Helper()
	t.Chdir("..")
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("DATABASE_URL_UNPOOLED", "")
	t.Setenv("ENV", "development")
	var out, errOut bytes.Buffer
	code := cli.Run(args, &out, &errOut)
	return result{out.String(), errOut.String(), code}
}

// runProcess executes the built binary from the repository root against
// dbURL; it is safe to call from several goroutines at once.
func runProcess(t *testing.T, dbURL string, args ...string) result {
	cmd := exec.Command(binary, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "DATABASE_URL_UNPOOLED=", "ENV=development")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Error(err)
		code = -1
	}
	return result{out.String(), errOut.String(), code}
}

func mustRun(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	r := run(t, dbURL, args...)
	if r.code != 0 {
		t.Fatalf("%v exited %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func TestMigrateCommands(t *testing.T) {
	db := testdb.Fresh(t)
	all := migrations.All()
	head := all[len(all)-1].ID

	out := mustRun(t, db, "migrate", "status")
	if strings.Count(out, "  pending\n") != len(all) {
		t.Errorf("status on an empty database:\n%s", out)
	}
	if out := mustRun(t, db, "migrate", "current"); !strings.Contains(out, "none") {
		t.Errorf("current on an empty database = %q", out)
	}
	if out := mustRun(t, db, "migrate", "sql"); !strings.Contains(out, "CREATE TABLE users") {
		t.Errorf("sql up =\n%s", out)
	}
	if out := mustRun(t, db, "migrate", "up", "--to", all[0].ID); out != "applied "+all[0].ID+"\n" {
		t.Errorf("up --to = %q", out)
	}
	if r := run(t, db, "migrate", "check"); r.code != 1 || !strings.Contains(r.stdout, "pending migration "+all[1].ID) {
		t.Errorf("check with pending migrations: exit %d\n%s", r.code, r.stdout)
	}
	out = mustRun(t, db, "migrate", "up")
	if strings.Count(out, "applied ") != len(all)-1 {
		t.Errorf("up =\n%s", out)
	}
	if out := mustRun(t, db, "migrate", "up"); !strings.Contains(out, "nothing to apply") {
		t.Errorf("second up = %q", out)
	}
	if out := mustRun(t, db, "migrate", "current"); out != head+" (head)\n" {
		t.Errorf("current = %q, want %q", out, head+" (head)")
	}
	out = mustRun(t, db, "migrate", "status")
	if strings.Contains(out, "  pending\n") || !strings.Contains(out, "0 pending") || !regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).MatchString(out) {
		t.Errorf("status at head:\n%s", out)
	}
	if out := mustRun(t, db, "migrate", "history"); !strings.Contains(out, "(no transaction)") || !strings.Contains(out, head+"  applied") || !strings.Contains(out, "current, head)") {
		t.Errorf("history:\n%s", out)
	}
	if out := mustRun(t, db, "migrate", "check"); !strings.HasPrefix(out, "ok") {
		t.Errorf("check at head = %q", out)
	}
	if out := mustRun(t, db, "migrate", "sql", "down", "--all"); !strings.Contains(out, "DROP TABLE users") {
		t.Errorf("sql down --all =\n%s", out)
	}
	if out := mustRun(t, db, "migrate", "down"); out != "rolled back "+head+"\n" {
		t.Errorf("down = %q", out)
	}
	if out := mustRun(t, db, "migrate", "down", "--all"); strings.Count(out, "rolled back") != len(all)-1 {
		t.Errorf("down --all = %q", out)
	}
	if out := mustRun(t, db, "migrate", "stamp", "head"); !strings.Contains(out, "stamped "+head) {
		t.Errorf("stamp = %q", out)
	}
	if out := mustRun(t, db, "migrate", "current"); out != head+" (head)\n" {
		t.Errorf("current after stamp = %q", out)
	}
}

// TestMigrateQuietUnlessVerbose: a migrate command prints its result on
// stdout and nothing on stderr; --verbose adds the progress logs there.
func TestMigrateQuietUnlessVerbose(t *testing.T) {
	db := testdb.Fresh(t)
	if r := run(t, db, "migrate", "up"); r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "applied ") {
		t.Errorf("migrate up: exit %d\nstdout: %s\nstderr: %q; want the result on stdout and nothing on stderr", r.code, r.stdout, r.stderr)
	}
	r := run(t, db, "migrate", "current", "--verbose")
	if r.code != 0 || !strings.Contains(r.stderr, "database connected") || !strings.Contains(r.stdout, "(head)") {
		t.Errorf("migrate current --verbose: exit %d\nstdout: %s\nstderr: %s; want the progress logs on stderr", r.code, r.stdout, r.stderr)
	}
}

func TestMigrateUsageErrors(t *testing.T) {
	db := testdb.Fresh(t)
	tests := [][]string{
		{"migrate", "down", "--steps", "2", "--all"},
		{"migrate", "down", "--steps", "0"},
		{"migrate", "stamp"},
		{"migrate", "stamp", "12345678901234"},
		{"migrate", "sql", "sideways"},
		{"migrate", "nope"},
		{"migrate", "up", "--steps", "2"},
		{"migrate", "down", "--steps", "x"},
		{"nope"},
		{"serve", "extra"},
		{"serve", "--bogus"},
	}
	for _, args := range tests {
		r := run(t, db, args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "error:") && !strings.Contains(r.stderr, "error:") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with an error line", args, r.code, r.stderr)
		}
	}
}

func TestUnknownMigrationFlagged(t *testing.T) {
	db := testdb.Fresh(t)
	mustRun(t, db, "migrate", "up")
	mustRun(t, db, "migrate", "stamp", "head")
	psql := exec.Command("psql", db, "-qc", "INSERT INTO schema_migrations (id) VALUES ('29990101000000')")
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql: %v %s", err, out)
	}
	r := run(t, db, "migrate", "status")
	if r.code != 1 || !strings.Contains(r.stdout, "29990101000000") || !strings.Contains(r.stdout, "UNKNOWN") {
		t.Errorf("status with an unknown id: exit %d\n%s", r.code, r.stdout)
	}
	r = run(t, db, "migrate", "up")
	if r.code != 1 || !strings.Contains(r.stderr, "unknown to this build") {
		t.Errorf("up with an unknown id: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestConcurrentMigrateProcesses starts three `migrate up` processes at once
// on an empty database: each migration is applied by exactly one of them,
// and all three succeed.
func TestConcurrentMigrateProcesses(t *testing.T) {
	for round := range 3 {
		db := testdb.Fresh(t)
		var wg sync.WaitGroup
		results := make([]result, 3)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = runProcess(t, db, "migrate", "up")
			}()
		}
		wg.Wait()
		count := map[string]int{}
		for i, r := range results {
			if r.code != 0 {
				t.Errorf("round %d process %d exited %d: %s", round, i, r.code, r.stderr)
			}
			for _, m := range regexp.MustCompile(`applied (\d{14})`).FindAllStringSubmatch(r.stdout, -1) {
				count[m[1]]++
			}
		}
		for _, m := range migrations.All() {
			if count[m.ID] != 1 {
				t.Errorf("round %d: %s applied %d times, want 1", round, m.ID, count[m.ID])
			}
		}
	}
}

// The drifted models below copy models.User and models.Todo (the check
// compares whole schemas) and change one thing each.

// driftUser is models.User without the username format CHECK.
type driftUser struct {
	ID             int64     `gorm:"primaryKey"`
	Email          string    `gorm:"size:255;not null;index:uq_users_password_email,unique,where:hashed_password IS NOT NULL;check:chk_users_email_lower,email = lower(email)"`
	Username       string    `gorm:"size:50;not null;index:uq_users_username_lower,unique,expression:lower(username)"`
	HashedPassword *string   `gorm:"size:255;check:chk_users_sign_in,hashed_password IS NOT NULL OR auth_subject IS NOT NULL"`
	AuthIssuer     *string   `gorm:"size:255;uniqueIndex:uq_users_auth_subject,priority:1;check:chk_users_auth_identity,(auth_issuer IS NULL) = (auth_subject IS NULL)"`
	AuthSubject    *string   `gorm:"size:255;uniqueIndex:uq_users_auth_subject,priority:2"`
	IsActive       bool      `gorm:"not null;default:true"`
	TokenVersion   int32     `gorm:"not null;default:0"`
	CreatedAt      time.Time `gorm:"not null;default:now()"`
	UpdatedAt      time.Time `gorm:"not null;default:now()"`
}

func (driftUser) TableName() string { return "users" }

// driftTodo is models.Todo plus a field that no migration creates.
type driftTodo struct {
	models.Todo
	Tags string `gorm:"type:text"`
}

func (driftTodo) TableName() string { return "todos" }

func TestCheckModels(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	server := testdb.URLFor("postgres")
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	diff, err := cli.CheckModels(ctx, server, migrations.All(), cli.Models, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) != 0 {
		t.Errorf("shipped models and migrations disagree:\n%s", migrations.FormatDiff(diff))
	}

	diff, err = cli.CheckModels(ctx, server, migrations.All(), []any{&models.User{}, &driftTodo{}, &models.AuthFailure{}, &models.IdempotencyKey{}, &models.AuthRateLimit{}, &models.RevokedToken{}, &models.TodoCount{}, &models.CreateBudget{}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(diff, "\n"), "column todos.tags: in the models (text NULL) but no migration creates it") {
		t.Errorf("a model field without a migration gave:\n%s", migrations.FormatDiff(diff))
	}

	diff, err = cli.CheckModels(ctx, server, migrations.All(), []any{&driftUser{}, &models.Todo{}, &models.AuthFailure{}, &models.IdempotencyKey{}, &models.AuthRateLimit{}, &models.RevokedToken{}, &models.TodoCount{}, &models.CreateBudget{}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) != 1 || !strings.Contains(diff[0], "chk_users_username_format") {
		t.Errorf("a dropped model constraint gave:\n%s", migrations.FormatDiff(diff))
	}

	// Stopping before a migration leaves what it creates missing.
	all := migrations.All()
	for _, tc := range []struct {
		before, want string
		models       []any
	}{
		{"20261126120200", "function todo_search_keys", cli.Models},
		{"20261130140000", "function todo_search_keys", cli.Models},
		{"20261130120100", "auth_failures.failures: in the models", []any{&models.User{}, &models.AuthFailure{}}},
	} {
		var upTo []migrations.Migration
		for _, m := range all {
			if m.ID == tc.before {
				break
			}
			upTo = append(upTo, m)
		}
		diff, err = cli.CheckModels(ctx, server, upTo, tc.models, log)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(diff, "\n"), tc.want) {
			t.Errorf("migrations before %s gave:\n%s\nwant a line with %q", tc.before, migrations.FormatDiff(diff), tc.want)
		}
	}
}

func TestNewMigration(t *testing.T) {
	dir := t.TempDir()
	files, _ := filepath.Glob("../migrations/*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
	now := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // older than head: the ID must still come after it
	path, err := cli.NewMigration(dir, "Add tags to todos!", now)
	if err != nil {
		t.Fatal(err)
	}
	all := migrations.All()
	headTime, _ := time.Parse("20060102150405", all[len(all)-1].ID)
	wantID := headTime.Add(time.Second).Format("20060102150405")
	if filepath.Base(path) != wantID+"_add_tags_to_todos.go" {
		t.Errorf("new file = %s, want %s_add_tags_to_todos.go", filepath.Base(path), wantID)
	}
	src, _ := os.ReadFile(path)
	for _, want := range []string{`ID:          "` + wantID + `"`, "func addTagsToTodos" + wantID + "() Migration", `Description: "add tags to todos"`} {
		if !strings.Contains(string(src), want) {
			t.Errorf("new file lacks %q:\n%s", want, src)
		}
	}
	list, _ := os.ReadFile(filepath.Join(dir, "migrations.go"))
	if !strings.Contains(string(list), "addTagsToTodos"+wantID+"(),\n\t\t// `migrate new`") {
		t.Errorf("All() not updated:\n%s", list)
	}
	// The package still compiles, and its tests refuse the empty template.
	vet := exec.Command("go", "vet", ".")
	vet.Dir = dir
	gomod := "module example.com/m\n\ngo 1.26\n"
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	// Compile check only: the migrations package has no imports outside stdlib
	// and gormigrate/gorm, which the temporary module lacks; so parse instead.
	if out, err := exec.Command("gofmt", "-l", dir).CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("gofmt on generated files: %v %s", err, out)
	}
	second, err := cli.NewMigration(dir, "second", now)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(second) <= filepath.Base(path) {
		t.Errorf("second migration %s does not sort after %s", second, path)
	}
	if _, err := cli.NewMigration(dir, "!!!", now); err == nil {
		t.Error("a name without letters was accepted")
	}
}
