package database

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// EmbeddedPort is where the private development server listens: not 5432,
// so that a system PostgreSQL started later does not collide with it.
const EmbeddedPort = 54320

// Embedded is a private PostgreSQL server for development, started from
// the machine's own PostgreSQL binaries so that it works offline.
type Embedded struct {
	URL  string
	pg   *embeddedpostgres.EmbeddedPostgres
	logs *os.File
}

// Answers reports whether something accepts TCP connections at addr.
func Answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// localBinaries finds the newest PostgreSQL installed from distribution
// packages (/usr/lib/postgresql/<major>/bin), and its major version.
func localBinaries() (dir string, version embeddedpostgres.PostgresVersion, ok bool) {
	known := map[string]embeddedpostgres.PostgresVersion{
		"17": embeddedpostgres.V17, "16": embeddedpostgres.V16, "15": embeddedpostgres.V15,
		"14": embeddedpostgres.V14, "13": embeddedpostgres.V13, "12": embeddedpostgres.V12,
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Strings(matches)
	for i := len(matches) - 1; i >= 0; i-- {
		root := filepath.Dir(filepath.Dir(matches[i]))
		if v, found := known[filepath.Base(root)]; found {
			return root, v, true
		}
	}
	return "", "", false
}

// StartEmbedded starts (initialising on first use) a private server with
// its data under dir and its log in dir/postgres.log, and returns its URL.
// PostgreSQL refuses to run as root, so as root it returns an error saying
// what to do instead.
func StartEmbedded(dir string) (*Embedded, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("no PostgreSQL answers on 127.0.0.1:5432, and the built-in development server cannot start because PostgreSQL refuses to run as root.\n" +
			"Do one of these:\n" +
			"  - start the machine's PostgreSQL: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start  (or: systemctl start postgresql)\n" +
			"  - point DATABASE_URL at a running server (a Neon branch works: see README)\n" +
			"  - run `go run . serve` as a regular user, which starts a private server under ./.data/")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, err
	}
	logs, err := os.OpenFile(filepath.Join(abs, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cfg := embeddedpostgres.DefaultConfig().
		Port(EmbeddedPort).
		Database("todo").
		Username("postgres").
		Password("postgres").
		RuntimePath(filepath.Join(abs, "runtime")).
		DataPath(filepath.Join(abs, "pgdata")).
		CachePath(filepath.Join(abs, "cache")).
		StartTimeout(60 * time.Second).
		Logger(logs)
	if bin, version, ok := localBinaries(); ok {
		cfg = cfg.BinariesPath(bin).Version(version)
	}
	pg := embeddedpostgres.NewDatabase(cfg)
	if err := pg.Start(); err != nil {
		logs.Close()
		msg := err.Error()
		if strings.Contains(msg, "fetch") || strings.Contains(msg, "download") || strings.Contains(msg, "dial") {
			msg += "\n(no local PostgreSQL binaries were found under /usr/lib/postgresql; install the postgresql package, or set DATABASE_URL)"
		}
		return nil, fmt.Errorf("start the development PostgreSQL under %s: %s", dir, msg)
	}
	return &Embedded{URL: fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/todo?sslmode=disable", EmbeddedPort), pg: pg, logs: logs}, nil
}

// Stop shuts the server down.
func (e *Embedded) Stop() error {
	defer e.logs.Close()
	return e.pg.Stop()
}
