package controllers_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/todo-api/todo-api/apidocs"
)

// corsSafelisted are the headers a browser sends or lets script read
// without any CORS header naming them (the Fetch standard's CORS-safelisted
// request and response headers). Content-Type is safelisted only for form
// and text bodies, so a JSON API must still allow it.
var corsSafelisted = map[string]bool{
	"accept": true, "accept-language": true, "content-language": true,
	"cache-control": true, "content-length": true, "expires": true, "last-modified": true, "pragma": true,
}

// documentHeaders reads, from the served OpenAPI document, every header a
// request may carry (header parameters, the bearer scheme's Authorization,
// Content-Type for a JSON body) and every header a response may carry.
func documentHeaders(t *testing.T) (request, response []string) {
	t.Helper()
	raw, err := apidocs.Spec("/api/v1", "todo-api")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	req, resp := map[string]bool{}, map[string]bool{}
	// Walk the whole document: header parameters and response header maps
	// appear under components and inline under operations alike.
	var walk func(key string, node any)
	walk = func(key string, node any) {
		switch n := node.(type) {
		case map[string]any:
			if n["in"] == "header" {
				if name, ok := n["name"].(string); ok {
					req[name] = true
				}
			}
			if n["type"] == "http" && strings.EqualFold(n["scheme"].(string), "bearer") {
				req["Authorization"] = true
			}
			for k, v := range n {
				switch {
				case key == "headers":
					resp[k] = true
				case key == "content" && (strings.HasSuffix(k, "json")) && v != nil:
					req["Content-Type"] = true
				}
				walk(k, v)
			}
		case []any:
			for _, v := range n {
				walk(key, v)
			}
		}
	}
	walk("", doc)
	for h := range req {
		request = append(request, h)
	}
	for h := range resp {
		response = append(response, h)
	}
	sort.Strings(request)
	sort.Strings(response)
	return request, response
}

// TestCORSCoversTheDocument: a browser on an allowed origin can send every
// request header the OpenAPI document names (the preflight allows each) and
// read every response header it names (each is exposed). A header added to
// the document and forgotten in the policy fails here.
func TestCORSCoversTheDocument(t *testing.T) {
	a := sharedAPI(t)
	const origin = "http://localhost:5173"
	request, response := documentHeaders(t)
	if len(request) < 5 || len(response) < 5 {
		t.Fatalf("the document names too few headers to be read right: request %v, response %v", request, response)
	}
	t.Logf("request headers in the document: %v; response headers: %v", request, response)

	for _, h := range request {
		if corsSafelisted[strings.ToLower(h)] {
			continue
		}
		r := a.do(req{Method: "OPTIONS", Path: "/api/v1/todos", Header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": strings.ToLower(h),
		}})
		if r.Status/100 != 2 || r.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("preflight for request header %s: %d, Allow-Origin %q; want 2xx allowing %s", h, r.Status, r.Header.Get("Access-Control-Allow-Origin"), origin)
			continue
		}
		if !namesHeader(r.Header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("request header %s (named in the document) is not allowed by the preflight: Access-Control-Allow-Headers = %q", h, r.Header.Get("Access-Control-Allow-Headers"))
		}
	}

	r := a.do(req{Method: "GET", Path: "/healthz", Header: map[string]string{"Origin": origin}})
	exposed := r.Header.Get("Access-Control-Expose-Headers")
	for _, h := range response {
		if corsSafelisted[strings.ToLower(h)] || strings.EqualFold(h, "Content-Type") {
			continue
		}
		if !namesHeader(exposed, h) {
			t.Errorf("response header %s (named in the document) is not exposed: Access-Control-Expose-Headers = %q", h, exposed)
		}
	}
}

// namesHeader tells whether a comma-separated header list names h
// (header names compare case-insensitively).
func namesHeader(list, h string) bool {
	for _, item := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(item), h) {
			return true
		}
	}
	return false
}

// TestCORSPreflightAllowsAFrontendCreate is the request a browser app makes
// for a retry-safe create: its preflight names Idempotency-Key beside the
// usual headers, and must pass, or the browser never sends the create.
func TestCORSPreflightAllowsAFrontendCreate(t *testing.T) {
	a := sharedAPI(t)
	r := a.do(req{Method: "OPTIONS", Path: "/api/v1/todos", Header: map[string]string{
		"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type,idempotency-key,x-request-id",
	}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
	for _, h := range []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"} {
		if !namesHeader(r.Header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("Access-Control-Allow-Headers = %q lacks %s", r.Header.Get("Access-Control-Allow-Headers"), h)
		}
	}
}

// TestCORSPreflightFromAnotherOrigin: a preflight from an origin not in
// ALLOWED_ORIGINS gets no CORS header (the browser then refuses the
// request) and an empty 204, not a 405 problem.
func TestCORSPreflightFromAnotherOrigin(t *testing.T) {
	a := sharedAPI(t)
	r := a.do(req{Method: "OPTIONS", Path: "/api/v1/todos", Header: map[string]string{
		"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization",
	}})
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Errorf("preflight from another origin: %d %s; want an empty 204", r.Status, r.Body)
	}
	for h := range r.Header {
		if strings.HasPrefix(h, "Access-Control-") {
			t.Errorf("preflight from another origin got %s: %q", h, r.Header.Get(h))
		}
	}
}
