package loopback

import "testing"

// TestAddr holds the cases of server.IsLoopbackAddr, which is Addr.
func TestAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7440":   true,
		"127.1.2.3:0":      true,
		"[::1]:7440":       true,
		"[::1]":            true,
		"::1":              true,
		"127.0.0.1":        true,
		"localhost:7440":   true,
		"LocalHost:1":      true,
		"localhost":        true,
		":7440":            false,
		"0.0.0.0:7440":     false,
		"[::]:7440":        false,
		"10.1.2.3:1":       false,
		"128.0.0.1:7440":   false,
		"localhost.x:7440": false,
		"wapool.internal":  false,
		"":                 false,
	} {
		if got := Addr(addr); got != want {
			t.Errorf("Addr(%q) = %v, want %v", addr, got, want)
		}
	}
}
