package cli

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"
)

// listMarker is the line in migrations.go above which `migrate new` adds a
// migration to All().
const idLayout = "20060102150405"

const listMarker = "// `migrate new` adds new migrations above this line."

var migrationTemplate = template.Must(template.New("migration").Parse(`package migrations

// {{.Func}} {{.Description}}.
func {{.Func}}() Migration {
	return Migration{
		ID:          "{{.ID}}",
		Description: "{{.Description}}",
		Up: []string{
			// The SQL of the change, one statement per string, e.g.
			// ` + "`ALTER TABLE todos ADD COLUMN tags text[] NOT NULL DEFAULT '{}'`" + `,
		},
		Down: []string{
			// The SQL that exactly undoes Up, e.g.
			// ` + "`ALTER TABLE todos DROP COLUMN tags`" + `,
		},
	}
}
`))

func (a *app) migrateNewCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Write the next timestamped migration file from a template and add it to All()",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := NewMigration(dir, strings.Join(args, " "), time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "created %s and added it to All() in %s\nfill in Up and Down; `go test ./migrations` refuses a migration without both\n", path, filepath.Join(dir, "migrations.go"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "migrations", "the migrations package directory")
	return cmd
}

// NewMigration writes dir/<ID>_<name>.go and registers it in dir/migrations.go.
// The ID is now in UTC, or one second after the newest existing ID.
func NewMigration(dir, name string, now time.Time) (string, error) {
	snake := snakeCase(name)
	if snake == "" {
		return "", usageError("the migration name needs letters or digits, like add_tags_to_todos")
	}
	listFile := filepath.Join(dir, "migrations.go")
	list, err := os.ReadFile(listFile)
	if err != nil {
		return "", fmt.Errorf("read %s (run from the repository root or pass --dir): %w", listFile, err)
	}
	if !bytes.Contains(list, []byte(listMarker)) {
		return "", fmt.Errorf("%s has no line %q to add the migration above", listFile, listMarker)
	}
	// The ID must sort after every migration already in the directory.
	id := now.UTC().Format(idLayout)
	files, _ := filepath.Glob(filepath.Join(dir, "[0-9]*_*.go"))
	for _, f := range files {
		prefix, _, _ := strings.Cut(filepath.Base(f), "_")
		if t, err := time.Parse(idLayout, prefix); err == nil && prefix >= id {
			id = t.Add(time.Second).Format(idLayout)
		}
	}
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	fn := strings.Join(parts, "") + id
	if fn[0] >= '0' && fn[0] <= '9' {
		fn = "m" + fn
	}
	var src bytes.Buffer
	err = migrationTemplate.Execute(&src, map[string]string{
		"Func":        fn,
		"ID":          id,
		"Description": strings.ReplaceAll(snake, "_", " "),
	})
	if err != nil {
		return "", err
	}
	formatted, err := format.Source(src.Bytes())
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, id+"_"+snake+".go")
	if err := os.WriteFile(path, formatted, 0o644); err != nil {
		return "", err
	}
	updated := bytes.Replace(list, []byte(listMarker), []byte(fn+"(),\n\t\t"+listMarker), 1)
	if updated, err = format.Source(updated); err != nil {
		return "", err
	}
	if err := os.WriteFile(listFile, updated, 0o644); err != nil {
		return "", err
	}
	return path, nil
}
