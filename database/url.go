package database

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// poolerSuffix marks Neon's pooled endpoint: ep-x-123 → ep-x-123-pooler.
const poolerSuffix = "-pooler"

// IsPooled reports whether the URL points at a transaction pooler (a Neon
// -pooler host). Such connections cannot keep session state.
func IsPooled(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(u.Hostname(), ".")
	return strings.HasSuffix(first, poolerSuffix)
}

// DirectURL returns the direct (unpooled) URL: unpooled when given, else the
// pooled URL with "-pooler" removed from its endpoint id. Migrations and
// their advisory lock must use it.
func DirectURL(pooled, unpooled string) (string, error) {
	if unpooled != "" {
		if IsPooled(unpooled) {
			return "", errors.New("DATABASE_URL_UNPOOLED points at a -pooler host; use the direct endpoint (without -pooler)")
		}
		return unpooled, nil
	}
	u, err := url.Parse(pooled)
	if err != nil {
		return "", errors.New("DATABASE_URL is not a valid URL")
	}
	host := u.Hostname()
	first, rest, hasRest := strings.Cut(host, ".")
	if !strings.HasSuffix(first, poolerSuffix) {
		return pooled, nil
	}
	direct := strings.TrimSuffix(first, poolerSuffix)
	if hasRest {
		direct += "." + rest
	}
	if p := u.Port(); p != "" {
		u.Host = direct + ":" + p
	} else {
		u.Host = direct
	}
	if u.User != nil {
		// Keep user info as it was written.
		u.User = userinfo(u.User)
	}
	return u.String(), nil
}

func userinfo(u *url.Userinfo) *url.Userinfo {
	if p, ok := u.Password(); ok {
		return url.UserPassword(u.Username(), p)
	}
	return url.User(u.Username())
}

// databaseName returns the database named in the URL path.
func databaseName(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a valid URL")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return "", errors.New("the URL names no database")
	}
	return name, nil
}

// WithDatabase returns the URL pointing at database name on the same
// server, with the same user and parameters.
func WithDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a valid URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// URLs are the two connections the service uses, checked and completed.
type URLs struct {
	// Serve is what requests use: on Neon, the pooled (-pooler) endpoint.
	Serve string
	// Direct is what migrations use: never a transaction pooler, since the
	// migration lock is a session advisory lock.
	Direct string
}

// clientParams are URL query keys that configure the client (pgx) rather
// than becoming startup parameters sent to the server. Everything else in
// the query is sent as a startup parameter, which a transaction pooler such
// as Neon's PgBouncer refuses or cannot honour per session.
var clientParams = map[string]bool{
	"sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true, "sslpassword": true,
	"sslsni": true, "sslnegotiation": true, "channel_binding": true, "connect_timeout": true,
	"target_session_attrs": true, "default_query_exec_mode": true, "statement_cache_capacity": true,
	"description_cache_capacity": true, "min_read_buffer_size": true, "servicefile": true, "service": true,
	// PgBouncer tracks application_name itself, so it is safe through it.
	"application_name": true,
}

// ResolveURLs checks DATABASE_URL and DATABASE_URL_UNPOOLED before anything
// dials, and returns the URL to serve with and the direct URL to migrate
// with:
//
//   - Neon hosts (*.neon.tech) must use TLS: sslmode=require is added when
//     absent, and disable, allow or prefer are refused;
//   - on a pooled host, startup parameters (options, search_path, ...) are
//     refused: a transaction pooler would reject them or apply them to
//     whichever session happens to run the next transaction;
//   - the direct URL is DATABASE_URL_UNPOOLED, or DATABASE_URL with -pooler
//     removed from the endpoint id.
func ResolveURLs(databaseURL, unpooled string) (URLs, error) {
	serve, err := normalize("DATABASE_URL", databaseURL)
	if err != nil {
		return URLs{}, err
	}
	if unpooled != "" {
		if unpooled, err = normalize("DATABASE_URL_UNPOOLED", unpooled); err != nil {
			return URLs{}, err
		}
	}
	direct, err := DirectURL(serve, unpooled)
	if err != nil {
		return URLs{}, err
	}
	return URLs{Serve: serve, Direct: direct}, nil
}

func normalize(key, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%s is not a valid postgres:// URL", key)
	}
	q := u.Query()
	if strings.HasSuffix(strings.ToLower(u.Hostname()), ".neon.tech") {
		switch mode := q.Get("sslmode"); mode {
		case "":
			q.Set("sslmode", "require")
		case "disable", "allow", "prefer":
			return "", fmt.Errorf("%s: Neon accepts only TLS connections; sslmode=%s is refused (use require, verify-ca or verify-full)", key, mode)
		}
	}
	if IsPooled(raw) {
		var refused []string
		for k := range q {
			if !clientParams[k] {
				refused = append(refused, k)
			}
		}
		if len(refused) > 0 {
			sort.Strings(refused)
			return "", fmt.Errorf("%s: %s cannot be set on a pooled (-pooler) connection: PgBouncer in transaction mode refuses startup parameters; set them in SQL per transaction, or use the direct URL", key, strings.Join(refused, ", "))
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
