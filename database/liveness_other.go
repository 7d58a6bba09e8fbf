//go:build !linux

package database

import "net"

// idleConnAlive cannot peek without blocking here; pgx's ping of
// connections idle for over a second remains the check.
func idleConnAlive(net.Conn) bool { return true }
