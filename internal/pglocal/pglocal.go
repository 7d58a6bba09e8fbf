// Package pglocal runs this machine's PostgreSQL programs: it finds them,
// runs them as an account PostgreSQL accepts, and initialises, starts and
// stops clusters with them. serve's private development server (Start) and
// the test harness (internal/pgharness) are both built on it.
//
// PostgreSQL refuses to run as root. When this process is root, the
// programs run as Account, which then owns the files they use; otherwise
// they run as the current user.
package pglocal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Root is where Debian's postgresql-<major> packages install each major
// version's programs, as Root/<major>/bin.
const Root = "/usr/lib/postgresql"

// Account is the OS account PostgreSQL's programs run as when this process
// is root. Debian's postgresql package creates it.
const Account = "postgres"

// Binaries are one major version's programs.
type Binaries struct {
	Dir   string // holds initdb, pg_ctl and postgres
	Major string // as a data directory's PG_VERSION spells it: "15"
}

// Installed returns the binaries of PostgreSQL major, or the error (an
// fs.ErrNotExist naming the path) for the first program missing.
func Installed(major string) (Binaries, error) {
	b := Binaries{Dir: filepath.Join(Root, major, "bin"), Major: major}
	for _, program := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(b.Dir, program)); err != nil {
			return Binaries{}, err
		}
	}
	return b, nil
}

// Newest returns the newest major version installed under Root.
func Newest() (Binaries, error) {
	major, err := newest(Root)
	if err != nil {
		return Binaries{}, err
	}
	return Installed(major)
}

// newest returns the highest major version under root with a pg_ctl,
// compared as numbers: "9.6" < "10" < "17".
func newest(root string) (string, error) {
	pattern := filepath.Join(root, "*", "bin", "pg_ctl")
	matches, _ := filepath.Glob(pattern) // the pattern is well-formed
	best, bestV := "", -1.0
	for _, m := range matches {
		major := filepath.Base(filepath.Dir(filepath.Dir(m)))
		if v, err := strconv.ParseFloat(major, 64); err == nil && v > bestV {
			best, bestV = major, v
		}
	}
	if best == "" {
		return "", &fs.PathError{Op: "find PostgreSQL", Path: pattern, Err: fs.ErrNotExist}
	}
	return best, nil
}

// User is the OS account PostgreSQL's programs run as.
type User struct {
	// Name is the account to switch to, or "" for the current user (then
	// nothing is switched or handed over).
	Name     string
	UID, GID int
}

// ServerUser returns who runs PostgreSQL for this process: Account when it
// is root, else the current user.
func ServerUser() (User, error) {
	if os.Geteuid() != 0 {
		return User{UID: os.Geteuid(), GID: os.Getegid()}, nil
	}
	u, err := user.Lookup(Account)
	if err != nil {
		return User{}, fmt.Errorf("PostgreSQL refuses to run as root, and the account %q to run it as is missing: %w", Account, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return User{}, fmt.Errorf("account %s has a non-numeric uid/gid %q/%q: %w", Account, u.Uid, u.Gid, err)
	}
	return User{Name: Account, UID: uid, GID: gid}, nil
}

// Command prepares a program to run as u. Another account runs it from /
// (this process's directory may be closed to it), with its own name in
// HOME, USER and LOGNAME; the current user runs it unchanged.
func (u User) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if u.Name != "" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}}
		cmd.Dir = "/"
		cmd.Env = append(os.Environ(), "HOME=/", "USER="+u.Name, "LOGNAME="+u.Name)
	}
	return cmd
}

// Own hands the tree at path to u, whole: PostgreSQL checks the owner of
// every file in its data directory. For the current user it does nothing.
func (u User) Own(path string) error {
	if u.Name == "" {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.UID, u.GID)
	})
}

// startTimeout bounds pg_ctl's wait for a server to start or stop.
const startTimeout = "60"

// Cluster is a data directory, the binaries that serve it, and the user
// they run as.
//
// Log receives the output of initdb, of pg_ctl, and of the server pg_ctl
// leaves running. It is a file, not any io.Writer: the server outlives
// pg_ctl and inherits its output, and with a pipe the wait for pg_ctl
// would last as long as the server.
type Cluster struct {
	Bin  Binaries
	Data string
	User User
	Log  *os.File
}

// Init creates the cluster with initdb and args. Data must be missing or
// empty, in a directory User may write to.
func (c Cluster) Init(args ...string) error {
	return c.run("initdb", append([]string{"-D", c.Data}, args...)...)
}

// Start starts the server, with options on the postgres command line
// (pg_ctl hands them to a shell), and waits until it accepts connections.
func (c Cluster) Start(options ...string) error {
	args := []string{"start", "-D", c.Data, "-w", "-t", startTimeout}
	if len(options) > 0 {
		args = append(args, "-o", strings.Join(options, " "))
	}
	return c.run("pg_ctl", args...)
}

// Stop shuts the server down in mode (smart, fast or immediate) and waits
// until it is down.
func (c Cluster) Stop(mode string) error {
	return c.run("pg_ctl", "stop", "-D", c.Data, "-m", mode, "-w", "-t", startTimeout)
}

// Restart stops the server in mode and starts it again with the options it
// had, waiting until it accepts connections.
func (c Cluster) Restart(mode string) error {
	return c.run("pg_ctl", "restart", "-D", c.Data, "-m", mode, "-w", "-t", startTimeout)
}

// Running reports whether the server is up, by pg_ctl status's exit
// status: 0 running, 3 not running; anything else (4: no data directory)
// is an error.
func (c Cluster) Running() (bool, error) {
	cmd := c.User.Command(filepath.Join(c.Bin.Dir, "pg_ctl"), "status", "-D", c.Data)
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		return false, nil
	}
	return false, fmt.Errorf("%s: %w", cmd, err)
}

// run runs one of the cluster's programs to completion, its output in Log.
func (c Cluster) run(program string, args ...string) error {
	cmd := c.User.Command(filepath.Join(c.Bin.Dir, program), args...)
	cmd.Stdout, cmd.Stderr = c.Log, c.Log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (see %s)", cmd, err, c.Log.Name())
	}
	return nil
}
