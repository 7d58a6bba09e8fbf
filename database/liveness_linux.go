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
//
// The peek runs under RawConn.Control, not RawConn.Read: pgx's background
// reader can still be parked in a Read on this socket after a query, holding
// the descriptor's read lock, and Read would wait for it forever. Control
// takes no read lock, and MSG_DONTWAIT never blocks.
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
	err = raw.Control(func(fd uintptr) {
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
	})
	return err == nil && alive
}
