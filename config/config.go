// Package config loads the service configuration from config.yaml, a .env
// file and the environment, in that order of precedence (later wins).
//
// It is the only package that imports viper. Everything else receives a
// typed Config by value.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// publishedSecrets were once committed as defaults, so anyone can sign
// tokens with them: Validate refuses them in every environment.
var publishedSecrets = []string{"development-only-secret-change-me-0123456789"}

// DefaultDatabaseURL is the local server every development machine is
// assumed to have; when nothing answers there and DATABASE_URL is not
// set, serve starts a private server instead (EMBEDDED_POSTGRES).
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/todo?sslmode=disable"

// Environments accepted by ENV.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Config is the whole service configuration. Field tags name the config key;
// the environment variable is the same name in upper case.
type Config struct {
	Env         string `mapstructure:"env"`
	ProjectName string `mapstructure:"project_name"`
	Port        int    `mapstructure:"port"`
	APIV1Prefix string `mapstructure:"api_v1_prefix"`
	Debug       bool   `mapstructure:"debug"`
	// AllowedOrigins is ALLOWED_ORIGINS split on commas.
	AllowedOrigins []string `mapstructure:"-"`

	DatabaseURL         string `mapstructure:"database_url"`
	DatabaseURLUnpooled string `mapstructure:"database_url_unpooled"`
	AutoMigrate         bool   `mapstructure:"auto_migrate"`
	// EmbeddedPostgres is auto (a private server under ./.data/ when
	// DATABASE_URL is the default and nothing answers there), always or
	// never.
	EmbeddedPostgres string `mapstructure:"embedded_postgres"`

	DBMaxOpenConns    int           `mapstructure:"db_max_open_conns"`
	DBMaxIdleConns    int           `mapstructure:"db_max_idle_conns"`
	DBConnMaxLifetime time.Duration `mapstructure:"db_conn_max_lifetime"`
	DBConnMaxIdleTime time.Duration `mapstructure:"db_conn_max_idle_time"`
	DBConnectTimeout  time.Duration `mapstructure:"db_connect_timeout"`
	DBStartupTimeout  time.Duration `mapstructure:"db_startup_timeout"`
	// DBQueryExecMode is checked where it is used (database.Open).
	DBQueryExecMode string `mapstructure:"db_query_exec_mode"`

	// SigningSecret (BETTER_AUTH_SECRET, the name Better Auth apps use for
	// the same role) signs our own tokens, and every key the service
	// derives (pagination cursors, the HMACs of the rate limit and failure
	// counter rows) is derived from it. Empty in development means a
	// random one generated and kept under ./.data/ (see LoadOrCreateSecret);
	// production refuses to start without one.
	SigningSecret  string        `mapstructure:"better_auth_secret"`
	TokenIssuer    string        `mapstructure:"token_issuer"`
	TokenAudience  string        `mapstructure:"token_audience"`
	AccessTokenTTL time.Duration `mapstructure:"access_token_ttl"`
	// BetterAuthURL turns on Better Auth tokens: the JWTs its jwt() plugin
	// issues, verified against BetterAuthJWKSURL, with BetterAuthIssuer
	// and BetterAuthAudience always checked. Load fills the three from the
	// URL when they are empty, as Better Auth does.
	BetterAuthURL      string `mapstructure:"better_auth_url"`
	BetterAuthJWKSURL  string `mapstructure:"better_auth_jwks_url"`
	BetterAuthIssuer   string `mapstructure:"better_auth_issuer"`
	BetterAuthAudience string `mapstructure:"better_auth_audience"`
	// NeonAuthBaseURL is Neon Auth's auth URL (from the Neon console, with
	// its path, like https://ep-x.neonauth.us-east-2.aws.neon.tech/neondb/auth):
	// the one setting Neon Auth needs. Load derives the JWKS URL
	// (<base>/.well-known/jwks.json), issuer and audience (the URL's
	// origin) from it; the BETTER_AUTH_* URL keys must then be unset.
	NeonAuthBaseURL          string        `mapstructure:"neon_auth_base_url"`
	BetterAuthJWKSRefresh    time.Duration `mapstructure:"better_auth_jwks_refresh"`
	BetterAuthJWKSMinRefresh time.Duration `mapstructure:"better_auth_jwks_min_refresh"`
	// BetterAuthJWKSFetchTimeout bounds one fetch of the key set.
	BetterAuthJWKSFetchTimeout time.Duration `mapstructure:"better_auth_jwks_fetch_timeout"`
	AuthCacheTTL               time.Duration `mapstructure:"auth_cache_ttl"`
	// LocalAuth turns this service's own register and login on (the
	// default). A deployment whose users sign in only through Better Auth
	// or Neon Auth turns it off: both routes then answer 404.
	LocalAuth  bool `mapstructure:"local_auth"`
	BcryptCost int  `mapstructure:"bcrypt_cost"`
	// BcryptConcurrency bounds the bcrypt work running at once in one
	// process; 0 means half the CPUs (at least one), which Load resolves.
	BcryptConcurrency int `mapstructure:"bcrypt_concurrency"`
	// RegisterLimit is how many registrations one client address (or /64)
	// may make per hour, on all instances together.
	RegisterLimit int     `mapstructure:"register_limit"`
	AuthRateLimit float64 `mapstructure:"auth_rate_limit"`
	AuthRateBurst int     `mapstructure:"auth_rate_burst"`
	// AuthFailureLimit is how many failed password checks one client may
	// make against one account within AuthFailureWindow;
	// AuthFailureClientLimit bounds one client's failures across all
	// accounts (password spraying).
	AuthFailureLimit       int           `mapstructure:"auth_failure_limit"`
	AuthFailureClientLimit int           `mapstructure:"auth_failure_client_limit"`
	AuthFailureWindow      time.Duration `mapstructure:"auth_failure_window"`
	// TrustedProxies is TRUSTED_PROXIES split on commas: the CIDRs of the
	// proxies whose X-Forwarded-For names the client. Empty trusts none.
	TrustedProxies []string `mapstructure:"-"`
	// MetricsAddr is a separate listener for /metrics (like
	// 127.0.0.1:9090). In production /metrics is served only there.
	MetricsAddr string `mapstructure:"metrics_addr"`

	// IdempotencyKeyTTL is how long the answer of a create sent with an
	// Idempotency-Key is kept and replayed.
	IdempotencyKeyTTL time.Duration `mapstructure:"idempotency_key_ttl"`

	// TodoCreateRate (per minute) and TodoCreateBurst are each user's
	// budget of creates, in units of a todo or 4 KiB of its text;
	// MaxTodosPerUser caps the todos one user holds.
	TodoCreateRate  float64 `mapstructure:"todo_create_rate"`
	TodoCreateBurst int     `mapstructure:"todo_create_burst"`
	MaxTodosPerUser int     `mapstructure:"max_todos_per_user"`
	// ListTimeout stops a listing or search that runs longer;
	// ListConcurrency bounds how many of one user's run at once, on all
	// instances together.
	ListTimeout     time.Duration `mapstructure:"list_timeout"`
	ListConcurrency int           `mapstructure:"list_concurrency"`

	MaxBodyBytes    int64         `mapstructure:"max_body_bytes"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// ShutdownDrainDelay is how long readiness reports 503 before the
	// listener closes, for load balancers to notice.
	ShutdownDrainDelay time.Duration `mapstructure:"shutdown_drain_delay"`
	RequestTimeout     time.Duration `mapstructure:"request_timeout"`
}

// defaults are the values used when neither config.yaml, .env nor the
// environment sets a key. They equal the shipped config.yaml (a test checks),
// so the binary behaves the same when run outside the repository.
var defaults = map[string]any{
	"env":                            EnvDevelopment,
	"project_name":                   "todo-api",
	"port":                           8080,
	"api_v1_prefix":                  "/api/v1",
	"debug":                          false,
	"allowed_origins":                "http://localhost:3000,http://localhost:5173",
	"database_url":                   DefaultDatabaseURL,
	"database_url_unpooled":          "",
	"auto_migrate":                   true,
	"embedded_postgres":              "auto",
	"db_max_open_conns":              10,
	"db_max_idle_conns":              10,
	"db_conn_max_lifetime":           "30m",
	"db_conn_max_idle_time":          "2m",
	"db_connect_timeout":             "10s",
	"db_startup_timeout":             "60s",
	"db_query_exec_mode":             "auto",
	"better_auth_secret":             "",
	"token_issuer":                   "todo-api",
	"token_audience":                 "todo-api",
	"access_token_ttl":               "1h",
	"better_auth_url":                "",
	"better_auth_jwks_url":           "",
	"better_auth_issuer":             "",
	"better_auth_audience":           "",
	"neon_auth_base_url":             "",
	"better_auth_jwks_refresh":       "10m",
	"better_auth_jwks_min_refresh":   "10s",
	"better_auth_jwks_fetch_timeout": "5s",
	"auth_cache_ttl":                 "1m",
	"local_auth":                     true,
	"bcrypt_cost":                    12,
	"bcrypt_concurrency":             0,
	"register_limit":                 10,
	"auth_rate_limit":                5.0,
	"auth_rate_burst":                20,
	"auth_failure_limit":             5,
	"auth_failure_client_limit":      30,
	"auth_failure_window":            "15m",
	"trusted_proxies":                "",
	"metrics_addr":                   "",
	"max_body_bytes":                 1 << 20,
	"list_timeout":                   "2s",
	"todo_create_rate":               1200.0,
	"todo_create_burst":              1000,
	"max_todos_per_user":             100000,
	"list_concurrency":               2,
	"idempotency_key_ttl":            "24h",
	"shutdown_timeout":               "20s",
	"shutdown_drain_delay":           "1s",
	"request_timeout":                "15s",
}

// Options say where Load looks for files.
type Options struct {
	// ConfigFile is an explicit path (--config). When empty, config.yaml in
	// the working directory is read if it exists.
	ConfigFile string
	// DotEnvFile is read if it exists; empty means ".env".
	DotEnvFile string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Load reads the configuration and validates it.
func Load(opts Options) (Config, error) {
	v := viper.New()
	for k, val := range defaults {
		v.SetDefault(k, val)
	}

	file := opts.ConfigFile
	explicit := file != ""
	if !explicit {
		file = "config.yaml"
	}
	v.SetConfigFile(file)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		if explicit || !isNotExist(err) {
			return Config{}, fmt.Errorf("config file %s: %w", file, err)
		}
	}

	dotenv := opts.DotEnvFile
	if dotenv == "" {
		dotenv = ".env"
	}
	if values, err := readDotEnv(dotenv); err != nil {
		return Config{}, err
	} else if len(values) > 0 {
		if err := v.MergeConfigMap(values); err != nil {
			return Config{}, fmt.Errorf("%s: %w", dotenv, err)
		}
	}

	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for k := range defaults {
		if val, ok := lookup(strings.ToUpper(k)); ok {
			v.Set(k, val)
		}
	}

	var cfg Config
	err := v.Unmarshal(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		secondsOrDurationHook,
	)))
	if err != nil {
		return Config{}, errors.New(describeDecodeError(err))
	}
	cfg.AllowedOrigins = splitList(v.GetString("allowed_origins"))
	cfg.TrustedProxies = splitList(v.GetString("trusted_proxies"))
	cfg.Env = strings.ToLower(strings.TrimSpace(cfg.Env))
	cfg.fillBetterAuthDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	if cfg.BcryptConcurrency == 0 {
		// Password work never takes every core from the requests that
		// need none.
		cfg.BcryptConcurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return cfg, nil
}

// readDotEnv reads KEY=VALUE lines. A missing file is not an error.
func readDotEnv(path string) (map[string]any, error) {
	dv := viper.New()
	dv.SetConfigFile(path)
	dv.SetConfigType("env")
	if err := dv.ReadInConfig(); err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	values := make(map[string]any)
	for _, k := range dv.AllKeys() {
		key := strings.ToLower(k)
		if _, known := defaults[key]; known {
			values[key] = dv.GetString(k)
		}
	}
	return values, nil
}

func isNotExist(err error) bool {
	var notFound viper.ConfigFileNotFoundError
	return errors.As(err, &notFound) || errors.Is(err, os.ErrNotExist)
}

// secondsOrDurationHook lets duration keys be written as Go durations ("5m")
// or as plain seconds ("300"), the unit of the pool_recycle and
// connect_timeout settings many users bring from other stacks.
func secondsOrDurationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) || from.Kind() != reflect.String {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a duration (use 30s, 5m or a number of seconds)", s)
	}
	return d, nil
}

// describeDecodeError turns mapstructure's report into one line per key,
// each naming the environment variable at fault.
func describeDecodeError(err error) string {
	var lines []string
	for _, de := range decodeErrors(err) {
		key := strings.ToUpper(de.Name())
		var parseErr *mapstructure.ParseError
		var typeErr *mapstructure.UnconvertibleTypeError
		switch {
		case errors.As(de, &parseErr):
			lines = append(lines, fmt.Sprintf("%s: must be %s", key, kindOf(parseErr.Expected.Type())))
		case errors.As(de, &typeErr):
			lines = append(lines, fmt.Sprintf("%s: must be %s", key, kindOf(typeErr.Expected.Type())))
		default:
			// A decode hook's own message, like secondsOrDurationHook's.
			lines = append(lines, fmt.Sprintf("%s: %v", key, de.Unwrap()))
		}
	}
	if len(lines) == 0 {
		return err.Error()
	}
	return strings.Join(lines, "\n")
}

// decodeErrors collects the per-key errors in mapstructure's report, in
// order.
//
// It walks the tree itself, where errors.As would stop at the first.
func decodeErrors(err error) []*mapstructure.DecodeError {
	if de, ok := err.(*mapstructure.DecodeError); ok { //nolint:errorlint // one node of the walk

		return []*mapstructure.DecodeError{de}
	}
	switch e := err.(type) { //nolint:errorlint // the walk's step down
	case interface{ Unwrap() []error }:
		var all []*mapstructure.DecodeError
		for _, inner := range e.Unwrap() {
			all = append(all, decodeErrors(inner)...)
		}
		return all
	case interface{ Unwrap() error }:
		if inner := e.Unwrap(); inner != nil {
			return decodeErrors(inner)
		}
	}
	return nil
}

// kindOf names what a value of type t is written as.
func kindOf(t reflect.Type) string {
	if t == reflect.TypeOf(time.Duration(0)) {
		return "a duration like 30s"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "a " + t.String()
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// ExternalAuth tells whether tokens of an auth server (Better Auth or Neon
// Auth) are accepted.
func (c Config) ExternalAuth() bool { return c.BetterAuthURL != "" || c.NeonAuthBaseURL != "" }

// NeonAuthAlgorithm is the one JWS algorithm Neon Auth signs with.
const NeonAuthAlgorithm = "EdDSA"

// neonAuthKeys derives from NEON_AUTH_BASE_URL what Neon Auth uses: its
// keys at <base>/.well-known/jwks.json, and the URL's origin as iss and
// aud; ok is false for a URL without scheme and host.
func neonAuthKeys(base string) (jwksURL, origin string, ok bool) {
	base = strings.TrimRight(base, "/")
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", "", false
	}
	return base + "/.well-known/jwks.json", u.Scheme + "://" + u.Host, true
}

// fillBetterAuthDefaults derives the JWKS URL, issuer and audience where
// they are not set: from NEON_AUTH_BASE_URL as Neon Auth does (see
// neonAuthKeys), or from BETTER_AUTH_URL as Better Auth does (keys at
// /api/auth/jwks, its base URL without a trailing slash in iss and aud).
// Values set by hand are kept; Validate refuses those that disagree with
// NEON_AUTH_BASE_URL.
func (c *Config) fillBetterAuthDefaults() {
	var jwksURL, issuer string
	switch {
	case c.NeonAuthBaseURL != "":
		var ok bool
		if jwksURL, issuer, ok = neonAuthKeys(c.NeonAuthBaseURL); !ok {
			return
		}
	case c.BetterAuthURL != "":
		base := strings.TrimRight(c.BetterAuthURL, "/")
		jwksURL, issuer = base+"/api/auth/jwks", base
	default:
		return
	}
	if c.BetterAuthJWKSURL == "" {
		c.BetterAuthJWKSURL = jwksURL
	}
	if c.BetterAuthIssuer == "" {
		c.BetterAuthIssuer = issuer
	}
	if c.BetterAuthAudience == "" {
		c.BetterAuthAudience = issuer
	}
}
