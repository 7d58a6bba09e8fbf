package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// inDir runs Load with files written to a temporary directory.
func load(t *testing.T, yamlText, dotenv string, vars map[string]string) (Config, error) {
	t.Helper()
	dir := t.TempDir()
	opts := Options{DotEnvFile: filepath.Join(dir, ".env"), LookupEnv: env(vars), ConfigFile: filepath.Join(dir, "config.yaml")}
	if err := os.WriteFile(opts.ConfigFile, []byte(yamlText), 0o600); err != nil {
		t.Fatal(err)
	}
	if dotenv != "" {
		if err := os.WriteFile(opts.DotEnvFile, []byte(dotenv), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return Load(opts)
}

func TestDefaultsMatchShippedConfigYAML(t *testing.T) {
	raw, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var shipped map[string]any
	if err := yaml.Unmarshal(raw, &shipped); err != nil {
		t.Fatal(err)
	}
	for k, want := range defaults {
		got, ok := shipped[k]
		if !ok {
			t.Errorf("config.yaml lacks %s", k)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) && !(fmt.Sprint(got) == "" && want == "") {
			t.Errorf("config.yaml %s = %v, built-in default = %v", k, got, want)
		}
	}
	for k := range shipped {
		if _, ok := defaults[k]; !ok {
			t.Errorf("config.yaml has %s, which is not a known key", k)
		}
	}
}

func TestLoadWithoutAnyFile(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	cfg, err := Load(Options{LookupEnv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != "postgres://postgres@127.0.0.1:5432/todo?sslmode=disable" || cfg.Port != 8080 || cfg.APIV1Prefix != "/api/v1" || cfg.Env != EnvDevelopment {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.DBConnMaxIdleTime != 2*time.Minute || !cfg.AutoMigrate || len(cfg.AllowedOrigins) != 2 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestPrecedence(t *testing.T) {
	yamlText := "port: 8001\nproject_name: from-yaml\napi_v1_prefix: /yaml\n"
	dotenv := "PORT=8002\nPROJECT_NAME=from-dotenv\n"
	tests := []struct {
		name     string
		dotenv   string
		env      map[string]string
		wantPort int
		wantName string
	}{
		{"yaml only", "", nil, 8001, "from-yaml"},
		{".env over yaml", dotenv, nil, 8002, "from-dotenv"},
		{"env over .env", dotenv, map[string]string{"PORT": "8003"}, 8003, "from-dotenv"},
		{"env over yaml", "", map[string]string{"PROJECT_NAME": "from-env"}, 8001, "from-env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, yamlText, tt.dotenv, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Port != tt.wantPort || cfg.ProjectName != tt.wantName {
				t.Errorf("port, name = %d, %q; want %d, %q", cfg.Port, cfg.ProjectName, tt.wantPort, tt.wantName)
			}
			if cfg.APIV1Prefix != "/yaml" {
				t.Errorf("api prefix = %q, want the yaml value", cfg.APIV1Prefix)
			}
		})
	}
}

func TestEnvOnlyKeysAndConversions(t *testing.T) {
	cfg, err := load(t, "", "", map[string]string{
		"DATABASE_URL_UNPOOLED": "postgres://u:p@ep-x-1.neon.tech/db?sslmode=require",
		"ALLOWED_ORIGINS":       " https://a.example.com , https://b.example.com ,",
		"DB_CONN_MAX_LIFETIME":  "300",
		"DB_CONNECT_TIMEOUT":    "15s",
		"DEBUG":                 "true",
		"ENV":                   "Production",
		"BETTER_AUTH_SECRET":    strings.Repeat("s", 40),
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURLUnpooled == "" || !cfg.Debug || cfg.Env != EnvProduction {
		t.Errorf("env-only keys dropped: %+v", cfg)
	}
	if cfg.DBConnMaxLifetime != 300*time.Second || cfg.DBConnectTimeout != 15*time.Second {
		t.Errorf("durations = %v, %v", cfg.DBConnMaxLifetime, cfg.DBConnectTimeout)
	}
	if want := []string{"https://a.example.com", "https://b.example.com"}; fmt.Sprint(cfg.AllowedOrigins) != fmt.Sprint(want) {
		t.Errorf("origins = %q, want %q", cfg.AllowedOrigins, want)
	}
}

func TestValidationErrors(t *testing.T) {
	const secret = "hunter2-very-secret-password"
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"malformed url", map[string]string{"DATABASE_URL": "postgres://u:" + secret + "@host:99999x/db"}, "DATABASE_URL: is not a valid URL"},
		{"wrong scheme", map[string]string{"DATABASE_URL": "mysql://u:" + secret + "@host/db"}, "DATABASE_URL: scheme must be"},
		{"no database", map[string]string{"DATABASE_URL": "postgres://u:" + secret + "@host"}, "DATABASE_URL: has no database name"},
		{"empty url", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL: is empty"},
		{"bad unpooled", map[string]string{"DATABASE_URL_UNPOOLED": "http://x/db"}, "DATABASE_URL_UNPOOLED: scheme"},
		{"short secret", map[string]string{"BETTER_AUTH_SECRET": "short"}, "BETTER_AUTH_SECRET: must be at least 32 characters"},
		{"no secret in production", map[string]string{"ENV": "production"}, "BETTER_AUTH_SECRET: is required when ENV=production"},
		{"published secret in development", map[string]string{"BETTER_AUTH_SECRET": "development-only-secret-change-me-0123456789"}, "BETTER_AUTH_SECRET: is a value once published"},
		{"published secret without ENV", map[string]string{"ENV": "", "BETTER_AUTH_SECRET": "development-only-secret-change-me-0123456789"}, "BETTER_AUTH_SECRET: is a value once published"},
		{"empty issuer", map[string]string{"TOKEN_ISSUER": ""}, "TOKEN_ISSUER: must be a non-empty name"},
		{"padded audience", map[string]string{"TOKEN_AUDIENCE": " api "}, "TOKEN_AUDIENCE: must be a non-empty name"},
		{"zero failure limit", map[string]string{"AUTH_FAILURE_LIMIT": "0"}, "AUTH_FAILURE_LIMIT: must be at least 1"},
		{"client limit under account limit", map[string]string{"AUTH_FAILURE_LIMIT": "10", "AUTH_FAILURE_CLIENT_LIMIT": "5"}, "AUTH_FAILURE_CLIENT_LIMIT: must be at least AUTH_FAILURE_LIMIT"},
		{"tiny failure window", map[string]string{"AUTH_FAILURE_WINDOW": "100ms"}, "AUTH_FAILURE_WINDOW: must be at least 1s"},
		{"bad trusted proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, lb.internal"}, `TRUSTED_PROXIES: "lb.internal" is not an address or CIDR`},
		{"bad metrics addr", map[string]string{"METRICS_ADDR": "9090"}, "METRICS_ADDR: must be host:port"},
		{"metrics on the api port", map[string]string{"METRICS_ADDR": ":8080"}, "METRICS_ADDR: must not be the API's own port"},
		{"negative pool", map[string]string{"DB_MAX_IDLE_CONNS": "-1"}, "DB_MAX_IDLE_CONNS: must not be negative"},
		{"zero open conns", map[string]string{"DB_MAX_OPEN_CONNS": "0"}, "DB_MAX_OPEN_CONNS: must be at least 1"},
		{"idle over open", map[string]string{"DB_MAX_OPEN_CONNS": "2", "DB_MAX_IDLE_CONNS": "5"}, "DB_MAX_IDLE_CONNS: must not exceed"},
		{"negative lifetime", map[string]string{"DB_CONN_MAX_LIFETIME": "-5s"}, "DB_CONN_MAX_LIFETIME: must not be negative"},
		{"negative idle time", map[string]string{"DB_CONN_MAX_IDLE_TIME": "-1"}, "DB_CONN_MAX_IDLE_TIME: must not be negative"},
		{"zero connect timeout", map[string]string{"DB_CONNECT_TIMEOUT": "0"}, "DB_CONNECT_TIMEOUT: must be a positive duration"},
		{"bad duration", map[string]string{"DB_CONNECT_TIMEOUT": "soon"}, `"soon" is not a duration`},
		{"bad port", map[string]string{"PORT": "70000"}, "PORT: must be between 1 and 65535"},
		{"port not a number", map[string]string{"PORT": "eighty"}, "PORT: must be a whole number"},
		{"debug not a bool", map[string]string{"DEBUG": "maybe"}, "DEBUG: must be true or false"},
		{"bad env", map[string]string{"ENV": "staging"}, `ENV: must be "development" or "production"`},
		{"bad prefix", map[string]string{"API_V1_PREFIX": "api/v1/"}, "API_V1_PREFIX: must start with /"},
		{"bad origin", map[string]string{"ALLOWED_ORIGINS": "localhost:3000"}, "ALLOWED_ORIGINS"},
		{"better auth jwks without url", map[string]string{"BETTER_AUTH_JWKS_URL": "https://auth.example.com/api/auth/jwks"}, "BETTER_AUTH_JWKS_URL: is set but BETTER_AUTH_URL is not"},
		{"better auth audience without url", map[string]string{"BETTER_AUTH_AUDIENCE": "todo-api"}, "BETTER_AUTH_AUDIENCE: is set but BETTER_AUTH_URL is not"},
		{"better auth url not a url", map[string]string{"BETTER_AUTH_URL": "auth.example.com"}, "BETTER_AUTH_URL: must be an absolute http(s) URL"},
		{"better auth url with credentials", map[string]string{"BETTER_AUTH_URL": "https://u:p@auth.example.com"}, "BETTER_AUTH_URL: must not carry credentials"},
		{"better auth over http in production", map[string]string{"ENV": "production", "BETTER_AUTH_SECRET": "a-production-secret-of-enough-length-0123", "BETTER_AUTH_URL": "http://auth.example.com"}, "BETTER_AUTH_URL: must use https when ENV=production"},
		{"better auth jwks over http in production", map[string]string{"ENV": "production", "BETTER_AUTH_SECRET": "a-production-secret-of-enough-length-0123", "BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_JWKS_URL": "http://auth.example.com/jwks"}, "BETTER_AUTH_JWKS_URL: must use https"},
		{"better auth padded issuer", map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_ISSUER": " x "}, "BETTER_AUTH_ISSUER: must not have surrounding spaces"},
		{"better auth refresh too short", map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_JWKS_REFRESH": "10ms"}, "BETTER_AUTH_JWKS_REFRESH: must be at least 1s"},
		{"better auth min refresh too short", map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_JWKS_MIN_REFRESH": "1ms"}, "BETTER_AUTH_JWKS_MIN_REFRESH: must be between 100ms"},
		{"neon auth beside better auth", map[string]string{"NEON_AUTH_BASE_URL": "https://ep-x.neonauth.us-east-2.aws.neon.tech/neondb/auth", "BETTER_AUTH_URL": "https://app.example.com"}, "BETTER_AUTH_URL: is set together with NEON_AUTH_BASE_URL"},
		{"neon auth with another issuer", map[string]string{"NEON_AUTH_BASE_URL": "https://ep-x.neonauth.us-east-2.aws.neon.tech/neondb/auth", "BETTER_AUTH_ISSUER": "https://other.example"}, "BETTER_AUTH_ISSUER: is set together with NEON_AUTH_BASE_URL and disagrees"},
		{"neon auth with another jwks url", map[string]string{"NEON_AUTH_BASE_URL": "https://ep-x.neonauth.us-east-2.aws.neon.tech/neondb/auth", "BETTER_AUTH_JWKS_URL": "https://ep-x.neonauth.us-east-2.aws.neon.tech/neondb/auth/jwks"}, "BETTER_AUTH_JWKS_URL: is set together with NEON_AUTH_BASE_URL"},
		{"neon auth not a url", map[string]string{"NEON_AUTH_BASE_URL": "ep-x.neonauth.us-east-2.aws.neon.tech/neondb/auth"}, "NEON_AUTH_BASE_URL: must be an absolute http(s) URL"},
		{"neon auth over http in production", map[string]string{"ENV": "production", "BETTER_AUTH_SECRET": "a-production-secret-of-enough-length-0123", "NEON_AUTH_BASE_URL": "http://ep-x.neonauth.example/neondb/auth"}, "NEON_AUTH_BASE_URL: must use https when ENV=production"},
		{"local auth off without an auth server", map[string]string{"LOCAL_AUTH": "false"}, "LOCAL_AUTH: is false, but neither BETTER_AUTH_URL nor NEON_AUTH_BASE_URL is set"},
		{"local auth not a bool", map[string]string{"LOCAL_AUTH": "sometimes"}, "LOCAL_AUTH: must be true or false"},
		{"weak bcrypt in production", map[string]string{"ENV": "production", "BETTER_AUTH_SECRET": strings.Repeat("k", 40), "BCRYPT_COST": "4"}, "BCRYPT_COST: must be between 10 and 31"},
		{"bcrypt too high", map[string]string{"BCRYPT_COST": "32"}, "BCRYPT_COST"},
		{"list timeout too short", map[string]string{"LIST_TIMEOUT": "10ms"}, "LIST_TIMEOUT: must be 0 (off) or at least 100ms"},
		{"bad rate", map[string]string{"AUTH_RATE_LIMIT": "0"}, "AUTH_RATE_LIMIT"},
		{"bad burst", map[string]string{"AUTH_RATE_BURST": "0"}, "AUTH_RATE_BURST"},
		{"tiny body limit", map[string]string{"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES"},
		{"zero shutdown timeout", map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, "", "", tt.env)
			if err == nil {
				t.Fatalf("Load() accepted %v", tt.env)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the password: %q", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.TrimSpace(line) == "" {
					t.Errorf("blank line in error %q", err)
				}
			}
		})
	}
}

// TestShortRequestTimeoutAlone: lowering REQUEST_TIMEOUT below the
// default LIST_TIMEOUT still starts (the request's deadline stops a
// listing first), and LIST_TIMEOUT=0 turns the limit off.
func TestShortRequestTimeoutAlone(t *testing.T) {
	for _, vars := range []map[string]string{{"REQUEST_TIMEOUT": "1s"}, {"LIST_TIMEOUT": "0"}} {
		if _, err := load(t, "", "", vars); err != nil {
			t.Errorf("%v: %v", vars, err)
		}
	}
}

func TestSeveralErrorsAtOnce(t *testing.T) {
	_, err := load(t, "", "", map[string]string{"PORT": "0", "BETTER_AUTH_SECRET": "x"})
	if err == nil || !strings.Contains(err.Error(), "PORT") || !strings.Contains(err.Error(), "BETTER_AUTH_SECRET") {
		t.Errorf("error = %v, want both keys named", err)
	}
}

func TestExplicitConfigFileMustExist(t *testing.T) {
	_, err := Load(Options{ConfigFile: filepath.Join(t.TempDir(), "missing.yaml"), LookupEnv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("err = %v, want the missing file named", err)
	}
}

func TestMaskURL(t *testing.T) {
	tests := map[string]string{
		"postgres://alice:s3cret@db.example.com:5432/app?sslmode=require": "postgres://alice:xxxxx@db.example.com:5432/app?sslmode=require",
		"postgres://postgres@127.0.0.1:5432/todo":                         "postgres://postgres@127.0.0.1:5432/todo",
		"postgres://h/db?password=s3cret":                                 "postgres://h/db?password=xxxxx",
		"::not a url":                                                     "(unparseable URL hidden)",
	}
	for in, want := range tests {
		if got := MaskURL(in); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoSecretInDevelopmentIsLeftToServe(t *testing.T) {
	cfg, err := load(t, "", "", map[string]string{"ENV": "development"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SigningSecret != "" {
		t.Errorf("secret = %q, want empty (serve generates one)", cfg.SigningSecret)
	}
}

func TestTrustedProxiesList(t *testing.T) {
	cfg, err := load(t, "", "", map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8 , 127.0.0.1,fd00::/8 "})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.0/8", "127.0.0.1", "fd00::/8"}; fmt.Sprint(cfg.TrustedProxies) != fmt.Sprint(want) {
		t.Errorf("trusted proxies = %q, want %q", cfg.TrustedProxies, want)
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "auth-secret")
	first, generated, err := LoadOrCreateSecret(path)
	if err != nil || !generated {
		t.Fatalf("first call: generated = %v, err = %v; want a new secret", generated, err)
	}
	if err := CheckSecret(first); err != nil {
		t.Errorf("generated secret refused: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %v, want 0600", perm)
	}
	again, generated, err := LoadOrCreateSecret(path)
	if err != nil || generated || again != first {
		t.Errorf("second call: generated = %v, err = %v, same = %v; want the kept secret", generated, err, again == first)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateSecret(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable file: err = %v, want a chmod 600 hint", err)
	}
	if err := os.WriteFile(path, []byte("development-only-secret-change-me-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateSecret(path); err == nil || !strings.Contains(err.Error(), "published") {
		t.Errorf("published secret in the file: err = %v, want it refused", err)
	}
}

func TestLoadOrCreateSecretConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth-secret")
	const n = 16
	got := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _, err := LoadOrCreateSecret(path)
			if err != nil {
				t.Error(err)
			}
			got <- s
		}()
	}
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for s := range got {
		seen[s] = true
	}
	if len(seen) != 1 {
		t.Errorf("%d processes starting at once saw %d different secrets, want 1", n, len(seen))
	}
}

// TestBetterAuthDefaults: the JWKS URL, issuer and audience follow
// BETTER_AUTH_URL (without its trailing slash) as Better Auth's own
// defaults do; set ones are kept; loopback http is allowed in production.
func TestBetterAuthDefaults(t *testing.T) {
	cfg, err := load(t, "", "", map[string]string{"BETTER_AUTH_URL": "https://app.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BetterAuthJWKSURL != "https://app.example.com/api/auth/jwks" || cfg.BetterAuthIssuer != "https://app.example.com" || cfg.BetterAuthAudience != "https://app.example.com" {
		t.Errorf("derived: jwks %q issuer %q audience %q", cfg.BetterAuthJWKSURL, cfg.BetterAuthIssuer, cfg.BetterAuthAudience)
	}
	if cfg.BetterAuthJWKSRefresh != 10*time.Minute || cfg.BetterAuthJWKSMinRefresh != 10*time.Second {
		t.Errorf("refresh %s, min refresh %s", cfg.BetterAuthJWKSRefresh, cfg.BetterAuthJWKSMinRefresh)
	}
	cfg, err = load(t, "", "", map[string]string{
		"ENV": "production", "BETTER_AUTH_SECRET": strings.Repeat("k", 40),
		"BETTER_AUTH_URL": "http://127.0.0.1:3000", "BETTER_AUTH_AUDIENCE": "todo-api", "BETTER_AUTH_JWKS_URL": "http://localhost:3000/keys",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BetterAuthJWKSURL != "http://localhost:3000/keys" || cfg.BetterAuthIssuer != "http://127.0.0.1:3000" || cfg.BetterAuthAudience != "todo-api" {
		t.Errorf("kept: jwks %q issuer %q audience %q", cfg.BetterAuthJWKSURL, cfg.BetterAuthIssuer, cfg.BetterAuthAudience)
	}
	cfg, err = load(t, "", "", nil)
	if err != nil || cfg.BetterAuthURL != "" || cfg.BetterAuthJWKSURL != "" || cfg.ExternalAuth() || !cfg.LocalAuth {
		t.Errorf("off by default, local accounts on: %q %q %v %v", cfg.BetterAuthURL, cfg.BetterAuthJWKSURL, cfg.LocalAuth, err)
	}
}

// TestNeonAuthDefaults: NEON_AUTH_BASE_URL alone configures Neon Auth as
// Neon Auth serves it: keys under the base URL's /.well-known/jwks.json,
// issuer and audience its origin; setting the same values by hand is no
// conflict; local accounts can then be turned off.
func TestNeonAuthDefaults(t *testing.T) {
	const base = "https://ep-x-123.neonauth.us-east-2.aws.neon.tech/neondb/auth/"
	cfg, err := load(t, "", "", map[string]string{"NEON_AUTH_BASE_URL": base, "LOCAL_AUTH": "false"})
	if err != nil {
		t.Fatal(err)
	}
	const origin = "https://ep-x-123.neonauth.us-east-2.aws.neon.tech"
	if cfg.BetterAuthJWKSURL != origin+"/neondb/auth/.well-known/jwks.json" || cfg.BetterAuthIssuer != origin || cfg.BetterAuthAudience != origin {
		t.Errorf("derived: jwks %q issuer %q audience %q", cfg.BetterAuthJWKSURL, cfg.BetterAuthIssuer, cfg.BetterAuthAudience)
	}
	if !cfg.ExternalAuth() || cfg.LocalAuth {
		t.Errorf("ExternalAuth %v, LocalAuth %v; want true, false", cfg.ExternalAuth(), cfg.LocalAuth)
	}
	if _, err := load(t, "", "", map[string]string{"NEON_AUTH_BASE_URL": base, "BETTER_AUTH_ISSUER": origin, "BETTER_AUTH_AUDIENCE": origin}); err != nil {
		t.Errorf("the derived values set by hand: %v", err)
	}
}
