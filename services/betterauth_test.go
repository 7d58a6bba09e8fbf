package services

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/todo-api/todo-api/models"
)

// baKey is a signing key of a stand-in Better Auth server.
type baKey struct {
	kid    string
	alg    string
	signer crypto.Signer
	public any
	// hideAlg leaves alg out of the published JWK, as some servers do.
	hideAlg bool
}

func newBAKey(t *testing.T, alg string) baKey {
	t.Helper()
	k := baKey{kid: fmt.Sprintf("%s-%d", alg, time.Now().UnixNano()), alg: alg}
	switch alg {
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.signer, k.public = priv, pub
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.signer, k.public = priv, &priv.PublicKey
	case "RS256", "PS256":
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k.signer, k.public = priv, &priv.PublicKey
	default:
		t.Fatalf("no key for %s", alg)
	}
	return k
}

// baServer serves a JWKS, counting fetches; it can be taken down.
type baServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []baKey
	down    atomic.Bool
	fetches atomic.Int64
}

func newBAServer(t *testing.T, keys ...baKey) *baServer {
	s := &baServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		set := jwkset.JWKSMarshal{}
		for _, k := range s.keys {
			md := jwkset.JWKMetadataOptions{KID: k.kid}
			if !k.hideAlg {
				md.ALG = jwkset.ALG(k.alg)
			}
			j, err := jwkset.NewJWKFromKey(k.public, jwkset.JWKOptions{Metadata: md})
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			set.Keys = append(set.Keys, j.Marshal())
		}
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *baServer) setKeys(keys ...baKey) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

const (
	baIssuer   = "http://better-auth.test"
	baAudience = "http://better-auth.test"
)

// baClaims are a Better Auth token's claims: the session's user plus the
// registered claims.
func baClaims(sub, email string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": sub, "id": sub, "email": email, "name": "Test User", "emailVerified": false,
		"iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"iss": baIssuer, "aud": baAudience,
	}
}

func signBA(t *testing.T, k baKey, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), c)
	tok.Header["kid"] = k.kid
	delete(tok.Header, "typ") // Better Auth sends alg and kid only
	s, err := tok.SignedString(k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newBAAuth(t *testing.T, s *baServer, cache *UserCache, minRefresh time.Duration) *Auth {
	t.Helper()
	return newTestAuth(t, AuthOptions{
		Cache: cache,
		BetterAuth: &BetterAuthOptions{
			JWKSURL: s.URL, Issuer: baIssuer, Audience: baAudience,
			Refresh: time.Hour, MinRefresh: minRefresh, FetchTimeout: 2 * time.Second,
		},
	})
}

func uniqueSub(prefix string) string { return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()) }

// TestBetterAuthTokensPerAlgorithm: tokens signed with Ed25519, P-256 and
// RSA keys are accepted; the first provisions a user, and a second token
// for the same subject is the same user.
func TestBetterAuthTokensPerAlgorithm(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []string{"EdDSA", "ES256", "RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			k := newBAKey(t, alg)
			k.hideAlg = alg == "PS256" // a key without alg: the key's type decides
			srv := newBAServer(t, k)
			auth := newBAAuth(t, srv, nil, time.Second)
			sub := uniqueSub("sub-" + alg + "-")
			email := strings.ToLower(sub) + "@Example.com"
			u1, err := authenticate(ctx, auth, signBA(t, k, baClaims(sub, email)))
			if err != nil {
				t.Fatalf("first token: %v", err)
			}
			if u1.Email != strings.ToLower(email) || u1.AuthSubject == nil || *u1.AuthSubject != sub || u1.HashedPassword != nil || !u1.IsActive {
				t.Fatalf("provisioned user: %+v", u1)
			}
			if n := len(u1.Username); n < MinUsernameLength || n > MaxUsernameLength || !usernamePattern.MatchString(u1.Username) || !strings.HasPrefix(u1.Username, ExternalUsernamePrefix) {
				t.Fatalf("generated username %q: want %s… within the username format", u1.Username, ExternalUsernamePrefix)
			}
			v := &ValidationError{}
			checkUsername(v, Some(strings.ToUpper(u1.Username)), true)
			if len(v.Fields) != 1 {
				t.Fatalf("the generated username %q can be taken by a user: %v", u1.Username, v)
			}
			u2, err := authenticate(ctx, auth, signBA(t, k, baClaims(sub, email)))
			if err != nil || u2.ID != u1.ID {
				t.Fatalf("second token: user %d, err %v; want user %d", u2.ID, err, u1.ID)
			}
		})
	}
}

// TestBetterAuthAttackTokens: every forged or misdirected token is
// ErrUnauthorized, and none provisions a user.
func TestBetterAuthAttackTokens(t *testing.T) {
	ctx := context.Background()
	ed := newBAKey(t, "EdDSA")
	es := newBAKey(t, "ES256")
	rs := newBAKey(t, "RS256")
	other := newBAKey(t, "EdDSA") // not published
	srv := newBAServer(t, ed, es, rs)
	auth := newBAAuth(t, srv, nil, 100*time.Millisecond)
	sub := uniqueSub("attack-")
	good := func() jwt.MapClaims { return baClaims(sub, sub+"@example.com") }
	with := func(k string, v any) jwt.MapClaims { c := good(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := good(); delete(c, k); return c }

	valid := signBA(t, ed, good())
	parts := strings.Split(valid, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	payloadSwap := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone-else","email":"x@example.com","iss":"`+baIssuer+`","aud":"`+baAudience+`","iat":1,"exp":9999999999}`)) + "." + parts[2]

	header := func(h map[string]any) string {
		j, _ := json.Marshal(h)
		return base64.RawURLEncoding.EncodeToString(j)
	}
	// alg switched to another asymmetric one, signature left alone.
	algSwapped := header(map[string]any{"alg": "ES256", "kid": ed.kid}) + "." + parts[1] + "." + parts[2]
	// HS256 keyed with the published public key (key confusion).
	hsTok := jwt.NewWithClaims(jwt.SigningMethodHS256, good())
	hsTok.Header["kid"] = ed.kid
	hsConfused, _ := hsTok.SignedString([]byte(ed.public.(ed25519.PublicKey)))
	// alg none.
	noneTok := jwt.NewWithClaims(jwt.SigningMethodNone, good())
	noneTok.Header["kid"] = ed.kid
	none, _ := noneTok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	// ES256 signature presented as RS256 for the EC key's kid.
	rsOnEC := signBA(t, baKey{kid: es.kid, alg: "RS256", signer: rs.signer}, good())
	noKid := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, good())
		s, _ := tok.SignedString(ed.signer)
		return s
	}()

	cases := []struct {
		name, token string
	}{
		{"other audience", signBA(t, ed, with("aud", "https://other.example"))},
		{"other issuer", signBA(t, ed, with("iss", "https://evil.example"))},
		{"expired", signBA(t, ed, with("exp", time.Now().Add(-time.Hour).Unix()))},
		{"no exp", signBA(t, ed, without("exp"))},
		{"no iat", signBA(t, ed, without("iat"))},
		{"iat in the future", signBA(t, ed, with("iat", time.Now().Add(time.Hour).Unix()))},
		{"not yet valid", signBA(t, ed, with("nbf", time.Now().Add(time.Hour).Unix()))},
		{"no sub", signBA(t, ed, without("sub"))},
		{"tampered signature", tampered},
		{"payload swapped", payloadSwap},
		{"alg changed", algSwapped},
		{"HS256 with the public key", hsConfused},
		{"alg none", none},
		{"RSA signature on an EC key", rsOnEC},
		{"unknown kid", signBA(t, other, good())},
		{"no kid", noKid},
		{"garbage", "not.a.jwt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := authenticate(ctx, auth, c.token)
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("want ErrUnauthorized, got %v", err)
			}
		})
	}
	var n int64
	db.Model(&models.User{}).Where("auth_issuer = ? AND auth_subject IN ?", baIssuer, []string{sub, "someone-else"}).Count(&n)
	if n != 0 {
		t.Fatalf("refused tokens provisioned %d user(s)", n)
	}
	if _, err := authenticate(ctx, auth, valid); err != nil {
		t.Fatalf("the untampered token: %v", err)
	}
}

// TestBetterAuthKeyRotationAndOutage: a key added to the set is picked up
// on its first token; while the set cannot be fetched, known keys keep
// working and unknown ones are refused at once; a flood of unknown key ids
// causes at most one fetch per MinRefresh.
func TestBetterAuthKeyRotationAndOutage(t *testing.T) {
	ctx := context.Background()
	k1, k2 := newBAKey(t, "EdDSA"), newBAKey(t, "EdDSA")
	srv := newBAServer(t, k1)
	auth := newBAAuth(t, srv, nil, 300*time.Millisecond)
	sub := uniqueSub("rot-")
	if _, err := authenticate(ctx, auth, signBA(t, k1, baClaims(sub, sub+"@example.com"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond)
	srv.setKeys(k1, k2) // rotation: new key, old one still published
	if _, err := authenticate(ctx, auth, signBA(t, k2, baClaims(sub, sub+"@example.com"))); err != nil {
		t.Fatalf("token with the new key: %v", err)
	}

	// The auth server goes down.
	srv.down.Store(true)
	before := srv.fetches.Load()
	for i := range 200 {
		start := time.Now()
		_, err := authenticate(ctx, auth, signBA(t, newBAKey(t, "EdDSA"), baClaims(sub, sub+"@example.com")))
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("unknown key %d while down: %v", i, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("unknown key %d took %s", i, d)
		}
	}
	if n := srv.fetches.Load() - before; n > 1 {
		t.Errorf("200 unknown key ids within %s caused %d fetches, want at most 1", 300*time.Millisecond, n)
	}
	for _, k := range []baKey{k1, k2} {
		if _, err := authenticate(ctx, auth, signBA(t, k, baClaims(sub, sub+"@example.com"))); err != nil {
			t.Errorf("cached key %s while the server is down: %v", k.kid, err)
		}
	}

	// Back up, and k1 is withdrawn: after the next refresh it is refused.
	srv.down.Store(false)
	srv.setKeys(k2)
	if _, err := auth.betterAuth.keys.refreshNow(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(ctx, auth, signBA(t, k1, baClaims(sub, sub+"@example.com"))); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("withdrawn key: want ErrUnauthorized, got %v", err)
	}
}

// TestBetterAuthProvisioningRace: many first requests for one subject at
// once create exactly one user, and all of them get it.
func TestBetterAuthProvisioningRace(t *testing.T) {
	ctx := context.Background()
	k := newBAKey(t, "EdDSA")
	auth := newBAAuth(t, newBAServer(t, k), nil, time.Second)
	sub := uniqueSub("race-")
	tok := signBA(t, k, baClaims(sub, sub+"@example.com"))
	const n = 16
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			u, err := authenticate(ctx, auth, tok)
			ids[i], errs[i] = u.ID, err
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: user %d, err %v; request 0: user %d", i, ids[i], errs[i], ids[0])
		}
	}
	var rows int64
	db.Model(&models.User{}).Where("auth_subject = ?", sub).Count(&rows)
	if rows != 1 {
		t.Fatalf("%d concurrent first requests made %d rows, want 1", n, rows)
	}
}

// TestBetterAuthAccountRules: an email that a local account holds gives
// the Better Auth user an account of its own (no merge, and no 409 that
// would lock the user out); a deactivated Better Auth user is refused and
// not recreated; such a user cannot log in here with a password, nor
// change email or password here; the user cache serves later requests.
func TestBetterAuthAccountRules(t *testing.T) {
	ctx := context.Background()
	k := newBAKey(t, "EdDSA")
	cache := NewUserCache(time.Minute, nil)
	auth := newBAAuth(t, newBAServer(t, k), cache, time.Second)
	users := NewUsers(db, auth)

	local := newUserWithPassword(t, "correct horse battery")
	squatted, err := authenticate(ctx, auth, signBA(t, k, baClaims(uniqueSub("squat-"), strings.ToUpper(local.Email))))
	if err != nil || squatted.ID == local.ID || squatted.Email != local.Email || squatted.HashedPassword != nil {
		t.Fatalf("token with a local account's email: %+v, %v; want an account of its own with that email and no password", squatted, err)
	}
	var still models.User
	db.First(&still, local.ID)
	if still.AuthSubject != nil {
		t.Fatalf("the local account was linked: %+v", still)
	}
	if _, err := auth.Login(ctx, local.Email, "correct horse battery", "198.51.100.7"); err != nil {
		t.Fatalf("the local account's login by email, beside a Better Auth account with that email: %v", err)
	}

	sub := uniqueSub("rules-")
	tok := signBA(t, k, baClaims(sub, sub+"@example.com"))
	u, err := authenticate(ctx, auth, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Login(ctx, u.Email, "anything at all", "198.51.100.7"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("password login of a Better Auth user: want ErrUnauthorized, got %v", err)
	}
	_, err = users.Update(ctx, tokenCaller(ctx, t, auth, tok), UpdateUserInput{Email: Some("new-" + u.Email), CurrentPassword: Some("whatever1")}, "198.51.100.7")
	var invalid *ValidationError
	if !errors.As(err, &invalid) || invalid.Fields[0].Field != "email" {
		t.Errorf("email change of a Better Auth user: want a ValidationError on email, got %v", err)
	}
	renamed, err := users.Update(ctx, tokenCaller(ctx, t, auth, tok), UpdateUserInput{Username: Some("renamed_" + sub[len(sub)-8:])}, "198.51.100.7")
	if err != nil {
		t.Fatalf("username change: %v", err)
	}

	// Cached: naming a todo request's caller costs no query; the copy names
	// the account for the request's statements to check. The account
	// routes read the row, so a change behind the cache's back is seen
	// there.
	if _, err := authenticate(ctx, auth, tok); err != nil {
		t.Fatal(err)
	}
	if c, err := auth.Caller(ctx, tok); err != nil || c.ID != u.ID {
		t.Fatalf("Caller from the cache: %+v, %v; want the caller of user %d", c, err, u.ID)
	}
	db.Model(&models.User{}).Where("id = ?", u.ID).Update("username", "renamed_behind")
	if got, err := authenticate(ctx, auth, tok); err != nil || got.Username != "renamed_behind" {
		t.Fatalf("account route: %q, %v; want the row as it is now (renamed_behind), not %q", got.Username, err, renamed.Username)
	}

	if err := users.Deactivate(ctx, tokenCaller(ctx, t, auth, tok)); err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(ctx, auth, tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("deactivated Better Auth user: want ErrUnauthorized, got %v", err)
	}
	var rows int64
	db.Model(&models.User{}).Where("auth_subject = ?", sub).Count(&rows)
	if rows != 1 {
		t.Fatalf("deactivated user recreated: %d rows", rows)
	}
}

// TestOwnTokensBesideBetterAuth: with Better Auth on, this service's own
// tokens work as before.
func TestOwnTokensBesideBetterAuth(t *testing.T) {
	ctx := context.Background()
	auth := newBAAuth(t, newBAServer(t, newBAKey(t, "EdDSA")), nil, time.Second)
	u := newUserWithPassword(t, "correct horse battery")
	tok, err := auth.Login(ctx, u.Username, "correct horse battery", "198.51.100.8")
	if err != nil {
		t.Fatal(err)
	}
	if alg := tokenAlgorithm(tok.AccessToken); alg != "HS256" {
		t.Fatalf("our token's header names %q, not HS256: %s", alg, tok.AccessToken)
	}
	got, err := authenticate(ctx, auth, tok.AccessToken)
	if err != nil || got.ID != u.ID {
		t.Fatalf("own token: user %d, %v; want %d", got.ID, err, u.ID)
	}
}

// TestBetterAuthBannedAndVerification: a token whose claims say the user
// is banned (Better Auth's admin plugin, Neon Auth) is refused and
// provisions nothing; emailVerified false is accepted like true (the
// account is the subject's, its email links and blocks nothing).
func TestBetterAuthBannedAndVerification(t *testing.T) {
	ctx := context.Background()
	k := newBAKey(t, "EdDSA")
	auth := newBAAuth(t, newBAServer(t, k), nil, time.Second)
	claims := func(sub string, extra map[string]any) jwt.MapClaims {
		c := baClaims(sub, sub+"@example.com")
		for key, v := range extra {
			c[key] = v
		}
		return c
	}
	banned := uniqueSub("banned-")
	if _, err := authenticate(ctx, auth, signBA(t, k, claims(banned, map[string]any{"banned": true}))); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("banned: true: %v, want ErrUnauthorized", err)
	}
	var n int64
	db.Model(&models.User{}).Where("auth_subject = ?", banned).Count(&n)
	if n != 0 {
		t.Errorf("a banned user was provisioned")
	}
	for _, extra := range []map[string]any{
		{"banned": false},
		{"banned": nil},
		{"emailVerified": false},
		{"emailVerified": true},
	} {
		sub := uniqueSub("ok-")
		if _, err := authenticate(ctx, auth, signBA(t, k, claims(sub, extra))); err != nil {
			t.Errorf("claims %v: %v, want the user", extra, err)
		}
	}
	// Banned later: the same subject's next token is refused.
	sub := uniqueSub("later-")
	if _, err := authenticate(ctx, auth, signBA(t, k, claims(sub, nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Caller(ctx, signBA(t, k, claims(sub, map[string]any{"banned": true}))); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("a known user's token with banned: true: %v, want ErrUnauthorized", err)
	}
}

// TestBetterAuthAlgorithmsHeldTo: where only some algorithms are accepted
// (Neon Auth: EdDSA), a token signed with another published key is
// refused.
func TestBetterAuthAlgorithmsHeldTo(t *testing.T) {
	ctx := context.Background()
	ed, es := newBAKey(t, "EdDSA"), newBAKey(t, "ES256")
	srv := newBAServer(t, ed, es)
	auth := newTestAuth(t, AuthOptions{BetterAuth: &BetterAuthOptions{
		JWKSURL: srv.URL, Issuer: baIssuer, Audience: baAudience, Algorithms: []string{"EdDSA"},
	}})
	sub := uniqueSub("alg-")
	if _, err := auth.Caller(ctx, signBA(t, es, baClaims(sub, sub+"@example.com"))); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("ES256 token where only EdDSA is accepted: %v, want ErrUnauthorized", err)
	}
	if _, err := auth.Caller(ctx, signBA(t, ed, baClaims(sub, sub+"@example.com"))); err != nil {
		t.Errorf("EdDSA token: %v", err)
	}
	if _, err := NewAuth(db, testAuthOptions(AuthOptions{BetterAuth: &BetterAuthOptions{
		JWKSURL: srv.URL, Issuer: baIssuer, Audience: baAudience, Algorithms: []string{"HS256"},
	}})); err == nil {
		t.Error("HS256 accepted as a Better Auth algorithm")
	}
}

// TestBetterAuthUsernameTaken: the generated username cannot be registered
// (its prefix is reserved), and when an account holds it all the same
// (made before the reservation), the user gets the next variant, not an
// error.
func TestBetterAuthUsernameTaken(t *testing.T) {
	ctx := context.Background()
	k := newBAKey(t, "EdDSA")
	auth := newBAAuth(t, newBAServer(t, k), nil, time.Second)
	sub := uniqueSub("taken-")
	name := externalUsername(baIssuer, sub, 0)
	if _, err := auth.Register(ctx, RegisterInput{Email: Some(sub + "@example.com"), Username: Some(name), Password: Some("correct horse battery")}, "203.0.113.1"); err == nil {
		t.Fatalf("registered the generated username %s", name)
	}
	squatter := newUser(t)
	if err := db.Model(&squatter).Update("username", strings.ToUpper(name)).Error; err != nil {
		t.Fatal(err)
	}
	u, err := authenticate(ctx, auth, signBA(t, k, baClaims(sub, sub+"@example.com")))
	if err != nil {
		t.Fatalf("first token with its username taken: %v", err)
	}
	if want := externalUsername(baIssuer, sub, 1); u.Username != want {
		t.Errorf("username %q, want the variant %q", u.Username, want)
	}
}
