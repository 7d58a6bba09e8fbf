package database

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// TestIdleConnAlive: an idle connection is alive; one the peer wrote to
// unasked (a FATAL before closing) or closed is dead, TLS or not; one
// closed here is dead; a connection without a socket cannot be peeked, so
// is taken as alive.
func TestIdleConnAlive(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pair := func() (client, server net.Conn) {
		t.Helper()
		client, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err = l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close(); server.Close() })
		return client, server
	}
	// settled waits for what the peer did to reach c.
	settled := func(c net.Conn, want bool) bool {
		deadline := time.Now().Add(2 * time.Second)
		for idleConnAlive(c) != want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		return idleConnAlive(c) == want
	}

	c, _ := pair()
	if !idleConnAlive(c) {
		t.Error("an idle connection was judged dead")
	}
	if !idleConnAlive(tls.Client(c, &tls.Config{})) {
		t.Error("an idle TLS connection was judged dead")
	}

	c, s := pair()
	s.Write([]byte("E"))
	if !settled(c, false) {
		t.Error("a connection with unsolicited data was judged alive")
	}
	// The peek leaves the byte for the reader.
	buf := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := c.Read(buf); n != 1 || buf[0] != 'E' || err != nil {
		t.Errorf("after the peek Read = %d %q %v, want the byte still there", n, buf[:n], err)
	}

	c, s = pair()
	s.Close()
	if !settled(tls.Client(c, &tls.Config{}), false) {
		t.Error("a TLS connection the peer closed was judged alive")
	}

	c, _ = pair()
	c.Close()
	if idleConnAlive(c) {
		t.Error("a closed connection was judged alive")
	}

	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if !idleConnAlive(p1) {
		t.Error("a connection without a socket was judged dead")
	}
}
