package controllers

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/todo-api/todo-api/services"
)

// listParams are the query parameters GET /todos understands.
var listParams = map[string]bool{
	"completed": true, "min_priority": true, "q": true, "due_before": true, "due_after": true,
	"sort": true, "limit": true, "offset": true, "cursor": true,
}

// ParseListQuery reads GET /todos parameters and returns every problem
// with their syntax: unknown or repeated parameters, and values that are
// not of their type. Ranges, the sort key and the cursor are the
// service's rules (ListQuery.Check, Todos.CheckQuery).
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
			if err != nil {
				add(name, "must be an integer from %d to %d", services.MinPriority, services.MaxPriority)
				continue
			}
			q.MinPriority = &n
		case "q":
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
			q.Sort = &v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil {
				add(name, "must be an integer from 1 to %d", services.MaxLimit)
				continue
			}
			q.Limit = &n
		case "offset":
			n, err := strconv.Atoi(v)
			if err != nil {
				add(name, "must be an integer of at least 0")
				continue
			}
			q.Offset = n
		case "cursor":
			q.Cursor = &v
		}
	}
	return q, bad
}
