package services

import (
	"strings"
	"unicode/utf8"
)

// Optional is an input field that tells "not given" from "cleared": Set is
// true when the field was given, Null when it was given without a value
// (which clears description or due_date, and is refused elsewhere).
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// Some returns a present, non-null Optional.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// checkText validates a string field: no NUL (PostgreSQL cannot store it in
// text), valid UTF-8, and a length in characters within [min, max].
func checkText(v *ValidationError, field, s string, min, max int) {
	switch n := utf8.RuneCountInString(s); {
	case strings.IndexByte(s, 0) >= 0:
		v.Add(field, "must not contain NUL characters")
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case n < min && min == 1:
		v.Add(field, "must not be empty")
	case n < min:
		v.Add(field, "must be at least %d characters", min)
	case n > max:
		v.Add(field, "must be at most %d characters", max)
	}
}
