package controllers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/services"
)

// Request bodies are decoded here rather than with gin's ShouldBindJSON
// because the contract needs what it cannot give: unknown and read-only
// fields reported as 422 together with every other bad field, "absent"
// told from an explicit null, trailing data refused, and the size limit
// answered with 413 before the body is read.

// readOnlyFields may appear in responses but never be set by a client.
var readOnlyFields = map[string]bool{
	"id": true, "user_id": true, "created_at": true, "updated_at": true,
	"is_active": true, "hashed_password": true,
}

// readJSONObject checks the content type and size, and parses the body as
// one JSON object, returning its members undecoded and the body as read.
func readJSONObject(c *gin.Context, maxBytes int64) (map[string]json.RawMessage, []byte, error) {
	if err := requireJSON(c.Request); err != nil {
		return nil, nil, err
	}
	body, err := readBody(c, maxBytes)
	if err != nil {
		return nil, nil, err
	}
	obj, err := parseObject(body)
	return obj, body, err
}

// idempotencyKey reads the Idempotency-Key header of a create with body;
// ok is false when there is none. A malformed key is a 400.
func idempotencyKey(c *gin.Context, body []byte) (key services.IdempotencyKey, ok bool, err error) {
	raw, sent := c.Request.Header[headerIdempotencyKey]
	if !sent {
		return key, false, nil
	}
	if len(raw) != 1 {
		return key, false, badRequest("Send one Idempotency-Key header.")
	}
	key, err = services.NewIdempotencyKey(raw[0], c.FullPath(), body)
	if err != nil {
		return key, false, badRequest(err.Error() + ".")
	}
	return key, true, nil
}

func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get(headerContentType))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return badRequest("Content-Type must be application/json.")
	}
	return nil
}

func readBody(c *gin.Context, maxBytes int64) ([]byte, error) {
	if c.Request.ContentLength > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge(maxBytes)
	case err != nil:
		return nil, badRequest("The request body could not be read.")
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return &httpError{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("The request body exceeds the limit of %d bytes.", limit)}
}

// parseObject accepts exactly one JSON object, in valid UTF-8, with nothing
// after it.
func parseObject(body []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(body) {
		return nil, badRequest("The body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, badRequest("The body must be a JSON object.")
		}
		if errors.Is(err, io.EOF) {
			return nil, badRequest("The body is empty; a JSON object is required.")
		}
		return nil, badRequest("The body is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ") + ".")
	}
	if obj == nil {
		return nil, badRequest("The body must be a JSON object, not null.")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest("The body has data after the JSON object.")
	}
	return obj, nil
}

// decodeFields decodes the members of obj into the fields of dst (a pointer
// to a struct whose fields carry json tags), and returns a FieldError for
// every unknown, read-only or wrongly typed member, named prefix+name.
func decodeFields(obj map[string]json.RawMessage, dst any, prefix string) []services.FieldError {
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	fields := make(map[string]reflect.Value, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = v.Field(i)
		}
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []services.FieldError
	for _, name := range names {
		f, ok := fields[name]
		switch {
		case !ok && readOnlyFields[name]:
			errs = append(errs, services.FieldError{Field: prefix + name, Message: "is read-only and cannot be set"})
		case !ok:
			errs = append(errs, services.FieldError{Field: prefix + name, Message: "is not a known field"})
		default:
			if err := json.Unmarshal(obj[name], f.Addr().Interface()); err != nil {
				errs = append(errs, services.FieldError{Field: prefix + name, Message: typeMessage(f)})
			}
		}
	}
	return errs
}

var timeType = reflect.TypeOf(time.Time{})

// typeMessage says what a field must be, from its Go type (the Value of an
// optional).
func typeMessage(f reflect.Value) string {
	t := f.Type()
	if vf, ok := t.FieldByName("Value"); ok {
		t = vf.Type
	}
	switch {
	case t == timeType:
		return "must be an RFC 3339 date-time like 2026-12-31T17:00:00Z, or null"
	case t.Kind() == reflect.String:
		return "must be a string"
	case t.Kind() == reflect.Bool:
		return "must be true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "must be an integer"
	case t.Kind() == reflect.Slice:
		return "must be an array"
	}
	return "has the wrong type"
}

// bindInto reads the body into dst and returns it as read. Decoding
// problems with fields are returned as field errors for the caller to
// merge with the rules'.
func bindInto(c *gin.Context, maxBytes int64, dst any) ([]byte, []services.FieldError, error) {
	obj, body, err := readJSONObject(c, maxBytes)
	if err != nil {
		return nil, nil, err
	}
	return body, decodeFields(obj, dst, ""), nil
}

// bind reads the body into dst and reports whether the service may be
// called with it. When a member could not be decoded it writes one 422
// that lists those members and what rules finds wrong with the rest (the
// service is not called with a partial input), and returns false; so does
// any other problem with the body, with its own status. The body comes
// back as read (a create's Idempotency-Key fingerprints it).
func bind(c *gin.Context, maxBytes int64, dst any, rules func() *services.ValidationError) ([]byte, bool) {
	body, decoding, err := bindInto(c, maxBytes, dst)
	if err == nil && len(decoding) > 0 {
		err = &services.ValidationError{Fields: merge(decoding, rules().Fields)}
	}
	if err != nil {
		writeError(c, err)
		return nil, false
	}
	return body, true
}

// merge lists the decoding problems, then the rule problems of every other
// field. A field that could not be decoded reaches the rules as absent or
// empty, so what they say about it ("is required") would mislead; the same
// holds for the fields of an item that is not an object (items[2] covers
// items[2].title).
func merge(decoding, rules []services.FieldError) []services.FieldError {
	out := slices.Clip(decoding)
	for _, r := range rules {
		covered := slices.ContainsFunc(decoding, func(d services.FieldError) bool {
			return r.Field == d.Field || strings.HasPrefix(r.Field, d.Field+".")
		})
		if !covered {
			out = append(out, r)
		}
	}
	return out
}
