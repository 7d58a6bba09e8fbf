package database

import (
	"net"
	"time"
)

// Answers reports whether something accepts TCP connections at addr: serve
// asks it of the default database's address before it starts a private
// server instead (pglocal.Start).
func Answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
