package services

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/models"
)

// Account field limits (see apidocs/openapi.yaml).
const (
	MaxEmailLength    = 255
	MinUsernameLength = 3
	MaxUsernameLength = 50
	MinPasswordBytes  = 8
	MaxPasswordBytes  = 72 // bcrypt ignores what follows
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// tokenLeeway absorbs small clock differences between servers.
const tokenLeeway = 30 * time.Second

// AuthOptions configure the auth service.
type AuthOptions struct {
	Secret     []byte
	TokenTTL   time.Duration
	BcryptCost int
	// Issuer and Audience are the iss and aud claims our tokens carry and
	// must carry.
	Issuer   string
	Audience string
	// Failures bound failed password checks.
	Failures FailureLimits
	// Now is the clock; nil means the wall clock.
	Now func() time.Time
	// Cache keeps authenticated users briefly; nil disables it.
	Cache *UserCache
	// BetterAuth, when set, accepts Better Auth tokens beside ours.
	BetterAuth *BetterAuthOptions
	// Registrations, when set, bounds registrations per client (see
	// NewRegistrationLimiter); counted once a registration is valid, just
	// before its password is hashed.
	Registrations *ClientLimiter
	// HashConcurrency bounds the bcrypt work running at once in this
	// process (hashes and comparisons), so that password work never takes
	// every core from the requests that need none.
	HashConcurrency int
}

// Auth registers users, checks passwords, and issues and verifies tokens.
type Auth struct {
	db     *gorm.DB
	opts   AuthOptions
	parser *jwt.Parser
	guard  *failureGuard
	// dummyHash is compared against when the user does not exist, so that
	// an unknown user and a wrong password take the same time. It is
	// computed in the background from NewAuth on: at cost 12 that takes
	// about a quarter of a second, which start-up (a serverless instance
	// woken by a request) should not wait for; a login that needs it
	// before it is ready waits for it.
	dummyHash func() []byte
	// hashSlots holds a token per bcrypt computation running (see
	// AuthOptions.HashConcurrency and passwordWork).
	hashSlots chan struct{}
	// betterAuth verifies Better Auth tokens; nil when they are not
	// accepted.
	betterAuth *betterAuth
	// verified remembers our tokens whose signature and claims checked
	// out, by their exact text, until they expire: verifying one (HMAC and
	// two JSON decodes) was about a tenth of the CPU of a cached GET.
	// Whether the token's user is active and the token current is checked
	// on every request all the same.
	verified *expirable.LRU[string, Caller]
}

// NewAuth returns the service.
func NewAuth(db *gorm.DB, opts AuthOptions) (*Auth, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var missing []string
	for name, ok := range map[string]bool{
		"Secret":          len(opts.Secret) > 0,
		"TokenTTL":        opts.TokenTTL > 0,
		"BcryptCost":      opts.BcryptCost > 0,
		"Issuer":          opts.Issuer != "",
		"Audience":        opts.Audience != "",
		"Failures":        opts.Failures.PerAccount > 0 && opts.Failures.PerClient >= opts.Failures.PerAccount && opts.Failures.Window > 0,
		"HashConcurrency": opts.HashConcurrency > 0,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("auth options %s: not set (config.Load fills them)", strings.Join(missing, ", "))
	}
	dummy := sync.OnceValue(func() []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("timing-equaliser-password"), opts.BcryptCost)
		if err != nil {
			panic(fmt.Sprintf("bcrypt at a valid cost failed: %v", err)) // only on a broken crypto/rand
		}
		return h
	})
	go dummy()
	var ba *betterAuth
	if opts.BetterAuth != nil {
		var err error
		if ba, err = newBetterAuth(*opts.BetterAuth, opts.Now, opts.Cache != nil); err != nil {
			return nil, err
		}
	}
	return &Auth{
		verified:   expirable.NewLRU[string, Caller](verifiedTokens, nil, verifiedTokenTTL),
		betterAuth: ba,
		db:         db,
		opts:       opts,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(opts.Issuer),
			jwt.WithAudience(opts.Audience),
			jwt.WithLeeway(tokenLeeway),
			jwt.WithTimeFunc(opts.Now),
		),
		guard:     newFailureGuard(db, opts.Failures, opts.Secret),
		dummyHash: dummy,
		hashSlots: make(chan struct{}, opts.HashConcurrency),
	}, nil
}

// RegisterInput is a new account.
type RegisterInput struct {
	Email    Optional[string]
	Username Optional[string]
	Password Optional[string]
}

// Validate lists every invalid field; Register calls it.
func (in RegisterInput) Validate() *ValidationError {
	v := &ValidationError{}
	checkEmail(v, in.Email, true)
	checkUsername(v, in.Username, true)
	checkPassword(v, "password", in.Password, true)
	return v
}

func required[T any](v *ValidationError, field string, o Optional[T], isRequired bool) bool {
	switch {
	case !o.Set && isRequired:
		v.Add(field, "is required")
	case o.Null:
		v.Add(field, "must not be null")
	case o.Set:
		return true
	}
	return false
}

func checkEmail(v *ValidationError, o Optional[string], isRequired bool) {
	if !required(v, "email", o, isRequired) {
		return
	}
	e := strings.TrimSpace(o.Value)
	addr, err := mail.ParseAddress(e)
	switch {
	case len(o.Value) > MaxEmailLength: // as sent: the document bounds the field, surrounding spaces and all
		v.Add("email", "must be at most %d characters", MaxEmailLength)
	case err != nil || addr.Address != e || addr.Name != "" || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], "."):
		v.Add("email", "must be a valid email address like name@example.com")
	}
}

func checkUsername(v *ValidationError, o Optional[string], isRequired bool) {
	if !required(v, "username", o, isRequired) {
		return
	}
	n := len(o.Value)
	switch {
	case n < MinUsernameLength || n > MaxUsernameLength:
		v.Add("username", "must be %d to %d characters", MinUsernameLength, MaxUsernameLength)
	case !usernamePattern.MatchString(o.Value):
		v.Add("username", "may contain only letters, digits, '_', '.' and '-'")
	case len(o.Value) >= len(ExternalUsernamePrefix) && strings.EqualFold(o.Value[:len(ExternalUsernamePrefix)], ExternalUsernamePrefix):
		v.Add("username", "must not start with %q: that prefix is reserved for accounts created from an auth server's tokens", ExternalUsernamePrefix)
	}
}

func checkPassword(v *ValidationError, field string, o Optional[string], isRequired bool) {
	if !required(v, field, o, isRequired) {
		return
	}
	switch n := len(o.Value); {
	case n < MinPasswordBytes:
		v.Add(field, "must be at least %d bytes", MinPasswordBytes)
	case n > MaxPasswordBytes:
		v.Add(field, "must be at most %d bytes", MaxPasswordBytes)
	case strings.IndexByte(o.Value, 0) >= 0:
		v.Add(field, "must not contain NUL characters")
	}
}

// ValidateLogin lists what is wrong with login credentials before any
// account is looked up: both are required, and must be text PostgreSQL
// can compare. username may be an email.
func ValidateLogin(username, password string) *ValidationError {
	v := &ValidationError{}
	for _, f := range []struct{ name, value string }{{"username", username}, {"password", password}} {
		switch {
		case f.value == "":
			v.Add(f.name, "is required")
		case strings.IndexByte(f.value, 0) >= 0 || !utf8.ValidString(f.value):
			v.Add(f.name, "must be valid UTF-8 text without NUL characters")
		case f.name == "password" && len(f.value) > MaxPasswordBytes:
			// As register does: bcrypt would ignore the bytes past 72, so
			// a longer password would match more than its owner typed.
			v.Add(f.name, "must be at most %d bytes", MaxPasswordBytes)
		}
	}
	return v
}

// Register creates an active user. client (an address, or /64) is held
// to the registration limit.
func (a *Auth) Register(ctx context.Context, in RegisterInput, client string) (models.User, error) {
	if err := in.Validate().Err(); err != nil {
		return models.User{}, err
	}
	user := models.User{
		Email:    normalizeEmail(in.Email.Value),
		Username: in.Username.Value,
		IsActive: true,
	}
	err := uniqueWrite(ctx, a.db, 0, user.Email, user.Username, func() error {
		if a.opts.Registrations != nil {
			if err := a.opts.Registrations.Take(ctx, client); err != nil {
				return err
			}
		}
		hashed, err := a.hashPassword(ctx, in.Password.Value)
		if err != nil {
			return err
		}
		user.HashedPassword = &hashed
		now := storedTime(a.opts.Now())
		user.CreatedAt, user.UpdatedAt = now, now
		return write(ctx, func() error { return a.db.WithContext(ctx).Create(&user).Error })
	})
	if err != nil {
		return models.User{}, translate(err, "create user")
	}
	return user, nil
}

// normalizeEmail is an email as it is stored and compared: trimmed and
// lower-cased.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// uniqueWrite runs write, which inserts a user or changes one's email or
// username, between two looks at who holds them (see conflicts): before,
// so that a taken name is a *ConflictError without the work of the write
// (a bcrypt hash, for one); and after the write lost a race on a unique
// index, to name the field it was lost on.
func uniqueWrite(ctx context.Context, db *gorm.DB, exceptID int64, email, username string, write func() error) error {
	if email != "" || username != "" {
		if err := conflicts(ctx, db, exceptID, email, username); err != nil {
			return err
		}
	}
	err := write()
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		if cerr := conflicts(ctx, db, exceptID, email, username); cerr != nil {
			return cerr
		}
	}
	return err
}

// conflicts reports which of email and username another user (not
// exceptID) already holds. Empty values are not checked. An email is
// unique among the accounts that sign in with a password here (those
// created from an auth server's token hold theirs as that server says, see
// provision); a username among all accounts, regardless of case.
func conflicts(ctx context.Context, db *gorm.DB, exceptID int64, email, username string) error {
	var taken []struct {
		Email       string
		Username    string
		HasPassword bool
	}
	err := read(ctx, func() error {
		return db.WithContext(ctx).Model(&models.User{}).Select("email", "username", "hashed_password IS NOT NULL AS has_password").
			Where("id <> ? AND ((email = ? AND hashed_password IS NOT NULL) OR lower(username) = lower(?))", exceptID, email, username).
			Limit(2).Find(&taken).Error
	})
	if err != nil {
		return translate(err, "check conflicts")
	}
	c := &ConflictError{}
	var emailTaken, usernameTaken bool
	for _, t := range taken {
		emailTaken = emailTaken || (email != "" && t.HasPassword && t.Email == email)
		usernameTaken = usernameTaken || (username != "" && strings.EqualFold(t.Username, username))
	}
	if emailTaken {
		c.Fields = append(c.Fields, FieldError{Field: "email", Message: "is already registered"})
	}
	if usernameTaken {
		c.Fields = append(c.Fields, FieldError{Field: "username", Message: "is already taken"})
	}
	if len(c.Fields) > 0 {
		return c
	}
	return nil
}

// Token is an issued access token.
type Token struct {
	AccessToken string
	ExpiresIn   int
}

// Login checks a username (or email) and password and issues a token. An
// unknown user, a wrong password and a deactivated user all answer
// ErrUnauthorized after one bcrypt comparison. client identifies the
// caller (its address, or /64 for IPv6) for the failed-attempt limits; a
// client over them gets a *RateLimitError before any comparison, and
// credentials ValidateLogin refuses a *ValidationError before any lookup.
func (a *Auth) Login(ctx context.Context, identifier, password, client string) (Token, error) {
	if err := ValidateLogin(identifier, password).Err(); err != nil {
		return Token{}, err
	}
	identifier = strings.TrimSpace(identifier)
	var user models.User
	q := a.db.WithContext(ctx)
	if strings.Contains(identifier, "@") {
		// Only accounts with a password here can log in; others may share
		// the email (see conflicts).
		q = q.Where("email = ? AND hashed_password IS NOT NULL", normalizeEmail(identifier))
	} else {
		q = q.Where("lower(username) = lower(?)", identifier)
	}
	err := read(ctx, func() error { return q.Session(&gorm.Session{}).Take(&user).Error })
	found := err == nil
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return Token{}, translate(err, "find user")
	}
	// An unknown identifier is limited the same way as an account, so the
	// answers do not tell which accounts exist.
	account := "identifier:" + strings.ToLower(identifier)
	if found {
		account = accountKey(user.ID)
	}
	if err := a.guard.attempt(ctx, account, client); err != nil {
		return Token{}, err
	}
	match, err := a.comparePassword(ctx, user.HashedPassword, password)
	if err != nil {
		return Token{}, err
	}
	if !match || !user.IsActive {
		return Token{}, ErrUnauthorized
	}
	if err := a.guard.succeeded(ctx, account, client); err != nil {
		return Token{}, err
	}
	return a.issue(user)
}

// CheckPassword compares password with the user's, counting the attempt
// against the same limits as Login. A wrong password is a
// *ValidationError on field; too many are a *RateLimitError.
func (a *Auth) CheckPassword(ctx context.Context, userID int64, field, password, client string) error {
	account := accountKey(userID)
	if err := a.guard.attempt(ctx, account, client); err != nil {
		return err
	}
	var hash *string
	err := read(ctx, func() error {
		return a.db.WithContext(ctx).Model(&models.User{}).Select("hashed_password").Where("id = ?", userID).Scan(&hash).Error
	})
	if err != nil {
		return translate(err, "load password")
	}
	match, err := a.comparePassword(ctx, hash, password)
	if err != nil {
		return err
	}
	if !match {
		return &ValidationError{Fields: []FieldError{{Field: field, Message: "is incorrect"}}}
	}
	return a.guard.succeeded(ctx, account, client)
}

// comparePassword reports whether password matches hash. With no hash (an
// unknown user, or an account that signs in only through Better Auth) it
// still runs one bcrypt comparison, so that every refusal takes the same
// time and tells nothing about the account.
func (a *Auth) comparePassword(ctx context.Context, hash *string, password string) (match bool, err error) {
	err = a.passwordWork(ctx, func() {
		if hash == nil || *hash == "" {
			bcrypt.CompareHashAndPassword(a.dummyHash(), []byte(password))
			return
		}
		match = bcrypt.CompareHashAndPassword([]byte(*hash), []byte(password)) == nil
	})
	return match, err
}

// hashPassword is the stored form of a new password.
func (a *Auth) hashPassword(ctx context.Context, password string) (string, error) {
	var hash []byte
	var herr error
	if err := a.passwordWork(ctx, func() { hash, herr = bcrypt.GenerateFromPassword([]byte(password), a.opts.BcryptCost) }); err != nil {
		return "", err
	}
	if herr != nil {
		return "", fmt.Errorf("hash password: %w", herr)
	}
	return string(hash), nil
}

// passwordWork runs one bcrypt computation when a slot is free, waiting
// for one at most hashQueueWait: a flood of logins or registrations
// (about a quarter of a second of CPU each at cost 12) queues briefly and
// is then refused with ErrPasswordWorkBusy (503), instead of taking every
// core from the requests that need no password.
func (a *Auth) passwordWork(ctx context.Context, fn func()) error {
	t := time.NewTimer(hashQueueWait)
	defer t.Stop()
	select {
	case a.hashSlots <- struct{}{}:
	case <-t.C:
		return ErrPasswordWorkBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-a.hashSlots }()
	fn()
	return nil
}

// hashQueueWait is how long a password check waits for a bcrypt slot.
const hashQueueWait = 2 * time.Second

// SweepFailures deletes failed-attempt counters whose window has passed.
func (a *Auth) SweepFailures(ctx context.Context) (int64, error) { return a.guard.sweep(ctx) }

func accountKey(userID int64) string { return "user:" + strconv.FormatInt(userID, 10) }

// claims are our tokens' claims: the registered ones and the user's
// credential version at issue time.
type claims struct {
	jwt.RegisteredClaims
	Version *int32 `json:"ver,omitempty"`
}

func (a *Auth) issue(user models.User) (Token, error) {
	now := a.opts.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			// jti makes every token unique, also two issued to one user in
			// the same second (two devices signing in): logging out one
			// (see Logout) must not end the other.
			ID:        rand.Text(),
			Subject:   strconv.FormatInt(user.ID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(a.opts.TokenTTL)),
			Issuer:    a.opts.Issuer,
			Audience:  jwt.ClaimStrings{a.opts.Audience},
		},
		Version: &user.TokenVersion,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.opts.Secret)
	if err != nil {
		return Token{}, fmt.Errorf("sign token: %w", err)
	}
	return Token{AccessToken: signed, ExpiresIn: int(a.opts.TokenTTL / time.Second)}, nil
}

// Caller verifies a bearer token and names the account it acts for. The
// token's family is told once, by the algorithm its header names: HS256
// is ours (see ownCaller: no query), any other is Better Auth's where its
// tokens are accepted (see betterAuthCaller). Whether the account is still
// active, the token current and not logged out is checked by the
// statements the request runs (see Caller). A token that fails
// verification is ErrUnauthorized; a Better Auth token whose keys could
// never be fetched is ErrKeysUnavailable.
func (a *Auth) Caller(ctx context.Context, token string) (Caller, error) {
	if a.betterAuth != nil && tokenAlgorithm(token) != jwt.SigningMethodHS256.Alg() {
		return a.betterAuthCaller(ctx, token)
	}
	return a.ownCaller(token)
}

// tokenAlgorithm is the alg its JOSE header names, or "" when the token
// has no header that decodes.
func tokenAlgorithm(token string) string {
	header, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.Alg
}

// Logout ends the caller's token, and only it, on every instance: it is
// recorded in revoked_tokens until it expires, and every statement's
// account check refuses it from then on. A token already ended (or of an
// account no longer active) is ErrUnauthorized, like any request with it.
func (a *Auth) Logout(ctx context.Context, c Caller) error {
	var n int64
	err := write(ctx, func() error {
		res := a.db.WithContext(ctx).Exec("INSERT INTO revoked_tokens (token_id, expires_at) SELECT ?, ? WHERE "+accountCheck+
			" ON CONFLICT (token_id) DO NOTHING", append([]any{c.TokenID, c.Expires.Add(tokenLeeway)}, c.accountArgs()...)...)
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return translate(err, "log out")
	}
	if n == 0 {
		return ErrUnauthorized
	}
	return nil
}

// SweepRevokedTokens forgets logged-out tokens that have expired by
// themselves since.
func (a *Auth) SweepRevokedTokens(ctx context.Context) (int64, error) {
	res := a.db.WithContext(ctx).Exec("DELETE FROM revoked_tokens WHERE expires_at < ?", a.opts.Now())
	return res.RowsAffected, translate(res.Error, "sweep revoked tokens")
}

// ownCaller verifies one of our tokens: the signature (HS256 only), exp
// (required), iat (required), nbf, iss and aud (required, ours); the
// caller is the subject's user id at the credential version the token was
// issued under.
func (a *Auth) ownCaller(token string) (Caller, error) {
	if c, ok := a.verified.Get(token); ok && !a.opts.Now().After(c.Expires.Add(tokenLeeway)) {
		return c, nil
	}
	var c claims
	_, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		return a.opts.Secret, nil
	})
	if err != nil {
		return Caller{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if c.IssuedAt == nil || c.Version == nil {
		return Caller{}, fmt.Errorf("%w: token lacks iat or ver", ErrUnauthorized)
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return Caller{}, fmt.Errorf("%w: bad subject", ErrUnauthorized)
	}
	caller := Caller{ID: id, Version: *c.Version, TokenID: tokenID(token), Expires: c.ExpiresAt.Time}
	a.verified.Add(token, caller)
	return caller, nil
}

// The verified-token memory: bounded in entries (about 2 MB at 10,000
// tokens) and in time, after which a token is verified again.
const (
	verifiedTokens   = 10_000
	verifiedTokenTTL = 10 * time.Minute
)
