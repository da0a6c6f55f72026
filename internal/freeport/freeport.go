// Package freeport picks a TCP port of the loopback that nothing listens
// on, for a process about to be started that must be given its address
// before it listens (a wapoold's --listen or --metrics-addr, fakewa,
// PostgreSQL). The port is free the moment it is picked: another process
// may take it before the caller's does.
package freeport

import (
	"net"
	"strconv"
)

// Port returns a TCP port of 127.0.0.1 that was free a moment ago.
func Port() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns "127.0.0.1:<port>" of a Port.
func Addr() (string, error) {
	p, err := Port()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}
