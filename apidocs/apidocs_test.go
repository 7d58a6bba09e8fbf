package apidocs

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// These tests read openapi.yaml itself, for what neither the contract tests
// (they check the server's answers, not the document's examples) nor the
// linter (apidocs/lint) can see.

func loadDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(specYAML, &doc); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	return doc
}

// resolve follows a local $ref ("#/a/b~1c") until it reaches a node that is
// not one.
func resolve(t *testing.T, doc map[string]any, node any) any {
	t.Helper()
	for range 10 {
		m, ok := node.(map[string]any)
		if !ok {
			return node
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return node
		}
		var cur any = doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			next, ok := cur.(map[string]any)[part]
			if !ok {
				t.Fatalf("$ref %s does not resolve", ref)
			}
			cur = next
		}
		node = cur
	}
	t.Fatalf("$ref chain too long at %v", node)
	return nil
}

// walk calls fn for every map in the document, with its JSON path.
func walk(node any, path string, fn func(path string, m map[string]any)) {
	switch n := node.(type) {
	case map[string]any:
		fn(path, n)
		for k, v := range n {
			walk(v, path+"/"+k, fn)
		}
	case []any:
		for i, v := range n {
			walk(v, fmt.Sprintf("%s/%d", path, i), fn)
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestProblemExamples: every example of a problem document is one the
// Problem schema describes, with the fields the server always fills. A
// plain YAML flow value with ", " in it ends at the comma (`detail: Missing,
// invalid or expired credentials.` is detail "Missing" plus a stray key),
// and the Problem schema allows extra keys, so nothing else catches that.
func TestProblemExamples(t *testing.T) {
	doc := loadDoc(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	problemProps := schemas["Problem"].(map[string]any)["properties"].(map[string]any)
	fieldErrorProps := schemas["FieldError"].(map[string]any)["properties"].(map[string]any)

	checked := 0
	walk(doc, "#", func(path string, m map[string]any) {
		content, ok := m["content"].(map[string]any)
		if !ok {
			return
		}
		for mediaType, mt := range content {
			media, ok := mt.(map[string]any)
			if !ok {
				continue
			}
			ref, _ := resolveRefName(media["schema"])
			if mediaType != "application/problem+json" && ref != "#/components/schemas/Problem" {
				continue
			}
			var examples []any
			if ex, ok := media["example"]; ok {
				examples = append(examples, ex)
			}
			if exs, ok := media["examples"].(map[string]any); ok {
				for _, e := range exs {
					examples = append(examples, resolve(t, doc, e).(map[string]any)["value"])
				}
			}
			for _, ex := range examples {
				checked++
				where := path + "/content/" + mediaType
				p, ok := ex.(map[string]any)
				if !ok {
					t.Errorf("%s: example is %T, want an object", where, ex)
					continue
				}
				for _, k := range keys(p) {
					if _, known := problemProps[k]; !known {
						t.Errorf("%s: example has unknown key %q (an unquoted \", \" in a flow value?): %v", where, k, p)
					}
				}
				if d, ok := p["detail"].(string); !ok || !strings.HasSuffix(d, ".") {
					t.Errorf("%s: example detail %#v, want a sentence ending in \".\"", where, p["detail"])
				}
				if s, ok := p["status"].(int); !ok || s < 400 || s > 599 {
					t.Errorf("%s: example status %#v, want 400 to 599", where, p["status"])
				}
				if ty, ok := p["type"].(string); !ok || !strings.HasPrefix(ty, "/problems/") {
					t.Errorf("%s: example type %#v, want /problems/...", where, p["type"])
				}
				if ti, ok := p["title"].(string); !ok || ti == "" {
					t.Errorf("%s: example title %#v, want text", where, p["title"])
				}
				errs, ok := p["errors"]
				if !ok {
					continue
				}
				list, ok := errs.([]any)
				if !ok || len(list) == 0 {
					t.Errorf("%s: example errors %#v, want a non-empty list", where, errs)
					continue
				}
				for _, e := range list {
					fe, ok := e.(map[string]any)
					if !ok || len(fe) != len(fieldErrorProps) {
						t.Errorf("%s: example field error %#v, want exactly %v", where, e, keys(fieldErrorProps))
						continue
					}
					for k := range fieldErrorProps {
						if s, ok := fe[k].(string); !ok || s == "" {
							t.Errorf("%s: example field error %s = %#v, want text", where, k, fe[k])
						}
					}
				}
			}
		}
	})
	if checked < 5 {
		t.Errorf("checked %d problem examples; the document has more: is the walk still finding them?", checked)
	}
}

// TestNoStrayKeys: no key in the document has a space in it. None of its
// names (paths, fields, headers, media types, status codes, keywords) can,
// but the tail of an unquoted flow value cut at ", " becomes just such a key
// (`{ description: At most 72 bytes, as at registration. }` is the keyword
// description plus a key "as at registration."), which JSON Schema allows
// and every tool then ignores.
func TestNoStrayKeys(t *testing.T) {
	walk(loadDoc(t), "#", func(path string, m map[string]any) {
		for k := range m {
			if strings.ContainsAny(k, " \t") {
				t.Errorf("%s: key %q (an unquoted \", \" in a flow value? quote the value)", path, k)
			}
		}
	})
}

// resolveRefName is a node's $ref, if it is a reference.
func resolveRefName(node any) (string, bool) {
	m, ok := node.(map[string]any)
	if !ok {
		return "", false
	}
	ref, ok := m["$ref"].(string)
	return ref, ok
}

// TestResponseHeaders: every response of every operation declares
// X-Request-ID as required (the server sends it on every answer), and every
// Retry-After, wherever it is declared, is whole seconds (an integer).
func TestResponseHeaders(t *testing.T) {
	doc := loadDoc(t)
	methods := []string{"get", "put", "post", "patch", "delete", "head", "options", "trace"}
	operations := 0
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if !slices.Contains(methods, method) {
				continue
			}
			operations++
			for code, r := range op.(map[string]any)["responses"].(map[string]any) {
				resp := resolve(t, doc, r).(map[string]any)
				headers, _ := resp["headers"].(map[string]any)
				h, ok := headers["X-Request-ID"]
				if !ok {
					t.Errorf("%s %s → %s declares no X-Request-ID", strings.ToUpper(method), path, code)
					continue
				}
				if req, _ := resolve(t, doc, h).(map[string]any)["required"].(bool); !req {
					t.Errorf("%s %s → %s: X-Request-ID is not required", strings.ToUpper(method), path, code)
				}
			}
		}
	}
	if operations < 10 {
		t.Fatalf("found %d operations; is the document still read right?", operations)
	}

	retryAfters := 0
	walk(doc, "#", func(path string, m map[string]any) {
		headers, ok := m["headers"].(map[string]any)
		if !ok {
			return
		}
		for name, h := range headers {
			if !strings.EqualFold(name, "Retry-After") {
				continue
			}
			retryAfters++
			header := resolve(t, doc, h).(map[string]any)
			schema, _ := resolve(t, doc, header["schema"]).(map[string]any)
			if schema["type"] != "integer" {
				t.Errorf("%s/headers/%s: schema type %#v, want integer (whole seconds)", path, name, schema["type"])
			}
		}
	})
	if retryAfters < 3 {
		t.Errorf("found %d Retry-After headers; the 409, 429 and 503 answers declare one each", retryAfters)
	}
}
