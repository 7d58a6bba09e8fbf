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
	// subjects maps issuer and subject to a user id. The mapping never
	// changes once made, so caching it is always safe; the user behind
	// it comes from the user cache, which forgets on every change.
	subjects *expirable.LRU[string, int64]
}

// betterAuthClaims are the parts of a Better Auth token used here: the
// registered claims and the user's email (the payload is the session's
// user).
type betterAuthClaims struct {
	jwt.RegisteredClaims
	Email string `json:"email"`
}

func newBetterAuth(opts BetterAuthOptions, now func() time.Time, cached bool) (*betterAuth, error) {
	if opts.JWKSURL == "" || opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("better auth: the JWKS URL, issuer and audience are all required")
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 10 * time.Minute
	}
	if opts.MinRefresh <= 0 {
		opts.MinRefresh = 10 * time.Second
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 5 * time.Second
	}
	b := &betterAuth{
		opts: opts,
		keys: newJWKSCache(opts.JWKSURL, opts.Refresh, opts.MinRefresh, opts.FetchTimeout, opts.Client, opts.Log),
		parser: jwt.NewParser(
			jwt.WithValidMethods(asymmetricAlgs),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(opts.Issuer),
			jwt.WithAudience(opts.Audience),
			jwt.WithLeeway(tokenLeeway),
			jwt.WithTimeFunc(now),
		),
	}
	if cached {
		b.subjects = expirable.NewLRU[string, int64](100_000, nil, 0)
	}
	return b, nil
}

// verify checks a Better Auth token: a key id naming a key of the set, an
// algorithm that key allows (taken from the key, never from the token
// alone), the signature, exp (required), iat and nbf (with the usual
// leeway), iss and aud (always), and a subject.
func (b *betterAuth) verify(ctx context.Context, token string) (betterAuthClaims, error) {
	var c betterAuthClaims
	_, err := b.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
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
	if err != nil {
		return betterAuthClaims{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if c.Subject == "" || len(c.Subject) > 255 || c.IssuedAt == nil {
		return betterAuthClaims{}, fmt.Errorf("%w: token lacks sub or iat", ErrUnauthorized)
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

// authenticateBetterAuth returns the active user of a Better Auth token,
// creating it on the first request that carries the subject. Unless fresh
// is asked for, a copy remembered from an earlier request (AUTH_CACHE_TTL)
// may answer; fresh then says the row was not read now, and the caller
// must check the account in its statements (see Caller).
func (a *Auth) authenticateBetterAuth(ctx context.Context, token string, mustRead bool) (user models.User, fresh bool, err error) {
	b := a.betterAuth
	c, err := b.verify(ctx, token)
	if err != nil {
		return models.User{}, false, err
	}
	subjectKey := c.Issuer + "\x00" + c.Subject
	if b.subjects != nil && !mustRead {
		if id, ok := b.subjects.Get(subjectKey); ok {
			if user, ok := a.opts.Cache.get(id); ok {
				return user, false, nil
			}
		}
	}
	gen := a.opts.Cache.generation()
	user, found, err := a.userBySubject(ctx, c.Issuer, c.Subject)
	if err != nil {
		return models.User{}, false, translate(err, "load token user")
	}
	if !found {
		if user, err = a.provision(ctx, c); err != nil {
			return models.User{}, false, err
		}
	}
	if !user.IsActive {
		return models.User{}, false, ErrUnauthorized
	}
	if b.subjects != nil {
		b.subjects.Add(subjectKey, user.ID)
	}
	a.opts.Cache.put(user, gen)
	return user, true, nil
}

// provision creates the user of a Better Auth subject seen for the first
// time. Two first requests at once create one row: the insert does nothing
// on a subject that exists, and the row is then read back. An email that
// belongs to another account is a conflict, never a merge: the account
// could be someone else's.
func (a *Auth) provision(ctx context.Context, c betterAuthClaims) (models.User, error) {
	email := strings.ToLower(strings.TrimSpace(c.Email))
	v := &ValidationError{}
	checkEmail(v, Optional[string]{Set: true, Value: email}, true)
	if len(v.Fields) > 0 {
		return models.User{}, fmt.Errorf("%w: the token's email cannot be used: %s", ErrUnauthorized, v.Fields[0].Message)
	}
	now := a.opts.Now().UTC().Truncate(time.Microsecond)
	user := models.User{
		Email:       email,
		Username:    externalUsername(c.Issuer, c.Subject),
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
		// ON CONFLICT covers the subject's index only: a request for the
		// same subject that inserted first can make this insert fail on
		// the email or username index instead (PostgreSQL checks them
		// before the arbiter sees the other row). Then the row is theirs.
		if found, ok, ferr := a.userBySubject(ctx, c.Issuer, c.Subject); ferr == nil && ok {
			return found, nil
		}
		if cerr := conflicts(ctx, a.db, 0, email, user.Username); cerr != nil {
			var conflict *ConflictError
			if errors.As(cerr, &conflict) {
				for i := range conflict.Fields {
					if conflict.Fields[i].Field == "email" {
						conflict.Fields[i].Message = "belongs to an account that signs in with a password here; it is not linked to this Better Auth user (see the README on linking accounts)"
					}
				}
			}
			return models.User{}, cerr
		}
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

// externalUsername names a provisioned user: usernames are required and
// unique here, and a Better Auth user has none. The name is derived from
// the subject (stable, unique in practice, valid under the username rule);
// the user may change it with PATCH /users/me.
func externalUsername(issuer, subject string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
	return "ba_" + hex.EncodeToString(sum[:12])
}

// ownTokenHeader is the encoded JOSE header of every token this service
// issues ({"alg":"HS256","typ":"JWT"}): a token that starts with it is one
// of ours, and any other goes to the Better Auth verifier.
const ownTokenHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."

// RunBetterAuthKeys keeps the Better Auth keys fresh until ctx ends; it
// returns at once where Better Auth tokens are not accepted.
func (a *Auth) RunBetterAuthKeys(ctx context.Context) {
	if a.betterAuth != nil {
		a.betterAuth.keys.run(ctx)
	}
}
