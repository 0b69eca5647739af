//go:build !linux

package client

import "syscall"

// dialControl does nothing outside Linux (IP_BIND_ADDRESS_NO_PORT is Linux-only).
func dialControl(string, string, syscall.RawConn) error { return nil }
