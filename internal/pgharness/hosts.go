package pgharness

import (
	"net"
	"os"
	"slices"
	"strings"
	"testing"
)

// The stand-in Neon endpoint names: PoolerHost is the pooled endpoint
// (PgBouncer on 127.0.0.2), DirectHost the direct one (PostgreSQL on
// 127.0.0.1). database.DirectURL turns the first into the second by removing
// "-pooler", as it does for ep-xxx-pooler.REGION.aws.neon.tech.
const (
	PoolerHost = "ep-test-123456-pooler.local"
	PoolerIP   = "127.0.0.2"
	DirectHost = "ep-test-123456.local"
	DirectIP   = "127.0.0.1"
)

// HostsFile is the file EnsureHosts edits.
var HostsFile = "/etc/hosts"

// HostsLines are the /etc/hosts lines the stand-in names need.
var HostsLines = []string{PoolerIP + " " + PoolerHost, DirectIP + " " + DirectHost}

// EnsureHosts makes PoolerHost and DirectHost resolve through /etc/hosts,
// appending the lines that are missing. That needs root; a non-root run
// with lines missing fails with the lines to add.
func EnsureHosts(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(HostsFile)
	if err != nil {
		t.Fatalf("read %s: %v", HostsFile, err)
	}
	var missing []string
	for _, line := range HostsLines {
		ip, host, _ := strings.Cut(line, " ")
		switch got := mapping(string(b), host); got {
		case ip:
		case "":
			missing = append(missing, line)
		default:
			t.Fatalf("%s maps %s to %s; the Neon stand-in needs %q", HostsFile, host, got, line)
		}
	}
	if len(missing) == 0 {
		checkResolves(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s lacks the Neon stand-in names and only root can add them; add these lines (or run .ci/setup-neon-standin.sh as root):\n%s",
			HostsFile, strings.Join(missing, "\n"))
	}
	f, err := os.OpenFile(HostsFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("open %s to add the Neon stand-in names: %v", HostsFile, err)
	}
	text := strings.Join(missing, "\n") + "\n"
	if len(b) > 0 && b[len(b)-1] != '\n' {
		text = "\n" + text
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		t.Fatalf("append to %s: %v", HostsFile, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("pgharness: added to %s:\n%s", HostsFile, strings.TrimSpace(text))
	checkResolves(t)
}

// checkResolves fails the test when the resolver does not give the
// stand-in names their addresses (say, a resolver that skips /etc/hosts).
func checkResolves(t testing.TB) {
	t.Helper()
	for _, line := range HostsLines {
		ip, host, _ := strings.Cut(line, " ")
		addrs, err := net.LookupHost(host)
		if err != nil || !slices.Contains(addrs, ip) {
			t.Fatalf("%s resolves to %v (%v), want %s: check %s and /etc/nsswitch.conf", host, addrs, err, ip, HostsFile)
		}
	}
}

// mapping returns the address hosts gives host ("" when none): the first
// line naming it, as the resolver reads it.
func mapping(hosts, host string) string {
	for _, line := range strings.Split(hosts, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			if strings.EqualFold(name, host) {
				return fields[0]
			}
		}
	}
	return ""
}
