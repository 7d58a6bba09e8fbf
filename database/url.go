package database

import (
	"errors"
	"fmt"
	"net/url"
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

// PooledURL is the inverse of DirectURL, for display: the -pooler form of a
// Neon direct URL, or "" when the host is not a Neon endpoint.
func PooledURL(direct string) string {
	u, err := url.Parse(direct)
	if err != nil || !strings.HasSuffix(u.Hostname(), ".neon.tech") {
		return ""
	}
	first, rest, _ := strings.Cut(u.Hostname(), ".")
	if strings.HasSuffix(first, poolerSuffix) {
		return direct
	}
	host := first + poolerSuffix + "." + rest
	if p := u.Port(); p != "" {
		host += ":" + p
	}
	u.Host = host
	return u.String()
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

// withDatabase returns the URL pointing at another database on the same
// server.
func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a valid URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}
