package main

import (
	"net/http/httptest"
	"strings"

	"github.com/wapool/wapool/fakewa"
)

// site is the in-process fakewa that every section of the run talks to, on
// 127.0.0.1 with the default timings.
type site struct {
	*fakewa.Server
	ts  *httptest.Server
	URL string
}

func startSite() *site {
	f := fakewa.New(fakewa.Options{}) // zero Options: the default timings
	ts := httptest.NewServer(f)       // 127.0.0.1, a free port
	return &site{Server: f, ts: ts, URL: ts.URL}
}

// close wakes fakewa's waiting requests, then shuts the HTTP server down.
func (s *site) close() {
	s.Server.Close()
	s.ts.Close()
}

// arrived reports whether account sent text to the number to and the
// server acknowledged it (ack ≥ 1, msg-check).
func (s *site) arrived(account, to, text string) bool {
	for _, m := range s.Messages(account) {
		if strings.TrimPrefix(m.To, "+") == to && m.Text == text && m.Ack >= 1 {
			return true
		}
	}
	return false
}
