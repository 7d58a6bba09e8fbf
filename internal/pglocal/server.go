package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Port is where Start's server listens: not 5432, so that a system
// PostgreSQL started later does not collide with it.
const Port = 54320

// noUnixSocket turns PostgreSQL's Unix socket off: Debian's build puts it in
// /var/run/postgresql, where only the postgres account may create the lock
// file, so for any other user the server died right after initdb with
// `could not create lock file "/var/run/postgresql/.s.PGSQL.54320.lock":
// Permission denied`. Everything connects over TCP.
const noUnixSocket = "unix_socket_directories=''"

// Server is serve's private development PostgreSQL.
type Server struct {
	// URL reaches the todo database as the superuser postgres, whose
	// password is postgres.
	URL     string
	cluster Cluster
}

// Start starts (initialising on first use) a private server from the
// newest PostgreSQL under Root, with its data under dir/pgdata and its log
// in dir/postgres.log. As root it runs the server as Account, which then
// owns dir/pgdata.
func Start(ctx context.Context, dir string) (*Server, error) {
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
	s, err := start(ctx, abs, logs)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("start the development PostgreSQL under %s: %w", dir, err)
	}
	return s, nil
}

func start(ctx context.Context, abs string, logs *os.File) (*Server, error) {
	bin, err := Newest()
	if err != nil {
		return nil, fmt.Errorf("%w; install the postgresql package, or set DATABASE_URL", err)
	}
	if err := portFree(); err != nil {
		return nil, err
	}
	u, err := ServerUser()
	if err != nil {
		return nil, fmt.Errorf("%w; install the postgresql package, or set DATABASE_URL", err)
	}
	c := Cluster{Bin: bin, Data: filepath.Join(abs, "pgdata"), User: u, Log: logs}
	got, err := os.ReadFile(filepath.Join(c.Data, "PG_VERSION"))
	fresh := errors.Is(err, fs.ErrNotExist)
	switch {
	case fresh:
		err = initData(c)
	case err != nil:
	case strings.TrimSpace(string(got)) != bin.Major:
		err = fmt.Errorf("%s holds PostgreSQL %s data, and the binaries are %s; remove it to start afresh, or set DATABASE_URL", c.Data, strings.TrimSpace(string(got)), bin.Major)
	default:
		err = reach(u, c.Data)
	}
	if err != nil {
		return nil, err
	}
	if err := c.Start("-p", strconv.Itoa(Port), "-c", noUnixSocket); err != nil {
		return nil, err
	}
	if fresh {
		if err := createTodoDatabase(ctx); err != nil {
			c.Stop("fast")
			return nil, err
		}
	}
	return &Server{URL: fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/todo?sslmode=disable", Port), cluster: c}, nil
}

// Stop shuts the server down (fast: sessions are disconnected) and closes
// its log.
func (s *Server) Stop() error {
	defer s.cluster.Log.Close()
	return s.cluster.Stop("fast")
}

// portFree refuses a start while something holds Port on loopback (say,
// another checkout's serve): that server's data is not this one's. Binding
// asks what the new server's own bind would meet.
func portFree() error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(Port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("port %d is in use: %w", Port, err)
	}
	if err != nil {
		return err
	}
	return l.Close()
}

// initData creates the cluster afresh (clearing what a start that died
// midway left), with the password authentication the URL uses.
func initData(c Cluster) error {
	if err := os.RemoveAll(c.Data); err != nil {
		return err
	}
	if err := os.Mkdir(c.Data, 0o700); err != nil {
		return err
	}
	if err := reach(c.User, c.Data); err != nil {
		return err
	}
	pwfile := c.Data + ".pwfile"
	if err := os.WriteFile(pwfile, []byte("postgres"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := reach(c.User, pwfile); err != nil {
		return err
	}
	return c.Init("-A", "password", "-U", "postgres", "--pwfile="+pwfile)
}

// reach makes path usable by u: u owns it, and may pass through every
// directory above it.
func reach(u User, path string) error {
	if u.Name == "" {
		return nil
	}
	// A tree another user initialised (serve run before without root) is
	// handed over whole.
	if err := u.Own(path); err != nil {
		return err
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
			return fmt.Errorf("the %s account, which runs PostgreSQL for root, cannot enter %s (mode %v); run serve from a directory others may enter, or set DATABASE_URL", u.Name, d, info.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}

// createTodoDatabase creates the todo database on a new cluster.
func createTodoDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres?sslmode=disable", Port))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE todo")
	return err
}
