package services

// White-box fuzzing of the two things a client hands back to the server
// signed: pagination cursors and access tokens. Seeds run as normal tests;
// `go test -run=^$ -fuzz=FuzzCursorDecode ./services/` explores.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/todo-api/todo-api/models"
)

var relCursorKey = []byte("fuzz cursor key")

// relSignPayload signs arbitrary bytes the way the codec does, so that the
// fuzzer reaches what lies behind the signature check.
func relSignPayload(payload []byte) string {
	cc := cursorCodec{key: relCursorKey}
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(cc.sign(payload))
}

var (
	relListUserOnce sync.Once
	relListUser     models.User
	relListUserErr  error
)

// relFuzzUser is one user with a few todos, made once per process, for
// List to run cursors against.
func relFuzzUser(t *testing.T) models.User {
	relListUserOnce.Do(func() {
		u := models.User{Email: "fuzz-cursor-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@example.com", Username: "fuzz_cursor_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36), HashedPassword: new("x"), IsActive: true}
		if relListUserErr = db.Create(&u).Error; relListUserErr != nil {
			return
		}
		s := NewTodos(db, relCursorKey, time.Hour, nil)
		due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		_, relListUserErr = createBatch(context.Background(), s, Caller{ID: u.ID, Version: u.TokenVersion}, []TodoInput{
			{Title: Some("alpha"), Priority: Some(1)},
			{Title: Some("beta"), Priority: Some(5), DueDate: Some(due)},
			{Title: Some("gamma"), Completed: Some(true)},
		})
		relListUser = u
	})
	if relListUserErr != nil {
		t.Fatal(relListUserErr)
	}
	return relListUser
}

func FuzzCursorDecode(f *testing.F) {
	cc := cursorCodec{key: relCursorKey}
	fp := ListQuery{}.fingerprint()
	for _, c := range []cursor{
		{Sort: "-created_at", Filters: fp, Value: int64(1798736400000000), ID: 42},
		{Sort: "priority", Filters: fp, Value: int64(3), ID: 1},
		{Sort: "title", Filters: fp, Value: "a \"quoted\" <title> & \u2028", ID: 9},
		{Sort: "due_date", Filters: fp, Value: nil, ID: 7},
		{Sort: "-due_date", Filters: fp, Value: int64(-62135596800000000), ID: 1 << 62},
	} {
		s := cc.encode(c)
		body, _, _ := strings.Cut(s, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(body)
		f.Add(s, payload)
	}
	for _, p := range []string{
		`{"s":"created_at","f":"` + fp + `","v":9223372036854775807,"i":1}`,
		`{"s":"created_at","f":"` + fp + `","v":-9223372036854775808,"i":-1}`,
		`{"s":"priority","f":"` + fp + `","v":99999999999999999999,"i":1}`,
		`{"s":"priority","f":"` + fp + `","v":1.5,"i":1}`,
		`{"s":"priority","f":"` + fp + `","v":1e400,"i":1}`,
		`{"s":"title","f":"` + fp + `","v":["x"],"i":1}`,
		`{"s":"title","f":"` + fp + `","v":{"a":1},"i":1}`,
		`{"s":"title","f":"` + fp + `","v":"\u0000","i":1}`,
		`{"s":"title","f":"` + fp + `","v":true,"i":1}`,
		`{"s":"due_date","f":"` + fp + `","v":null,"i":0}`,
		`{"s":"nope","f":"x","v":1,"i":1}`,
		`{"S":"title","F":"` + fp + `","V":"x","I":1}`,
		`{"s":"title","s":"priority","f":"` + fp + `","v":2,"i":1}`,
		`{"s":"title","f":"` + fp + `","v":"x","i":1} trailing`,
		`{"s":"title","f":"` + fp + `","v":"x","i":1.5}`,
		`null`, `[]`, `""`, ``, `{`,
	} {
		f.Add(relSignPayload([]byte(p)), []byte(p))
	}
	f.Add("", []byte(nil))
	f.Add(".", []byte("{}"))
	f.Add("a.b.c", []byte("{}"))
	f.Add("%%%.%%%", []byte("{}"))
	f.Add(strings.Repeat("A", maxCursorLength+1), []byte("{}"))
	f.Fuzz(func(t *testing.T, raw string, payload []byte) {
		// Arbitrary text: almost always refused, never a panic, and never
		// accepted with a signature this key did not make.
		if c, err := cc.decode(raw); err == nil {
			body, sig, _ := strings.Cut(raw, ".")
			p, _ := base64.RawURLEncoding.DecodeString(body)
			given, _ := base64.RawURLEncoding.DecodeString(sig)
			if !hmac.Equal(given, cc.sign(p)) {
				t.Fatalf("decode(%q) accepted a cursor not signed with the key: %+v", raw, c)
			}
			relCursorRoundTrip(t, cc, c)
		}
		// The same payload, properly signed: the code behind the signature.
		signed := relSignPayload(payload)
		c, err := cc.decode(signed)
		if len(signed) > maxCursorLength {
			if err == nil {
				t.Fatalf("a %d-character cursor was decoded", len(signed))
			}
			return
		}
		if err != nil {
			return
		}
		relCursorRoundTrip(t, cc, c)
		// Every sort, with the cursor: CheckQuery never panics, and a
		// cursor it accepts lists without error.
		s := NewTodos(db, relCursorKey, time.Hour, nil)
		for _, sort := range SortKeys {
			limit := 2
			q := ListQuery{Sort: &sort, Cursor: &signed, Limit: &limit}
			problems := s.CheckQuery(q)
			accepted := len(problems) == 0
			if accepted && (c.Sort != sort || c.Filters != q.fingerprint()) {
				t.Fatalf("CheckQuery accepted a cursor for sort %q filters %q under sort %q", c.Sort, c.Filters, sort)
			}
			if !accepted {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			page, err := s.List(ctx, callerOf(relFuzzUser(t)), q)
			cancel()
			// Only this codec signs, and it signs only positions of stored
			// rows; but a value PostgreSQL refuses (a NUL, a time out of
			// its range) must still be a client error (ErrUnstorable, 422),
			// never an internal one.
			if err != nil && !errors.Is(err, ErrUnstorable) {
				t.Fatalf("List with a cursor CheckQuery accepted (%s): %v", payload, err)
			}
			if len(page.Items) > limit {
				t.Fatalf("List returned %d items for limit %d", len(page.Items), limit)
			}
		}
	})
}

// relCursorRoundTrip: a decoded cursor encodes to a cursor that decodes to
// the same value.
func relCursorRoundTrip(t *testing.T, cc cursorCodec, c cursor) {
	t.Helper()
	again, err := cc.decode(cc.encode(c))
	if err != nil {
		t.Fatalf("re-encoded cursor %+v does not decode: %v", c, err)
	}
	if !reflect.DeepEqual(again, c) {
		t.Fatalf("round trip changed the cursor:\n  %#v\n  %#v", c, again)
	}
}

var relTokenSecret = []byte(strings.Repeat("fuzz-secret-", 4))

// relValidlySigned is the independent check of what ownCaller may accept: three
// base64url segments whose header names HS256 and whose third segment is the
// HMAC-SHA256 of the first two under the secret.
func relValidlySigned(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var header map[string]any
	if json.Unmarshal(hb, &header) != nil || header["alg"] != "HS256" {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, relTokenSecret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	return hmac.Equal(sig, mac.Sum(nil))
}

// relClaims reads the registered claims as encoding/json does for a struct
// (keys matched without regard to case, the last one winning; numbers also
// from numeric strings), which is how the JWT library reads them.
type relClaims struct {
	Sub *string      `json:"sub"`
	Exp *json.Number `json:"exp"`
	Iat *json.Number `json:"iat"`
	Nbf *json.Number `json:"nbf"`
	Iss *string      `json:"iss"`
	Aud any          `json:"aud"`
	Ver *json.Number `json:"ver"`
}

// relClaimsAllow is the independent check of the claims ownCaller may accept at
// now: a positive integer subject equal to id, an exp not past, an iat and
// no nbf in the future (each with the leeway), our iss, our aud (alone or in
// a list) and a credential version. It returns why not, or "".
func relClaimsAllow(token string, id int64, now time.Time) string {
	parts := strings.Split(token, ".")
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "claims are not base64url"
	}
	var c relClaims
	if err := json.Unmarshal(cb, &c); err != nil {
		return "claims do not decode: " + err.Error()
	}
	if c.Sub == nil || *c.Sub != strconv.FormatInt(id, 10) || id <= 0 {
		return "sub is not the positive integer returned"
	}
	if c.Iss == nil || *c.Iss != "todo-api" {
		return "iss is not ours"
	}
	switch aud := c.Aud.(type) {
	case string:
		if aud != "todo-api" {
			return "aud is not ours"
		}
	case []any:
		if !slices.Contains(aud, any("todo-api")) {
			return "aud does not name us"
		}
	default:
		return "aud missing or malformed"
	}
	if c.Iat == nil {
		return "iat missing"
	}
	if c.Ver == nil {
		return "ver missing"
	}
	num := func(n *json.Number) (float64, bool) {
		if n == nil {
			return 0, false
		}
		v, err := n.Float64()
		return v, err == nil
	}
	leeway := tokenLeeway.Seconds()
	unix := float64(now.Unix())
	if exp, ok := num(c.Exp); !ok || exp+leeway < unix {
		return "exp missing or past"
	}
	for k, n := range map[string]*json.Number{"iat": c.Iat, "nbf": c.Nbf} {
		if n == nil {
			continue
		}
		if v, ok := num(n); !ok || v-leeway > unix+1 {
			return k + " malformed or in the future"
		}
	}
	return ""
}

func FuzzTokenParse(f *testing.F) {
	now := time.Now()
	auth, err := NewAuth(db, testAuthOptions(AuthOptions{Secret: relTokenSecret, Now: func() time.Time { return now }}))
	if err != nil {
		f.Fatal(err)
	}
	good, err := auth.issue(models.User{ID: 42})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good.AccessToken, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	exp := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	iat := strconv.FormatInt(now.Unix(), 10)
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	valid := jwt.MapClaims{"sub": "42", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "iss": "todo-api", "aud": "todo-api", "ver": 0}
	for _, tc := range []struct{ token, header, claims string }{
		{good.AccessToken, `{"alg":"HS256","typ":"JWT"}`, `{"sub":"42","exp":` + exp + `,"iat":` + iat + `,"iss":"todo-api","aud":"todo-api","ver":0}`},
		{good.AccessToken, `{"alg":"HS256","typ":"JWT"}`, `{"sub":"42","exp":` + exp + `,"iat":` + iat + `,"iss":"other","aud":"todo-api","ver":0}`},
		{good.AccessToken, `{"alg":"HS256","typ":"JWT"}`, `{"sub":"42","exp":` + exp + `,"iat":` + iat + `,"iss":"todo-api","aud":["x","todo-api"],"ver":3}`},
		{good.AccessToken, `{"alg":"HS256","typ":"JWT"}`, `{"sub":"42","exp":` + exp + `,"iss":"todo-api","aud":"todo-api","ver":0}`},
		{parts[0] + "." + parts[1] + ".", `{"alg":"none"}`, `{"sub":"42","exp":` + exp + `}`},
		{b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", `{"alg":"HS256"}`, `{"sub":"0","exp":` + exp + `}`},
		{sign(jwt.SigningMethodHS512, relTokenSecret, valid), `{"alg":"HS512"}`, `{"sub":"42","exp":` + exp + `}`},
		{sign(jwt.SigningMethodHS256, []byte("another secret of enough length!"), valid), `{"alg":"HS256","crit":["x"]}`, `{"sub":"-1","exp":` + exp + `}`},
		{parts[0] + "." + parts[1] + "." + parts[2] + "=", `{"alg":"HS256"}`, `{"sub":"42"}`},
		{parts[0] + "." + parts[1] + "." + parts[2] + ".x", `{"alg":"HS256"}`, `{"sub":"42","exp":"` + exp + `"}`},
		{strings.ToUpper(good.AccessToken), `{"alg":"hs256"}`, `{"sub":"42","exp":` + exp + `,"nbf":` + exp + `}`},
		{"", `{"alg":"HS256"}`, `{"sub":"42","exp":` + exp + `,"iat":` + exp + `}`},
		{"..", `{"alg":"HS256","kid":"../../etc/passwd"}`, `{"sub":"9223372036854775808","exp":` + exp + `}`},
		{"a.b.c", `{"alg":"HS256"}`, `{"sub":"42","exp":1e400}`},
		{"not-a-jwt", `{"alg":"HS256"}`, `{"sub":" 42","exp":` + exp + `}`},
		{strings.Repeat("A", 10000) + "." + strings.Repeat("B", 10000) + ".C", `{"alg":"HS256"}`, `{"sub":"42","exp":` + exp + `,"sub":"43"}`},
		{"e30.e30.", `{"alg":"HS256"}`, `{"sub":"4.2e1","exp":` + exp + `}`},
		{"e30.e30.e30", `{"alg":"HS256"}`, `{"sub":42,"exp":` + exp + `}`},
		{"eyJhbGciOiJIUzI1NiJ9.bnVsbA.x", `{"alg":"HS256"}`, `null`},
		{"eyJhbGciOiJIUzI1NiJ9.W10.x", `{"alg":"HS256"}`, `[]`},
	} {
		f.Add(tc.token, []byte(tc.header), []byte(tc.claims))
	}
	f.Fuzz(func(t *testing.T, token string, header, claims []byte) {
		// Arbitrary text.
		if v, err := auth.ownCaller(token); err == nil {
			id := v.ID
			if !relValidlySigned(token) {
				t.Fatalf("ownCaller(%q) accepted a token not signed with the secret (id %d)", token, id)
			}
			if why := relClaimsAllow(token, id, now); why != "" {
				t.Fatalf("ownCaller(%q) accepted it (id %d) although %s", token, id, why)
			}
		} else if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("ownCaller error %v does not wrap ErrUnauthorized", err)
		}
		// Arbitrary header and claims, validly signed: only the claims
		// and the header's algorithm decide.
		unsigned := b64(header) + "." + b64(claims)
		mac := hmac.New(sha256.New, relTokenSecret)
		mac.Write([]byte(unsigned))
		signed := unsigned + "." + b64(mac.Sum(nil))
		v, err := auth.ownCaller(signed)
		id := v.ID
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("ownCaller error %v does not wrap ErrUnauthorized", err)
			}
			return
		}
		if !relValidlySigned(signed) {
			t.Fatalf("ownCaller accepted header %s (not HS256)", header)
		}
		if why := relClaimsAllow(signed, id, now); why != "" {
			t.Fatalf("ownCaller accepted claims %s (id %d) although %s", claims, id, why)
		}
	})
}
