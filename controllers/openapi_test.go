package controllers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/todo-api/todo-api/apidocs"
)

var (
	specOnce      sync.Once
	specValidator validator.Validator
	specErr       error
	// specMu serialises validation: the validator's caches are not
	// documented as safe for concurrent use, and tests run requests in
	// parallel goroutines.
	specMu sync.Mutex
)

func loadSpecValidator() (validator.Validator, error) {
	specOnce.Do(func() {
		spec, err := apidocs.Spec("/api/v1", "todo-api")
		if err != nil {
			specErr = err
			return
		}
		doc, err := libopenapi.NewDocument(spec)
		if err != nil {
			specErr = err
			return
		}
		v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithCustomFormat("int64", int64Format))
		if len(errs) > 0 {
			specErr = fmt.Errorf("build validator: %v", errs)
			return
		}
		specValidator = v
	})
	return specValidator, specErr
}

// int64Format replaces the validator's check of `format: int64`, which
// refuses the largest int64 values: it decodes bodies to float64, where
// 9223372036854775807 (an offset the server echoes) becomes 2^63 and
// exceeds the range. Here a whole number is accepted up to 2^63, the float
// that every int64 from 2^63-512 up decodes to.
func int64Format(v any) error {
	var f float64
	switch n := v.(type) {
	case int64:
		return nil
	case float64:
		f = n
	case json.Number:
		if _, err := n.Int64(); err == nil {
			return nil
		}
		var err error
		if f, err = n.Float64(); err != nil {
			return fmt.Errorf("must be a whole number from %d to %d", int64(math.MinInt64), int64(math.MaxInt64))
		}
	default:
		return nil // other types are left to the rest of the schema
	}
	if f != math.Trunc(f) || f < math.MinInt64 || f > -math.MinInt64 {
		return fmt.Errorf("must be a whole number from %d to %d", int64(math.MinInt64), int64(math.MaxInt64))
	}
	return nil
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
	v, err := loadSpecValidator()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	newReq := func() *http.Request {
		r := httptest.NewRequest(method, target, bytes.NewReader(reqBody))
		r.Header = reqHeader.Clone()
		return r
	}
	resp := &http.Response{
		StatusCode: rec.Code,
		Header:     rec.Header().Clone(),
		Body:       io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Request:    newReq(),
	}
	specMu.Lock()
	defer specMu.Unlock()
	if ok, errs := v.ValidateHttpResponse(newReq(), resp); !ok && !undocumentedRoute(rec.Code, errs) {
		t.Errorf("%s %s → %d does not match the OpenAPI document:%s\nbody: %.300s", method, target, rec.Code, describe(errs), rec.Body.Bytes())
	}
	if rec.Code/100 == 2 || rec.Code == http.StatusNotModified {
		if ok, errs := v.ValidateHttpRequest(newReq()); !ok {
			t.Errorf("%s %s was accepted (%d) but does not match the OpenAPI document:%s", method, target, rec.Code, describe(errs))
		}
	}
}

// undocumentedRoute: a 404 or 405 for a path or method the API does not
// have cannot be matched to an operation; the catch-all problem answer is
// checked by TestRouteTable instead.
func undocumentedRoute(status int, errs []*verrors.ValidationError) bool {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return false
	}
	for _, e := range errs {
		if !e.IsPathMissingError() && !e.IsOperationMissingError() {
			return false
		}
	}
	return true
}

func describe[E error](errs []E) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s", e.Error())
	}
	return b.String()
}

func TestSpecIsValidOpenAPI31(t *testing.T) {
	v, err := loadSpecValidator()
	if err != nil {
		t.Fatal(err)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("the document is not valid OpenAPI:%s", describe(errs))
	}
	spec, _ := apidocs.Spec("/api/v1", "todo-api")
	if !bytes.Contains(spec, []byte(`"openapi":"3.1.0"`)) {
		t.Error("not an OpenAPI 3.1 document")
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
	v, err := loadSpecValidator()
	if err != nil {
		t.Fatal(err)
	}
	_ = v
	spec, _ := apidocs.Spec("/api/v1", "todo-api")
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
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
