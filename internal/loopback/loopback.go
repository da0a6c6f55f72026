// Package loopback tells whether an address stays on this machine, for the
// checks that allow plain text or no credentials only there: the daemon's
// listen address, wapoolctl's target, the console's.
package loopback

import (
	"net"
	"strings"
)

// Addr reports whether the host of addr (host:port, or a bare host, an
// IPv6 one in brackets or not) is loopback: 127.0.0.0/8, ::1 or
// "localhost" in any case. An empty host, as in ":7440", means every
// interface and is not loopback; neither is any other name, since what it
// resolves to may change.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
