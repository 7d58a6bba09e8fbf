package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
	"github.com/jackc/pgx/v5"
)

// EmbeddedPort is where the private development server listens: not 5432,
// so that a system PostgreSQL started later does not collide with it.
const EmbeddedPort = 54320

// EmbeddedAccount is the OS account the private server runs as when serve
// runs as root, since PostgreSQL refuses root. Debian's postgresql package,
// which provides the binaries used, creates it.
const EmbeddedAccount = "postgres"

// noUnixSocket turns PostgreSQL's Unix socket off: Debian's build puts it in
// /var/run/postgresql, where only the postgres account may create the lock
// file, so for any other user the server died right after initdb with
// `could not create lock file "/var/run/postgresql/.s.PGSQL.54320.lock":
// Permission denied`. Everything connects over TCP.
const noUnixSocket = "unix_socket_directories=''"

const embeddedStartTimeout = 60 * time.Second

// Embedded is a private PostgreSQL server for development, started from
// the machine's own PostgreSQL binaries so that it works offline.
type Embedded struct {
	URL  string
	stop func() error
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
// its data under dir/pgdata and its log in dir/postgres.log, and returns its
// URL. It uses the machine's PostgreSQL binaries, else ones downloaded by
// embedded-postgres. As root it runs the server as EmbeddedAccount, which
// then owns dir/pgdata.
func StartEmbedded(dir string) (*Embedded, error) {
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
	e := &Embedded{URL: fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/todo?sslmode=disable", EmbeddedPort), logs: logs}
	bin, version, local := localBinaries()
	switch {
	case local:
		e.stop, err = startLocal(abs, filepath.Join(bin, "bin"), strings.SplitN(string(version), ".", 2)[0], logs)
	case os.Geteuid() == 0:
		err = errors.New("no PostgreSQL binaries under /usr/lib/postgresql to run as the unprivileged account; install the postgresql package, or set DATABASE_URL")
	default:
		e.stop, err = startDownloaded(abs, logs)
	}
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("start the development PostgreSQL under %s: %w", dir, err)
	}
	return e, nil
}

// startDownloaded runs PostgreSQL binaries that embedded-postgres fetches
// into dir/cache, for machines without a local installation.
func startDownloaded(abs string, logs *os.File) (stop func() error, err error) {
	pg := embeddedpostgres.NewDatabase(embeddedpostgres.DefaultConfig().
		Port(EmbeddedPort).
		Database("todo").
		Username("postgres").
		Password("postgres").
		RuntimePath(filepath.Join(abs, "runtime")).
		DataPath(filepath.Join(abs, "pgdata")).
		CachePath(filepath.Join(abs, "cache")).
		StartParameters(map[string]string{"unix_socket_directories": ""}).
		StartTimeout(embeddedStartTimeout).
		Logger(logs))
	if err := pg.Start(); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "fetch") || strings.Contains(msg, "download") || strings.Contains(msg, "dial") {
			msg += "\n(no local PostgreSQL binaries were found under /usr/lib/postgresql; install the postgresql package, or set DATABASE_URL)"
		}
		return nil, errors.New(msg)
	}
	return pg.Stop, nil
}

// account is who the server processes run as; nil cred means the current
// user.
type account struct {
	name     string
	cred     *syscall.Credential
	uid, gid int
}

// serverAccount is the current user, or EmbeddedAccount when that is root.
func serverAccount() (account, error) {
	if os.Geteuid() != 0 {
		return account{}, nil
	}
	u, err := user.Lookup(EmbeddedAccount)
	if err != nil {
		return account{}, fmt.Errorf("PostgreSQL refuses to run as root and the account %q to run it as is missing (%v); install the postgresql package, or set DATABASE_URL", EmbeddedAccount, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return account{}, fmt.Errorf("account %s has a non-numeric uid/gid %q/%q", EmbeddedAccount, u.Uid, u.Gid)
	}
	return account{name: EmbeddedAccount, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid: uid, gid: gid}, nil
}

// command prepares one of the server's binaries to run as a, with its
// output in logs.
func (a account) command(logs io.Writer, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if a.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: a.cred}
		cmd.Dir = "/" // the caller's directory may be closed to a
		cmd.Env = append(os.Environ(), "HOME=/", "USER="+a.name, "LOGNAME="+a.name)
	}
	return cmd
}

// reach makes the data directory usable by a: it owns path, and may pass
// through every directory above it.
func (a account) reach(path string) error {
	if a.cred == nil {
		return nil
	}
	// A tree another user initialised (serve run before without root)
	// is handed over whole; PostgreSQL checks the owner of every file.
	if info, err := os.Lstat(path); err != nil {
		return err
	} else if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != a.uid {
		err := filepath.WalkDir(path, func(p string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, a.uid, a.gid)
		})
		if err != nil {
			return err
		}
	}
	// .data itself keeps the development secret (0600, root's): the
	// account may pass through it but not list it.
	if err := os.Chmod(filepath.Dir(path), 0o711); err != nil {
		return err
	}
	for d := filepath.Dir(filepath.Dir(path)); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the %s account, which runs PostgreSQL for root, cannot enter %s (mode %v); run serve from a directory others may enter, or set DATABASE_URL", a.name, d, info.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}

// startLocal runs the machine's PostgreSQL from binDir on the data in
// abs/pgdata, initialising it first when it is new, with no Unix socket.
func startLocal(abs, binDir, major string, logs *os.File) (stop func() error, err error) {
	if Answers("127.0.0.1:" + strconv.Itoa(EmbeddedPort)) {
		return nil, fmt.Errorf("process already listening on port %d", EmbeddedPort)
	}
	a, err := serverAccount()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(abs, "pgdata")
	got, err := os.ReadFile(filepath.Join(data, "PG_VERSION"))
	fresh := errors.Is(err, os.ErrNotExist)
	switch {
	case fresh:
		if err := initData(a, binDir, abs, data, logs); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case strings.TrimSpace(string(got)) != major:
		return nil, fmt.Errorf("%s holds PostgreSQL %s data, and the binaries are %s; remove it to start afresh, or set DATABASE_URL", data, strings.TrimSpace(string(got)), major)
	default:
		if err := a.reach(data); err != nil {
			return nil, err
		}
	}
	pgctl := filepath.Join(binDir, "pg_ctl")
	start := a.command(logs, pgctl, "start", "-w", "-t", strconv.Itoa(int(embeddedStartTimeout.Seconds())), "-D", data,
		"-o", fmt.Sprintf("-p %d -c %s", EmbeddedPort, noUnixSocket))
	if err := start.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v (see %s)", start, err, logs.Name())
	}
	stop = func() error {
		return a.command(logs, pgctl, "stop", "-w", "-D", data).Run()
	}
	if fresh {
		if err := createTodoDatabase(); err != nil {
			stop()
			return nil, err
		}
	}
	return stop, nil
}

// initData creates the cluster with the password authentication the URL
// uses.
func initData(a account, binDir, abs, data string, logs *os.File) error {
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	if err := a.reach(data); err != nil {
		return err
	}
	pwfile := data + ".pwfile"
	if err := os.WriteFile(pwfile, []byte("postgres"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := a.reach(pwfile); err != nil {
		return err
	}
	initdb := a.command(logs, filepath.Join(binDir, "initdb"), "-A", "password", "-U", "postgres", "-D", data, "--pwfile="+pwfile)
	if err := initdb.Run(); err != nil {
		return fmt.Errorf("%s: %v (see %s)", initdb, err, logs.Name())
	}
	return nil
}

// createTodoDatabase creates the todo database on a new cluster.
func createTodoDatabase() error {
	ctx, cancel := context.WithTimeout(context.Background(), embeddedStartTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres?sslmode=disable", EmbeddedPort))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE DATABASE todo")
	return err
}

// Stop shuts the server down.
func (e *Embedded) Stop() error {
	defer e.logs.Close()
	return e.stop()
}
