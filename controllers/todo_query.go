package controllers

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/todo-api/todo-api/services"
)

// listParams are the query parameters GET /todos understands.
var listParams = map[string]bool{
	"completed": true, "min_priority": true, "q": true, "due_before": true, "due_after": true,
	"sort": true, "limit": true, "offset": true, "cursor": true,
}

// ParseListQuery parses GET /todos parameters and returns every problem
// it finds: unknown or repeated parameters, and values of the wrong form or
// range. Cursors are checked by the service (they are signed there).
func ParseListQuery(raw string) (services.ListQuery, []services.FieldError) {
	var q services.ListQuery
	values, err := url.ParseQuery(raw)
	if err != nil {
		return q, []services.FieldError{{Field: "query", Message: "is not a valid URL query string"}}
	}
	var bad []services.FieldError
	add := func(field, format string, args ...any) {
		bad = append(bad, services.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		vs := values[name]
		if !listParams[name] {
			add(name, "is not a known parameter")
			continue
		}
		if len(vs) > 1 {
			add(name, "must be given once")
			continue
		}
		v := vs[0]
		switch name {
		case "completed":
			if v != "true" && v != "false" {
				add(name, "must be true or false")
				continue
			}
			b := v == "true"
			q.Completed = &b
		case "min_priority":
			n, err := strconv.Atoi(v)
			if err != nil || n < services.MinPriority || n > services.MaxPriority {
				add(name, "must be an integer from %d to %d", services.MinPriority, services.MaxPriority)
				continue
			}
			q.MinPriority = &n
		case "q":
			if utf8.RuneCountInString(v) > services.MaxQueryLength {
				add(name, "must be at most %d characters", services.MaxQueryLength)
				continue
			} else if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
				add(name, "must be valid text without NUL characters")
				continue
			}
			q.Q = v
		case "due_before", "due_after":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				add(name, "must be an RFC 3339 date-time like 2026-12-31T17:00:00Z")
				continue
			}
			if name == "due_before" {
				q.DueBefore = &t
			} else {
				q.DueAfter = &t
			}
		case "sort":
			if !slices.Contains(services.SortKeys, v) {
				add(name, "must be one of %s", strings.Join(services.SortKeys, ", "))
				continue
			}
			q.Sort = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > services.MaxLimit {
				add(name, "must be an integer from 1 to %d", services.MaxLimit)
				continue
			}
			q.Limit = n
		case "offset":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				add(name, "must be an integer of at least 0")
				continue
			}
			q.Offset = n
		case "cursor":
			if v == "" {
				add(name, "must not be empty")
				continue
			}
			q.Cursor = v
		}
	}
	return q, bad
}
