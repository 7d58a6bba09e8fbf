package services

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/todo-api/todo-api/models"
)

// BetterAuthOptions configure the acceptance of Better Auth tokens: JWTs
// from a Better Auth server's jwt() plugin, verified against its JWKS.
type BetterAuthOptions struct {
	// JWKSURL is where the public keys are (…/api/auth/jwks).
	JWKSURL string
	// Issuer and Audience must equal the token's iss and one of its aud;
	// both are required.
	Issuer   string
	Audience string
	// Refresh is how often the keys are fetched in the background;
	// MinRefresh the shortest time between two fetches caused by tokens
	// naming a key id not held; FetchTimeout bounds one fetch.
	Refresh      time.Duration
	MinRefresh   time.Duration
	FetchTimeout time.Duration
	// Algorithms are the JWS algorithms accepted; empty means every
	// asymmetric one Better Auth can sign with (Neon Auth signs with EdDSA
	// only, and is held to it).
	Algorithms []string
	// Client fetches the keys; nil means a default client.
	Client *http.Client
	Log    *slog.Logger
}

// asymmetricAlgs are the JWS algorithms Better Auth can sign with (and
// their larger siblings). HS256 is not among them: a Better Auth token is
// never checked with a shared secret, so a public key can never be used
// as an HMAC key.
var asymmetricAlgs = []string{"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// betterAuth verifies Better Auth tokens and finds or creates their users.
type betterAuth struct {
	opts   BetterAuthOptions
	keys   *jwksCache
	parser *jwt.Parser
	// precheck judges a token's claims before its key is looked up, so a
	// token wrong on its face is a 401 even while no key can be fetched.
	precheck *jwt.Validator
	algs     []string
	// subjects maps issuer and subject to a user id. The mapping never
	// changes once made, so caching it is always safe; the user behind
	// it comes from the user cache, which forgets on every change.
	subjects *expirable.LRU[string, int64]
}

// betterAuthClaims are the parts of a Better Auth token used here: the
// registered claims, the user's email, and the admin plugin's banned flag
// (the payload is the session's user; Neon Auth's carries banned). The
// emailVerified claim is not read: the account here is keyed by the
// subject, and its email is never used to find, link or refuse another
// account (see provision), so an unverified one claims nothing.
type betterAuthClaims struct {
	jwt.RegisteredClaims
	Email  string `json:"email"`
	Banned *bool  `json:"banned"`
}

func newBetterAuth(opts BetterAuthOptions, now func() time.Time, cached bool) (*betterAuth, error) {
	if opts.JWKSURL == "" || opts.Issuer == "" || opts.Audience == "" || opts.Refresh <= 0 || opts.MinRefresh <= 0 || opts.FetchTimeout <= 0 {
		return nil, errors.New("better auth: the JWKS URL, issuer, audience, refresh intervals and fetch timeout are all required")
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = asymmetricAlgs
	}
	for _, a := range algs {
		if !slices.Contains(asymmetricAlgs, a) {
			return nil, fmt.Errorf("better auth: algorithm %q is not an asymmetric JWS algorithm", a)
		}
	}
	claimRules := []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(opts.Issuer),
		jwt.WithAudience(opts.Audience),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(now),
	}
	b := &betterAuth{
		opts:     opts,
		algs:     algs,
		keys:     newJWKSCache(opts.JWKSURL, opts.Refresh, opts.MinRefresh, opts.FetchTimeout, opts.Client, opts.Log),
		parser:   jwt.NewParser(append(claimRules, jwt.WithValidMethods(algs))...),
		precheck: jwt.NewValidator(claimRules...),
	}
	if cached {
		b.subjects = expirable.NewLRU[string, int64](100_000, nil, 0)
	}
	return b, nil
}

// claims verifies a Better Auth token and returns its claims: a key id naming a key of the set, an
// algorithm that key allows (taken from the key, never from the token
// alone), the signature, exp (required), iat and nbf (with the usual
// leeway), iss and aud (always), a subject, and that the user is not
// banned. The claims are judged first, without the key: a token wrong on
// its face is ErrUnauthorized even while the key set cannot be fetched,
// and only a token that could be good gets ErrKeysUnavailable then.
func (b *betterAuth) claims(ctx context.Context, token string) (betterAuthClaims, error) {
	var c betterAuthClaims
	unverified, _, err := b.parser.ParseUnverified(token, &c)
	if err != nil {
		return betterAuthClaims{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if alg := unverified.Method.Alg(); !slices.Contains(b.algs, alg) {
		return betterAuthClaims{}, fmt.Errorf("%w: algorithm %s is not accepted", ErrUnauthorized, alg)
	}
	if err := b.precheck.Validate(&c); err != nil {
		return betterAuthClaims{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	c = betterAuthClaims{}
	_, err = b.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token names no key (kid)")
		}
		jwk, err := b.keys.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		alg := t.Method.Alg()
		if a := jwk.Marshal().ALG.String(); a != "" && a != alg {
			return nil, fmt.Errorf("key %q is for %s, the token says %s", kid, a, alg)
		}
		key := jwk.Key() // parsed without private parts: a public key
		if !algFitsKey(alg, key) {
			return nil, fmt.Errorf("algorithm %s does not fit key %q", alg, kid)
		}
		return key, nil
	})
	switch {
	case errors.Is(err, ErrKeysUnavailable):
		return betterAuthClaims{}, err
	case err != nil:
		return betterAuthClaims{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	case c.Subject == "" || len(c.Subject) > 255 || c.IssuedAt == nil:
		return betterAuthClaims{}, fmt.Errorf("%w: token lacks sub or iat", ErrUnauthorized)
	case c.Banned != nil && *c.Banned:
		return betterAuthClaims{}, fmt.Errorf("%w: the auth server has banned this user", ErrUnauthorized)
	}
	return c, nil
}

// algFitsKey tells whether a JWS algorithm can be used with a public key
// of this type and size, for keys whose JWK names no alg.
func algFitsKey(alg string, key any) bool {
	switch k := key.(type) {
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return alg == "ES256"
		case elliptic.P384():
			return alg == "ES384"
		case elliptic.P521():
			return alg == "ES512"
		}
	case *rsa.PublicKey:
		return k.N.BitLen() >= 2048 && (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS"))
	}
	return false
}

// betterAuthCaller verifies a Better Auth token and names its account,
// creating it on the first request that carries the subject. A copy of
// the account remembered from an earlier request (AUTH_CACHE_TTL) may
// answer: the caller's statements check the account themselves (see
// Caller), so a stale copy cannot let a revoked account through.
func (a *Auth) betterAuthCaller(ctx context.Context, token string) (Caller, error) {
	b := a.betterAuth
	c, err := b.claims(ctx, token)
	if err != nil {
		return Caller{}, err
	}
	caller := func(u models.User) Caller {
		return Caller{ID: u.ID, Version: u.TokenVersion, TokenID: tokenID(token), Expires: c.ExpiresAt.Time}
	}
	subjectKey := c.Issuer + "\x00" + c.Subject
	if b.subjects != nil {
		if id, ok := b.subjects.Get(subjectKey); ok {
			if user, ok := a.opts.Cache.get(id); ok {
				return caller(user), nil
			}
		}
	}
	gen := a.opts.Cache.generation()
	user, found, err := a.userBySubject(ctx, c.Issuer, c.Subject)
	if err != nil {
		return Caller{}, translate(err, "load token user")
	}
	if !found {
		if user, err = a.provision(ctx, c); err != nil {
			return Caller{}, err
		}
	}
	if !user.IsActive {
		return Caller{}, ErrUnauthorized
	}
	if b.subjects != nil {
		b.subjects.Add(subjectKey, user.ID)
	}
	a.opts.Cache.put(user, gen)
	return caller(user), nil
}

// provision creates the user of a Better Auth subject seen for the first
// time. Two first requests at once create one row: the insert does nothing
// on a subject that exists, and the row is then read back.
//
// The account is the subject's alone. Its email is stored as the token
// says, and is unique only among accounts that sign in with a password
// here (uq_users_password_email): an email held by such an account, or by
// another auth server's user, neither merges the accounts nor refuses this
// one, so no one can lock an auth server's user out by registering that
// user's email here first. Its username is generated (externalUsername,
// under a prefix no one can register); should it be taken all the same
// (by an account from before the prefix was reserved), the next of a few
// variants is used.
func (a *Auth) provision(ctx context.Context, c betterAuthClaims) (models.User, error) {
	email := normalizeEmail(c.Email)
	v := &ValidationError{}
	checkEmail(v, Optional[string]{Set: true, Value: email}, true)
	if len(v.Fields) > 0 {
		return models.User{}, fmt.Errorf("%w: the token's email cannot be used: %s", ErrUnauthorized, v.Fields[0].Message)
	}
	now := storedTime(a.opts.Now())
	for attempt := range provisionAttempts {
		user := models.User{
			Email:       email,
			Username:    externalUsername(c.Issuer, c.Subject, attempt),
			AuthIssuer:  &c.Issuer,
			AuthSubject: &c.Subject,
			IsActive:    true,
			CreatedAt:   now,
			UpdatedAt:   now,
		}
		err := write(ctx, func() error {
			user.ID = 0
			return a.db.WithContext(ctx).Clauses(
				clause.OnConflict{Columns: []clause.Column{{Name: "auth_issuer"}, {Name: "auth_subject"}}, DoNothing: true},
			).Create(&user).Error
		})
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			// ON CONFLICT covers the subject's index only: a request for
			// the same subject that inserted first can make this insert
			// fail on the username index instead (PostgreSQL checks it
			// before the arbiter sees the other row). Then the row is
			// theirs; otherwise the name is someone else's.
			if found, ok, ferr := a.userBySubject(ctx, c.Issuer, c.Subject); ferr == nil && ok {
				return found, nil
			}
			continue
		}
		if err != nil {
			return models.User{}, translate(err, "create Better Auth user")
		}
		if user.ID != 0 {
			return user, nil
		}
		// Another request created the subject first.
		found, ok, err := a.userBySubject(ctx, c.Issuer, c.Subject)
		switch {
		case err != nil:
			return models.User{}, translate(err, "load Better Auth user")
		case !ok: // created and deleted again since the insert
			return models.User{}, ErrUnauthorized
		}
		return found, nil
	}
	return models.User{}, fmt.Errorf("create Better Auth user: every generated username (%s…) is taken", externalUsername(c.Issuer, c.Subject, 0))
}

// provisionAttempts is how many generated usernames provision tries.
const provisionAttempts = 5

// userBySubject finds the user of a Better Auth issuer and subject
// (through uq_users_auth_subject).
func (a *Auth) userBySubject(ctx context.Context, issuer, subject string) (models.User, bool, error) {
	var users []models.User
	err := read(ctx, func() error {
		users = nil
		return a.db.WithContext(ctx).Where("auth_issuer = ? AND auth_subject = ?", issuer, subject).Limit(1).Find(&users).Error
	})
	if err != nil || len(users) == 0 {
		return models.User{}, false, err
	}
	return users[0], true, nil
}

// ExternalUsernamePrefix starts the username of every account created
// from an auth server's token. No one can register or take a username
// with it (see checkUsername), so no one can take such an account's name
// before it is created.
const ExternalUsernamePrefix = "ba_"

// externalUsername names a provisioned user: usernames are required and
// unique here, and a Better Auth user has none. The name is derived from
// the subject (stable, unique in practice, valid under the username rule);
// attempt > 0 gives the variants tried when it is taken all the same. The
// user may change it with PATCH /users/me.
func externalUsername(issuer, subject string, attempt int) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
	name := ExternalUsernamePrefix + hex.EncodeToString(sum[:12])
	if attempt > 0 {
		name += "_" + strconv.Itoa(attempt)
	}
	return name
}

// RunBetterAuthKeys keeps the Better Auth keys fresh until ctx ends; it
// returns at once where Better Auth tokens are not accepted.
func (a *Auth) RunBetterAuthKeys(ctx context.Context) {
	if a.betterAuth != nil {
		a.betterAuth.keys.run(ctx)
	}
}
