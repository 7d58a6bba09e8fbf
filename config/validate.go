package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MinSecretLength is the shortest BETTER_AUTH_SECRET accepted: 32 characters
// give HS256 at least 256 bits of key material when the secret is random.
const MinSecretLength = 32

// Validate reports every problem with the configuration, one line per key,
// each naming the environment variable to fix. Secrets never appear in the
// messages.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	switch c.Env {
	case EnvDevelopment, EnvProduction:
	default:
		bad("ENV", "must be %q or %q, got %q", EnvDevelopment, EnvProduction, c.Env)
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("PORT", "must be between 1 and 65535, got %d", c.Port)
	}
	if !strings.HasPrefix(c.APIV1Prefix, "/") || strings.HasSuffix(c.APIV1Prefix, "/") || strings.ContainsAny(c.APIV1Prefix, " ?#*:") {
		bad("API_V1_PREFIX", "must start with / and not end with / (like /api/v1), got %q", c.APIV1Prefix)
	}
	for _, origin := range c.AllowedOrigins {
		if origin == "*" {
			continue
		}
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("ALLOWED_ORIGINS", "%q is not an origin like https://app.example.com", origin)
		}
	}

	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		bad("DATABASE_URL", "%v", err)
	}
	if c.DatabaseURLUnpooled != "" {
		if err := checkDatabaseURL(c.DatabaseURLUnpooled); err != nil {
			bad("DATABASE_URL_UNPOOLED", "%v", err)
		}
	}
	if c.DBMaxOpenConns < 1 {
		bad("DB_MAX_OPEN_CONNS", "must be at least 1, got %d", c.DBMaxOpenConns)
	}
	if c.DBMaxIdleConns < 0 {
		bad("DB_MAX_IDLE_CONNS", "must not be negative, got %d", c.DBMaxIdleConns)
	} else if c.DBMaxOpenConns >= 1 && c.DBMaxIdleConns > c.DBMaxOpenConns {
		bad("DB_MAX_IDLE_CONNS", "must not exceed DB_MAX_OPEN_CONNS (%d), got %d", c.DBMaxOpenConns, c.DBMaxIdleConns)
	}
	nonNegative := map[string]time.Duration{
		"DB_CONN_MAX_LIFETIME":  c.DBConnMaxLifetime,
		"DB_CONN_MAX_IDLE_TIME": c.DBConnMaxIdleTime,
		"SHUTDOWN_DRAIN_DELAY":  c.ShutdownDrainDelay,
		"AUTH_CACHE_TTL":        c.AuthCacheTTL,
	}
	for _, key := range []string{"DB_CONN_MAX_LIFETIME", "DB_CONN_MAX_IDLE_TIME", "SHUTDOWN_DRAIN_DELAY", "AUTH_CACHE_TTL"} {
		if nonNegative[key] < 0 {
			bad(key, "must not be negative, got %s", nonNegative[key])
		}
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"DB_CONNECT_TIMEOUT", c.DBConnectTimeout},
		{"DB_STARTUP_TIMEOUT", c.DBStartupTimeout},
		{"ACCESS_TOKEN_TTL", c.AccessTokenTTL},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"REQUEST_TIMEOUT", c.RequestTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			bad(p.key, "must be a positive duration like 10s, got %s", p.d)
		}
	}
	switch c.EmbeddedPostgres {
	case "auto", "always", "never":
	default:
		bad("EMBEDDED_POSTGRES", "must be auto, always or never, got %q", c.EmbeddedPostgres)
	}

	switch {
	case c.SigningSecret == "" && c.Env == EnvProduction:
		bad("BETTER_AUTH_SECRET", "is required when ENV=production (generate one with: openssl rand -base64 48)")
	case c.SigningSecret == "":
		// Development: serve generates one and keeps it under ./.data/.
	default:
		if err := CheckSecret(c.SigningSecret); err != nil {
			bad("BETTER_AUTH_SECRET", "%v", err)
		}
	}
	for key, val := range map[string]string{"TOKEN_ISSUER": c.TokenIssuer, "TOKEN_AUDIENCE": c.TokenAudience} {
		if strings.TrimSpace(val) == "" || strings.TrimSpace(val) != val {
			bad(key, "must be a non-empty name without surrounding spaces, got %q", val)
		}
	}
	c.validateBetterAuth(bad)
	if c.IdempotencyKeyTTL < time.Minute {
		bad("IDEMPOTENCY_KEY_TTL", "must be at least 1m (clients retry for minutes), got %s", c.IdempotencyKeyTTL)
	}
	// bcrypt accepts 4..31; below 10 is too weak for real passwords, so it is
	// allowed only outside production (tests lower it for speed).
	minCost := 4
	if c.Env == EnvProduction {
		minCost = 10
	}
	if c.BcryptCost < minCost || c.BcryptCost > 31 {
		bad("BCRYPT_COST", "must be between %d and 31, got %d", minCost, c.BcryptCost)
	}
	if c.BcryptConcurrency < 0 {
		bad("BCRYPT_CONCURRENCY", "must not be negative (0 means half the CPUs), got %d", c.BcryptConcurrency)
	}
	if c.RegisterLimit < 1 {
		bad("REGISTER_LIMIT", "must be at least 1 registration per hour, got %d", c.RegisterLimit)
	}
	if c.AuthRateLimit <= 0 {
		bad("AUTH_RATE_LIMIT", "must be a positive number of requests per second, got %v", c.AuthRateLimit)
	}
	if c.AuthRateBurst < 1 {
		bad("AUTH_RATE_BURST", "must be at least 1, got %d", c.AuthRateBurst)
	}
	if c.AuthFailureLimit < 1 {
		bad("AUTH_FAILURE_LIMIT", "must be at least 1, got %d", c.AuthFailureLimit)
	}
	if c.AuthFailureClientLimit < c.AuthFailureLimit {
		bad("AUTH_FAILURE_CLIENT_LIMIT", "must be at least AUTH_FAILURE_LIMIT (%d), got %d", c.AuthFailureLimit, c.AuthFailureClientLimit)
	}
	if c.AuthFailureWindow < time.Second {
		bad("AUTH_FAILURE_WINDOW", "must be at least 1s, got %s", c.AuthFailureWindow)
	}
	for _, cidr := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			if _, err := netip.ParseAddr(cidr); err != nil {
				bad("TRUSTED_PROXIES", "%q is not an address or CIDR like 10.0.0.0/8", cidr)
			}
		}
	}
	if c.MetricsAddr != "" {
		host, port, err := net.SplitHostPort(c.MetricsAddr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			bad("METRICS_ADDR", "must be host:port like 127.0.0.1:9090, got %q", c.MetricsAddr)
		} else if n == c.Port && (host == "" || host == "0.0.0.0" || host == "::") {
			bad("METRICS_ADDR", "must not be the API's own port %d", c.Port)
		}
	}
	if c.TodoCreateRate <= 0 {
		bad("TODO_CREATE_RATE", "must be a positive number of todos per minute, got %v", c.TodoCreateRate)
	}
	if c.TodoCreateBurst < 1000 {
		bad("TODO_CREATE_BURST", "must be at least 1000 (a full batch), got %d", c.TodoCreateBurst)
	}
	if c.MaxTodosPerUser < 1000 {
		bad("MAX_TODOS_PER_USER", "must be at least 1000 (a full batch), got %d", c.MaxTodosPerUser)
	}
	// 0 turns the limit off; one above REQUEST_TIMEOUT is allowed (the
	// request's deadline then stops a listing first), so that lowering
	// REQUEST_TIMEOUT alone never refuses to start.
	if c.ListTimeout != 0 && c.ListTimeout < 100*time.Millisecond {
		bad("LIST_TIMEOUT", "must be 0 (off) or at least 100ms, got %s", c.ListTimeout)
	}
	if c.ListConcurrency < 1 || c.ListConcurrency > 64 {
		bad("LIST_CONCURRENCY", "must be between 1 and 64, got %d", c.ListConcurrency)
	}
	if c.MaxBodyBytes < 1024 {
		bad("MAX_BODY_BYTES", "must be at least 1024, got %d", c.MaxBodyBytes)
	}
	return errors.Join(errs...)
}

// checkDatabaseURL accepts postgres:// and postgresql:// URLs with a host and
// a database name. Its messages never quote the URL, which may hold a password.
func checkDatabaseURL(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("is empty; set it to a URL like postgres://user:password@host:5432/dbname")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URL (percent-encode special characters in the password); expected postgres://user:password@host:5432/dbname")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("scheme must be postgres:// or postgresql://, got %q", u.Scheme+"://")
	}
	if u.Hostname() == "" {
		return errors.New("has no host; expected postgres://user:password@host:5432/dbname")
	}
	if p := u.Port(); p != "" && !regexp.MustCompile(`^[0-9]{1,5}$`).MatchString(p) {
		return errors.New("has an invalid port")
	}
	if strings.Trim(u.Path, "/") == "" {
		return errors.New("has no database name; expected postgres://user:password@host:5432/dbname")
	}
	return nil
}

// MaskURL returns the URL with its password replaced by "xxxxx", fit for logs.
// Anything unparseable is masked whole.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparseable URL hidden)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// CheckSecret accepts a signing secret of at least MinSecretLength
// characters that was never published as a default.
func CheckSecret(secret string) error {
	if len(secret) < MinSecretLength {
		return fmt.Errorf("must be at least %d characters, got %d (generate one with: openssl rand -base64 48)", MinSecretLength, len(secret))
	}
	for _, p := range publishedSecrets {
		if secret == p {
			return errors.New("is a value once published as a default, with which anyone can sign tokens; set a random one (openssl rand -base64 48)")
		}
	}
	return nil
}

// validateBetterAuth checks the Better Auth and Neon Auth keys. They fail
// closed: a JWKS URL, issuer or audience without BETTER_AUTH_URL or
// NEON_AUTH_BASE_URL is refused rather than ignored (whoever set them meant
// to turn the feature on), so is NEON_AUTH_BASE_URL beside any of them (two
// answers to one question), and production fetches keys only over HTTPS,
// except from the same machine. Turning local accounts off without an auth
// server would leave no way to sign in, and is refused too.
func (c Config) validateBetterAuth(bad func(key, format string, args ...any)) {
	if !c.LocalAuth && !c.ExternalAuth() {
		bad("LOCAL_AUTH", "is false, but neither BETTER_AUTH_URL nor NEON_AUTH_BASE_URL is set: no one could sign in; set one of them, or LOCAL_AUTH=true")
	}
	switch {
	case c.NeonAuthBaseURL != "":
		if err := checkHTTPURL(c.NeonAuthBaseURL, c.Env == EnvProduction); err != nil {
			bad("NEON_AUTH_BASE_URL", "%v", err)
		}
		jwksURL, origin, _ := neonAuthKeys(c.NeonAuthBaseURL)
		for _, kv := range [][3]string{
			{"BETTER_AUTH_URL", c.BetterAuthURL, ""},
			{"BETTER_AUTH_JWKS_URL", c.BetterAuthJWKSURL, jwksURL},
			{"BETTER_AUTH_ISSUER", c.BetterAuthIssuer, origin},
			{"BETTER_AUTH_AUDIENCE", c.BetterAuthAudience, origin},
		} {
			if kv[1] != kv[2] {
				bad(kv[0], "is set together with NEON_AUTH_BASE_URL and disagrees with it (Neon Auth's keys, issuer and audience are derived from that URL alone); unset %s", kv[0])
			}
		}
	case c.BetterAuthURL != "":
		if err := checkHTTPURL(c.BetterAuthURL, c.Env == EnvProduction); err != nil {
			bad("BETTER_AUTH_URL", "%v", err)
		}
	default:
		for key, val := range map[string]string{
			"BETTER_AUTH_JWKS_URL": c.BetterAuthJWKSURL, "BETTER_AUTH_ISSUER": c.BetterAuthIssuer, "BETTER_AUTH_AUDIENCE": c.BetterAuthAudience,
		} {
			if val != "" {
				bad(key, "is set but BETTER_AUTH_URL is not: set BETTER_AUTH_URL to the Better Auth app's base URL (or NEON_AUTH_BASE_URL for Neon Auth) to accept its tokens")
			}
		}
		return
	}
	if err := checkHTTPURL(c.BetterAuthJWKSURL, c.Env == EnvProduction); err != nil {
		bad("BETTER_AUTH_JWKS_URL", "%v", err)
	}
	for key, val := range map[string]string{"BETTER_AUTH_ISSUER": c.BetterAuthIssuer, "BETTER_AUTH_AUDIENCE": c.BetterAuthAudience} {
		if strings.TrimSpace(val) != val {
			bad(key, "must not have surrounding spaces, got %q", val)
		}
	}
	if c.BetterAuthJWKSRefresh < time.Second {
		bad("BETTER_AUTH_JWKS_REFRESH", "must be at least 1s, got %s", c.BetterAuthJWKSRefresh)
	}
	if c.BetterAuthJWKSMinRefresh < 100*time.Millisecond || c.BetterAuthJWKSMinRefresh > c.BetterAuthJWKSRefresh {
		bad("BETTER_AUTH_JWKS_MIN_REFRESH", "must be between 100ms and BETTER_AUTH_JWKS_REFRESH (%s), got %s", c.BetterAuthJWKSRefresh, c.BetterAuthJWKSMinRefresh)
	}
	if c.BetterAuthJWKSFetchTimeout < 100*time.Millisecond || c.BetterAuthJWKSFetchTimeout > time.Minute {
		bad("BETTER_AUTH_JWKS_FETCH_TIMEOUT", "must be between 100ms and 1m, got %s", c.BetterAuthJWKSFetchTimeout)
	}
}

// checkHTTPURL accepts an absolute http or https URL without credentials,
// query or fragment; with httpsOnly, plain http only to a loopback host.
func checkHTTPURL(raw string, httpsOnly bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("must be an absolute http(s) URL like https://app.example.com, got %q", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("must not carry credentials, a query or a fragment, got %q", raw)
	case httpsOnly && u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return fmt.Errorf("must use https when ENV=production (keys fetched over plain http can be replaced on the way), got %q", raw)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
