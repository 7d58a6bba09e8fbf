package migrations_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/todo-api/todo-api/migrations"
)

// TestAllIsValid checks the rules Validate enforces on the shipped list.
func TestAllIsValid(t *testing.T) {
	if err := migrations.Validate(migrations.All()); err != nil {
		t.Fatal(err)
	}
}

// TestIDsMatchFileNames parses every migration file and checks that each
// declares exactly one migration whose ID is the file's prefix, and that
// All() lists exactly those files, in file order.
func TestIDsMatchFileNames(t *testing.T) {
	files, err := filepath.Glob("[0-9]*.go")
	if err != nil {
		t.Fatal(err)
	}
	namePattern := regexp.MustCompile(`^([0-9]{14})_[a-z0-9_]+\.go$`)
	var fileIDs []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		m := namePattern.FindStringSubmatch(f)
		if m == nil {
			t.Errorf("%s: migration files are named YYYYMMDDHHMMSS_snake_name.go", f)
			continue
		}
		ids := declaredIDs(t, f)
		if len(ids) != 1 || ids[0] != m[1] {
			t.Errorf("%s declares IDs %v, want exactly [%s]", f, ids, m[1])
		}
		fileIDs = append(fileIDs, m[1])
	}
	var listed []string
	for _, m := range migrations.All() {
		listed = append(listed, m.ID)
	}
	if strings.Join(listed, ",") != strings.Join(fileIDs, ",") {
		t.Errorf("All() lists %v, files declare %v", listed, fileIDs)
	}
}

func declaredIDs(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "ID" {
			if lit, ok := kv.Value.(*ast.BasicLit); ok {
				id, _ := strconv.Unquote(lit.Value)
				ids = append(ids, id)
			}
		}
		return true
	})
	return ids
}

// TestMigrationsDoNotImportModels keeps migrations frozen snapshots.
func TestMigrationsDoNotImportModels(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, file := range files {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if strings.HasSuffix(strings.Trim(imp.Path.Value, `"`), "/models") {
				t.Errorf("%s imports %s; migrations must declare the schema they need", file, imp.Path.Value)
			}
		}
	}
}

func TestValidateRejects(t *testing.T) {
	ok := migrations.Migration{ID: "20260101000000", Description: "x", Up: []string{"SELECT 1"}, Down: []string{"SELECT 1"}}
	tests := []struct {
		name string
		list []migrations.Migration
		want string
	}{
		{"bad id", []migrations.Migration{{ID: "2026", Description: "x", Up: ok.Up, Down: ok.Down}}, "not a YYYYMMDDHHMMSS"},
		{"duplicate", []migrations.Migration{ok, ok}, "unique and ascending"},
		{"descending", []migrations.Migration{{ID: "20260102000000", Description: "x", Up: ok.Up, Down: ok.Down}, ok}, "unique and ascending"},
		{"no rollback", []migrations.Migration{{ID: ok.ID, Description: "x", Up: ok.Up}}, "real rollback"},
		{"empty up", []migrations.Migration{{ID: ok.ID, Description: "x", Up: []string{" "}, Down: ok.Down}}, "Up has no SQL"},
		{"no description", []migrations.Migration{{ID: ok.ID, Up: ok.Up, Down: ok.Down}}, "no description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := migrations.Validate(tt.list)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
