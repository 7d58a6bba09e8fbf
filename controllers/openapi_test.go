package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/apidocs"
)

// The exchanges are validated with kin-openapi (openapi3filter, which
// validates OpenAPI 3.1 schemas as JSON Schema 2020-12): it builds in
// seconds, where libopenapi-validator took minutes of a cold build, and it
// flags every deliberately wrong exchange that one did (issue 21).
var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
	// specMu serialises validation: tests run requests in parallel
	// goroutines, and openapi3filter's concurrency safety is not
	// documented.
	specMu sync.Mutex
)

func loadSpec() (*openapi3.T, routers.Router, error) {
	specOnce.Do(func() {
		spec, err := apidocs.Spec("/api/v1", "todo-api")
		if err != nil {
			specErr = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(spec)
		if err != nil {
			specErr = fmt.Errorf("load: %w", err)
			return
		}
		// NewRouter validates the document first.
		router, err := legacy.NewRouter(doc)
		if err != nil {
			specErr = err
			return
		}
		// kin-openapi asserts no uri-reference format of its own (Problem's
		// type, Location).
		openapi3.DefineStringFormatValidator("uri-reference", openapi3.NewCallbackValidator(func(s string) error {
			_, err := url.Parse(s)
			return err
		}))
		// The document's string bodies of media types openapi3filter has
		// no decoder for: the docs page and its assets (*/*).
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder("*/*", openapi3filter.PlainBodyDecoder)
		// openapi3filter refuses a JSON object with a repeated member
		// name; the document is silent on them and the server takes the
		// last value (TestAttackRepeatedJSONKeys), so they are decoded
		// as encoding/json does.
		openapi3filter.RegisterBodyDecoder("application/json", jsonLastValueWins)
		specDoc, specRouter = doc, router
	})
	return specDoc, specRouter, specErr
}

func jsonLastValueWins(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	return v, nil
}

// bearerPresent is the security check of an accepted request: both schemes
// (bearerAuth, oauth2Password) send `Authorization: Bearer <token>`; whether
// the token is good is the server's to say.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if (s.Type == "http" && strings.EqualFold(s.Scheme, "bearer")) || s.Type == "oauth2" {
		scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return errors.New("no bearer token in Authorization")
		}
		return nil
	}
	return fmt.Errorf("security scheme %q (%s) is not checked here", in.SecuritySchemeName, s.Type)
}

// checkSpec validates an exchange against the OpenAPI document: every
// response (errors included) must be one the document declares, with a
// body matching its schema; a request the server accepted (2xx/304) must
// itself conform to the document. Rejected requests are often invalid on
// purpose, so their requests are not checked, only their responses.
func checkSpec(t testing.TB, method, target string, reqHeader http.Header, reqBody []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if method == http.MethodOptions || method == http.MethodHead {
		// A CORS preflight is the browser's protocol, not an API
		// operation; HEAD is its GET without the body (see headAsGet),
		// and the GETs are checked.
		return
	}
	_, router, err := loadSpec()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	newReq := func() *http.Request {
		r := httptest.NewRequest(method, target, bytes.NewReader(reqBody))
		r.Header = reqHeader.Clone()
		return r
	}
	specMu.Lock()
	defer specMu.Unlock()
	route, params, err := router.FindRoute(newReq())
	if err != nil {
		// A 404 or 405 for a path or method the API does not have cannot
		// be matched to an operation; the catch-all problem answer is
		// checked by TestRouteTable instead.
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s → %d is no operation of the OpenAPI document: %v", method, target, rec.Code, err)
		}
		return
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: bearerPresent}
	in := &openapi3filter.RequestValidationInput{Request: newReq(), PathParams: params, Route: route, Options: opts}
	if rec.Code == http.StatusNotModified {
		// openapi3filter.ValidateResponse passes every 304 unread.
		if errs := checkHeaders(route, rec); len(errs) > 0 {
			t.Errorf("%s %s → %d does not match the OpenAPI document:%s", method, target, rec.Code, describe(errs))
		}
	} else {
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header().Clone(), Options: opts}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s → %d does not match the OpenAPI document:%s\nbody: %.300s", method, target, rec.Code, describe(unwrapMulti(err)), rec.Body.Bytes())
		}
	}
	if rec.Code/100 == 2 || rec.Code == http.StatusNotModified {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s %s was accepted (%d) but does not match the OpenAPI document:%s", method, target, rec.Code, describe(unwrapMulti(err)))
		}
	}
}

// checkHeaders checks that a bodiless answer's status is documented for the
// operation, with its required headers present and matching their schemas.
func checkHeaders(route *routers.Route, rec *httptest.ResponseRecorder) []error {
	ref := route.Operation.Responses.Status(rec.Code)
	if ref == nil || ref.Value == nil {
		return []error{fmt.Errorf("status %d is not documented", rec.Code)}
	}
	var errs []error
	for name, h := range ref.Value.Headers {
		v := rec.Header().Values(name)
		switch {
		case len(v) == 0 && h.Value.Required:
			errs = append(errs, fmt.Errorf("response header %q missing", name))
		case len(v) > 0 && h.Value.Schema != nil:
			if err := h.Value.Schema.Value.VisitJSON(v[0], openapi3.EnableJSONSchema2020()); err != nil {
				errs = append(errs, fmt.Errorf("response header %q: %w", name, err))
			}
		}
	}
	return errs
}

func unwrapMulti(err error) []error {
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		return multi
	}
	return []error{err}
}

func describe[E error](errs []E) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s", e.Error())
	}
	return b.String()
}

func TestSpecIsValidOpenAPI31(t *testing.T) {
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation(), openapi3.EnableMultiError()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Errorf("not an OpenAPI 3.1 document: openapi %q", doc.OpenAPI)
	}
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// TestRoutesMatchSpec: every route the router has is in the document, and
// every operation in the document is a route.
func TestRoutesMatchSpec(t *testing.T) {
	a := sharedAPI(t)
	engine, ok := a.handler.(interface{ Routes() gin.RoutesInfo })
	if !ok {
		t.Fatalf("handler is %T, want the Gin engine", a.handler)
	}
	var routes []string
	for _, r := range engine.Routes() {
		routes = append(routes, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	if strings.Join(routes, "\n") != strings.Join(documented, "\n") {
		t.Errorf("router and document differ.\nrouter:\n  %s\ndocument:\n  %s", strings.Join(routes, "\n  "), strings.Join(documented, "\n  "))
	}
}

func TestSpecServedWithPrefix(t *testing.T) {
	a := newAPI(t, map[string]string{"API_V1_PREFIX": "/v2", "PROJECT_NAME": "my todos"})
	r := expect(t, a.do(req{Method: "GET", Path: "/openapi.json"}), http.StatusOK)
	body := string(r.Body)
	if !strings.Contains(body, `"/v2/todos"`) || strings.Contains(body, "/api/v1") || !strings.Contains(body, `"title":"my todos"`) {
		t.Errorf("document with API_V1_PREFIX=/v2 still says /api/v1 or lacks the title: %.400s", body)
	}
}

func TestDocsPageAndAssets(t *testing.T) {
	a := sharedAPI(t)
	page := expect(t, a.do(req{Method: "GET", Path: "/docs"}), http.StatusOK)
	if !strings.Contains(string(page.Body), "/docs/assets/swagger-ui-bundle.js") || strings.Contains(string(page.Body), "https://") {
		t.Errorf("docs page loads external or no assets: %s", page.Body)
	}
	for _, asset := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "init.js", "favicon-32x32.png"} {
		r := expect(t, a.do(req{Method: "GET", Path: "/docs/assets/" + asset}), http.StatusOK)
		if len(r.Body) == 0 {
			t.Errorf("%s is empty", asset)
		}
	}
	expect(t, a.do(req{Method: "GET", Path: "/docs/assets/nope.js"}), http.StatusNotFound)
}
