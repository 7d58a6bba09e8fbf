package pglocal

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// serverAddr is where every private server listens: Port is a constant,
// so the tests cannot pick a free port.
var serverAddr = "127.0.0.1:" + strconv.Itoa(Port)

// sharedLoopback serialises the server tests when they cannot have a
// network of their own (see privateNetwork).
var sharedLoopback sync.Mutex

// answers reports whether something accepts TCP connections at addr, from
// the calling goroutine's network namespace.
func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// privateNetwork gives the calling test a network of its own: its goroutine
// is locked to its OS thread for good (the thread ends with the test), the
// thread moves into a new network namespace, and the namespace's loopback is
// brought up. There 127.0.0.1:Port is the test's alone, clear of
// the e2e tests that start serve's private server on the machine's loopback
// at the same time, and of the other tests here.
//
// The namespace belongs to the thread: what must see it (Start, the
// connections to the server, Stop) has to run on the test's goroutine, not
// in goroutines it starts. Processes started from it (pg_ctl, initdb, the
// server) inherit it.
//
// Only root may create a network namespace. Anyone else shares the
// machine's loopback: the tests here then take turns, and fail when the
// port is already taken.
func privateNetwork(t *testing.T) {
	t.Helper()
	runtime.LockOSThread() // never unlocked: the namespace must not leak to other goroutines
	err := syscall.Unshare(syscall.CLONE_NEWNET)
	if err == nil {
		loopbackUp(t)
		if answers(serverAddr) {
			t.Fatalf("a new network namespace already has %s in use", serverAddr)
		}
		return
	}
	if os.Geteuid() == 0 {
		t.Fatalf("root cannot create a network namespace: %v", err)
	}
	sharedLoopback.Lock()
	t.Cleanup(sharedLoopback.Unlock)
	t.Logf("no private network (%v): using the machine's loopback", err)
	if answers(serverAddr) {
		t.Fatalf("port %d is taken; stop whatever listens there", Port)
	}
}

// ifreq is struct ifreq as SIOCGIFFLAGS and SIOCSIFFLAGS use it.
type ifreq struct {
	name  [syscall.IFNAMSIZ]byte
	flags uint16
	_     [22]byte
}

// loopbackUp sets IFF_UP on lo in the calling thread's network namespace,
// which a new namespace has down.
func loopbackUp(t *testing.T) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	var req ifreq
	copy(req.name[:], "lo")
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&req))); errno != 0 {
		t.Fatalf("SIOCGIFFLAGS lo: %v", errno)
	}
	req.flags |= syscall.IFF_UP
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&req))); errno != 0 {
		t.Fatalf("SIOCSIFFLAGS lo: %v", errno)
	}
}

// workDir returns a new directory that every account may pass through, as
// a developer's checkout is (the account PostgreSQL runs as for root must
// reach the data under it).
func workDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runningServer is a started Server that the test's cleanup stops unless
// the test did.
type runningServer struct {
	*Server
	dir     string
	stopped bool
}

func (s *runningServer) stop(t *testing.T) {
	t.Helper()
	s.stopped = true
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v\n%s", err, readLog(s.dir))
	}
}

func startServer(t *testing.T, dir string) *runningServer {
	t.Helper()
	e, err := Start(context.Background(), dir)
	if err != nil {
		t.Fatalf("Start(%s): %v\npostgres.log:\n%s", dir, err, readLog(dir))
	}
	s := &runningServer{Server: e, dir: dir}
	t.Cleanup(func() {
		if !s.stopped {
			s.Stop()
		}
	})
	return s
}

func readLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
	return string(b)
}

// connect opens a connection on the calling goroutine (so, in its network
// namespace) and closes it when the test ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to the private server: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func ownerUID(t *testing.T, path string) int {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(info.Sys().(*syscall.Stat_t).Uid)
}

// serverUID is the account the machine's PostgreSQL runs as for this
// process: Account for root, else the current user.
func serverUID(t *testing.T) int {
	t.Helper()
	if os.Geteuid() != 0 {
		return os.Geteuid()
	}
	u, err := user.Lookup(Account)
	if err != nil {
		t.Fatalf("root runs the server as %s, which is missing: %v", Account, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

// processUID reads the real uid of a process from /proc.
func processUID(t *testing.T, pid uint32) int {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			uid, err := strconv.Atoi(strings.Fields(rest)[0])
			if err != nil {
				t.Fatal(err)
			}
			return uid
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return -1
}

// TestStart: the first start initialises a cluster (clearing a
// half-made one) whose todo database answers on the URL with password
// authentication, as an unprivileged account; a second server cannot take
// the port; Stop frees it; the next start reuses the data, even when root
// took the files over meanwhile.
func TestStart(t *testing.T) {
	t.Parallel()
	privateNetwork(t)
	bin, err := Newest()
	if err != nil {
		t.Fatalf("%v: the private server needs the postgresql package", err)
	}
	major := bin.Major

	dir := filepath.Join(workDir(t), ".data")
	data := filepath.Join(dir, "pgdata")
	// An earlier initdb that died midway: no PG_VERSION yet.
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "leftover"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, dir)
	if want := "postgres://postgres:postgres@127.0.0.1:" + strconv.Itoa(Port) + "/todo?sslmode=disable"; s.URL != want {
		t.Errorf("URL = %q, want %q", s.URL, want)
	}
	if _, err := os.Stat(filepath.Join(data, "leftover")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the half-made data directory was not started afresh: leftover: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(data, "PG_VERSION")); err != nil || strings.TrimSpace(string(got)) != major {
		t.Errorf("PG_VERSION = %q, %v; want %s, the binaries' major version", got, err, major)
	}
	if _, err := os.Stat(data + ".pwfile"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the password file outlived initdb: %v", err)
	}
	if uid := ownerUID(t, data); uid != serverUID(t) {
		t.Errorf("pgdata belongs to uid %d, want %d, the account the server runs as", uid, serverUID(t))
	}
	if os.Geteuid() == 0 {
		// The account passes through dir, but may not list it.
		if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o711 {
			t.Errorf("%s: %v, %v; want mode 0711", dir, info.Mode().Perm(), err)
		}
	}

	conn := connect(t, s.URL)
	if got := queryString(t, conn, "SELECT current_database()"); got != "todo" {
		t.Errorf("current_database() = %q, want todo", got)
	}
	// This is the server started here, not one elsewhere on the port.
	if got := queryString(t, conn, "SHOW data_directory"); got != data {
		t.Errorf("data_directory = %q, want %q", got, data)
	}
	if got := queryString(t, conn, "SHOW unix_socket_directories"); got != "" {
		t.Errorf("unix_socket_directories = %q, want none", got)
	}
	if uid := processUID(t, conn.PgConn().PID()); uid != serverUID(t) {
		t.Errorf("the server runs as uid %d, want %d (PostgreSQL refuses root)", uid, serverUID(t))
	}
	if _, err := conn.Exec(context.Background(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('first run')"); err != nil {
		t.Fatal(err)
	}
	// initdb -A password: the URL's password is checked.
	wrong := strings.Replace(s.URL, "postgres:postgres@", "postgres:wrong@", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var pgErr *pgconn.PgError
	if c, err := pgx.Connect(ctx, wrong); err == nil {
		c.Close(ctx)
		t.Error("a wrong password was accepted")
	} else if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("wrong password: %v, want SQLSTATE 28P01", err)
	}

	// A second checkout's serve finds the port taken, and changes nothing.
	other := filepath.Join(workDir(t), ".data")
	if e, err := Start(context.Background(), other); err == nil {
		e.Stop()
		t.Error("a second server started on the taken port")
	} else if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "port "+strconv.Itoa(Port)+" is in use") ||
		!strings.Contains(err.Error(), other) {
		t.Errorf("second server: %v, want the taken port and the directory named", err)
	}
	if _, err := os.Stat(filepath.Join(other, "pgdata")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused start initialised a cluster: %v", err)
	}
	if got := queryString(t, conn, "SELECT v FROM kept"); got != "first run" {
		t.Errorf("the running server was disturbed: %q", got)
	}

	// pg_ctl status's exit status tells running, stopped, and no cluster
	// apart.
	c := s.cluster
	if up, err := c.Running(); !up || err != nil {
		t.Errorf("Running() of the started server = %v, %v; want true", up, err)
	}
	conn.Close(context.Background())
	s.stop(t)
	if answers(serverAddr) {
		t.Fatal("the server still answers after Stop")
	}
	if up, err := c.Running(); up || err != nil {
		t.Errorf("Running() after Stop = %v, %v; want false, no error", up, err)
	}
	c.Data = filepath.Join(dir, "missing")
	var exit *exec.ExitError
	if up, err := c.Running(); up || !errors.As(err, &exit) || exit.ExitCode() != 4 {
		t.Errorf("Running() without a data directory = %v, %v; want pg_ctl's exit status 4", up, err)
	}

	if os.Geteuid() == 0 {
		// Root ran serve's data before (say, an older build as root
		// with its own server): the files are handed back whole.
		err := filepath.WalkDir(data, func(p string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 0, 0)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s = startServer(t, dir)
	conn = connect(t, s.URL)
	if got := queryString(t, conn, "SELECT v FROM kept"); got != "first run" {
		t.Errorf("after a restart kept = %q, want the first run's row", got)
	}
	for _, p := range []string{data, filepath.Join(data, "PG_VERSION"), filepath.Join(data, "global")} {
		if uid := ownerUID(t, p); uid != serverUID(t) {
			t.Errorf("after a restart %s belongs to uid %d, want %d", p, uid, serverUID(t))
		}
	}
	conn.Close(context.Background())
	s.stop(t)
	if answers(serverAddr) {
		t.Error("the server still answers after the second Stop")
	}
	if log := readLog(dir); !strings.Contains(log, "database system is ready to accept connections") {
		t.Errorf("postgres.log lacks the server's own log:\n%s", log)
	}
}

// TestStartRefuses: directories the server cannot use are refused
// with the reason, without touching data that is there.
func TestStartRefuses(t *testing.T) {
	t.Parallel()
	bin, err := Newest()
	if err != nil {
		t.Fatalf("%v: the private server needs the postgresql package", err)
	}
	major := bin.Major

	// withData makes dir/.data/pgdata/PG_VERSION hold version; a
	// directory in its place when version is "".
	withData := func(t *testing.T, version string) (dir, data string) {
		t.Helper()
		dir = filepath.Join(workDir(t), ".data")
		data = filepath.Join(dir, "pgdata")
		if err := os.MkdirAll(data, 0o700); err != nil {
			t.Fatal(err)
		}
		pv := filepath.Join(data, "PG_VERSION")
		if version == "" {
			err := os.Mkdir(pv, 0o700)
			if err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(pv, []byte(version+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir, data
	}
	refused := func(t *testing.T, dir string) error {
		t.Helper()
		e, err := Start(context.Background(), dir)
		if err == nil {
			e.Stop()
			t.Fatalf("Start(%s) started a server", dir)
		}
		if !strings.Contains(err.Error(), "start the development PostgreSQL under "+dir) {
			t.Errorf("error does not name the directory: %v", err)
		}
		if answers(serverAddr) {
			t.Errorf("something listens on %s after a refused start", serverAddr)
		}
		return err
	}

	t.Run("under a file", func(t *testing.T) {
		privateNetwork(t)
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		// MkdirAll fails before anything else: nothing to name yet.
		if _, err := Start(context.Background(), filepath.Join(file, ".data")); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("err = %v, want ENOTDIR", err)
		}
	})

	t.Run("log not writable", func(t *testing.T) {
		privateNetwork(t)
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "postgres.log"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := Start(context.Background(), dir); !errors.Is(err, syscall.EISDIR) {
			t.Errorf("err = %v, want EISDIR", err)
		}
	})

	t.Run("another major version", func(t *testing.T) {
		privateNetwork(t)
		dir, data := withData(t, "9.6")
		err := refused(t, dir)
		if want := data + " holds PostgreSQL 9.6 data, and the binaries are " + major + "; remove it"; !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
		if got, _ := os.ReadFile(filepath.Join(data, "PG_VERSION")); string(got) != "9.6\n" {
			t.Errorf("the old cluster was touched: PG_VERSION = %q", got)
		}
	})

	t.Run("PG_VERSION unreadable", func(t *testing.T) {
		privateNetwork(t)
		dir, data := withData(t, "")
		err := refused(t, dir)
		if !errors.Is(err, syscall.EISDIR) {
			t.Errorf("err = %v, want the read failure (EISDIR)", err)
		}
		if info, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil || !info.IsDir() {
			t.Errorf("the data directory was re-initialised: %v", err)
		}
	})

	t.Run("not a cluster", func(t *testing.T) {
		privateNetwork(t)
		// PG_VERSION says the right version, nothing else is there:
		// pg_ctl fails, and the error points at the log.
		dir, data := withData(t, major)
		err := refused(t, dir)
		if !strings.Contains(err.Error(), "pg_ctl start") || !strings.Contains(err.Error(), "see "+filepath.Join(dir, "postgres.log")) {
			t.Errorf("err = %v, want the failed pg_ctl start and the log named", err)
		}
		if readLog(dir) == "" {
			t.Error("pg_ctl's complaint is not in postgres.log")
		}
		if uid := ownerUID(t, data); uid != serverUID(t) {
			t.Errorf("pgdata belongs to uid %d, want %d: the server's account was not given the data", uid, serverUID(t))
		}
	})

	t.Run("closed directory", func(t *testing.T) {
		privateNetwork(t)
		// A checkout inside a directory only its owner may enter.
		closed := filepath.Join(workDir(t), "home")
		if err := os.Mkdir(closed, 0o700); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(closed, "project", ".data")
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() != 0 {
			// The server runs as the user who owns the directories:
			// nothing to hand over, nothing to check.
			u, err := ServerUser()
			if err != nil || u.Name != "" {
				t.Fatalf("ServerUser() = %+v, %v; want the current user", u, err)
			}
			if err := reach(u, filepath.Join(dir, "pgdata")); err != nil {
				t.Errorf("reach as the current user: %v", err)
			}
			return
		}
		err := refused(t, dir)
		want := "the " + Account + " account, which runs PostgreSQL for root, cannot enter " + closed + " (mode -rwx------)"
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "set DATABASE_URL") {
			t.Errorf("err = %v, want %q and the way out", err, want)
		}
	})
}

// TestServerUser: as root, the server's programs run as Account from /,
// with that account's identity in the environment; otherwise as the
// current user, untouched.
func TestServerUser(t *testing.T) {
	u, err := ServerUser()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := u.Command("/bin/sh", "-c", `echo "$(id -u) $(pwd) $HOME $USER"; echo oops >&2`)
	cmd.Stdout, cmd.Stderr = &out, &out
	if os.Geteuid() != 0 {
		if want := (User{UID: os.Geteuid(), GID: os.Getegid()}); u != want {
			t.Errorf("ServerUser() = %+v, want the current user %+v", u, want)
		}
		if cmd.SysProcAttr != nil || cmd.Dir != "" || cmd.Env != nil {
			t.Errorf("Command for the current user changes the process: %+v", cmd)
		}
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		if uid := strings.Fields(out.String())[0]; uid != strconv.Itoa(os.Geteuid()) {
			t.Errorf("ran as uid %s, want %d", uid, os.Geteuid())
		}
		return
	}
	uid := serverUID(t)
	if u.Name != Account || u.UID != uid {
		t.Errorf("ServerUser() = %+v, want %s (uid %d)", u, Account, uid)
	}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(uid) + " / / " + Account + "\noops\n"
	if out.String() != want {
		t.Errorf("command output = %q, want %q (uid, directory, HOME, USER, then stderr)", out.String(), want)
	}
}

// TestReach: the account must be able to pass through every directory
// above the data; the data's own parent is opened to passing (not
// listing); a missing path is an error.
func TestReach(t *testing.T) {
	// The current user standing in as the account: reach checks modes,
	// and the files it hands over stay the current user's.
	u := User{Name: "someone", UID: os.Getuid(), GID: os.Getgid()}
	top := workDir(t)
	data := filepath.Join(top, "a", "b", ".data", "pgdata")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(top, "a"), 0o750); err != nil {
		t.Fatal(err)
	}
	err := reach(u, data)
	if want := "the someone account, which runs PostgreSQL for root, cannot enter " + filepath.Join(top, "a") + " (mode -rwxr-x---)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("reach under a closed directory = %v, want %q", err, want)
	}
	if err := os.Chmod(filepath.Join(top, "a"), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := reach(u, data); err != nil {
		t.Errorf("reach through passable directories: %v", err)
	}
	if info, err := os.Stat(filepath.Dir(data)); err != nil || info.Mode().Perm() != 0o711 {
		t.Errorf(".data after reach: %v, %v; want mode 0711", info.Mode().Perm(), err)
	}
	if err := reach(u, filepath.Join(top, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reach of a missing path = %v, want ErrNotExist", err)
	}
	if err := reach(User{}, filepath.Join(top, "missing")); err != nil {
		t.Errorf("reach for the current user = %v, want nil (nothing to do)", err)
	}
}

// TestNewest: major versions compare as numbers, and directories that are
// not versions, or lack pg_ctl, are passed over.
func TestNewest(t *testing.T) {
	root := t.TempDir()
	for _, major := range []string{"9.6", "10", "17", "current", "18"} {
		bin := filepath.Join(root, major, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if major == "18" {
			continue // a client-only install: no pg_ctl
		}
		if err := os.WriteFile(filepath.Join(bin, "pg_ctl"), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := newest(root); got != "17" || err != nil {
		t.Errorf("newest = %q, %v; want 17", got, err)
	}
	if got, err := newest(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("newest of an empty root = %q, %v; want ErrNotExist", got, err)
	}
	if _, err := Installed("0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Installed(0) = %v, want ErrNotExist", err)
	}
}
