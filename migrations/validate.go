package migrations

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var idPattern = regexp.MustCompile(`^[0-9]{14}$`)

// Validate checks a migration list: IDs are 14-digit timestamps, unique and
// ascending; every migration has a description, Up statements and a real
// rollback.
func Validate(ms []Migration) error {
	var errs []error
	prev := ""
	for i, m := range ms {
		if !idPattern.MatchString(m.ID) {
			errs = append(errs, fmt.Errorf("migration #%d: id %q is not a YYYYMMDDHHMMSS timestamp", i+1, m.ID))
		}
		if m.ID <= prev {
			errs = append(errs, fmt.Errorf("migration %s: ids must be unique and ascending (after %s)", m.ID, prev))
		}
		prev = m.ID
		if strings.TrimSpace(m.Description) == "" {
			errs = append(errs, fmt.Errorf("migration %s: has no description", m.ID))
		}
		if !hasSQL(m.Up) {
			errs = append(errs, fmt.Errorf("migration %s: Up has no SQL", m.ID))
		}
		if !hasSQL(m.Down) {
			errs = append(errs, fmt.Errorf("migration %s: Down has no SQL; every migration needs a real rollback", m.ID))
		}
	}
	return errors.Join(errs...)
}

func hasSQL(statements []string) bool {
	if len(statements) == 0 {
		return false
	}
	for _, s := range statements {
		if strings.TrimSpace(s) == "" {
			return false
		}
	}
	return true
}
