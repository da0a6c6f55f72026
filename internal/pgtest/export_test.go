package pgtest

import "testing"

// StartOwn starts a server for tb alone, as Start does without Main.
func StartOwn(tb testing.TB) *Server {
	tb.Helper()
	srv, err := start(binDir(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := srv.stop(); err != nil {
			tb.Error(err)
		}
	})
	return srv
}

// Dir returns the server's temporary directory.
func Dir(s *Server) string { return s.dir }

// FindBinDir is findBinDir.
func FindBinDir(candidates []string) (string, error) { return findBinDir(candidates) }
