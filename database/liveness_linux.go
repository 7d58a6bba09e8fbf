package database

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// idleConnAlive reports whether an idle connection can still be used,
// without a round trip: an idle PostgreSQL connection has nothing to read,
// so pending bytes (a FATAL "terminating connection" from a suspending Neon
// compute or a restarting server) or end-of-file mean it is dead. One
// non-blocking peek, about a microsecond.
func idleConnAlive(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	alive := true
	err = raw.Read(func(fd uintptr) bool {
		var buf [1]byte
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0: // unsolicited data: an error message before close
			alive = false
		case rerr == nil: // n == 0: the server closed the connection
			alive = false
		case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EWOULDBLOCK):
		default:
			alive = false
		}
		return true // never wait for readability
	})
	return err == nil && alive
}
