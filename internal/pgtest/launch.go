package pgtest

import (
	"errors"
	"fmt"
	"regexp"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Launch starts a server for a program, as Start does for a test: the
// binaries found as the package doc says, a temporary directory, fsync off,
// 127.0.0.1 at a free port. The caller owns it and must Close it; the
// server also gets SIGKILL when the calling process dies. When PostgreSQL
// is not installed the error wraps ErrNotInstalled and says how to install
// it.
func Launch() (*Server, error) {
	bin, err := findBinDir(binCandidates())
	if err != nil {
		return nil, err
	}
	s, err := start(bin)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s.launched = true
	return s, nil
}

// errNotLaunched is Close's error on a server that Start returned.
var errNotLaunched = errors.New("pgtest: Close stops a server from Launch; a server from Start is stopped by its test (or Main)")

// Close stops a server that Launch started (fast shutdown; SIGKILL after
// 10 s) and removes its directory, its databases with it. Calling it again
// does nothing and returns nil. A server that Start returned belongs to
// its test: Close refuses it.
func (s *Server) Close() error {
	if !s.launched {
		return errNotLaunched
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.stop(); err != nil {
		return fmt.Errorf("pgtest: stopping PostgreSQL: %w", err)
	}
	return nil
}

// dbName is what CreateDatabase accepts: a lower-case SQL identifier.
var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CreateDatabase creates an empty database called name (a lower-case letter
// or underscore, then up to 62 lower-case letters, digits or underscores)
// and returns its URL,
// postgres://postgres@127.0.0.1:<port>/<name>?sslmode=disable. It is
// removed with the server; a name already taken is an error.
func (s *Server) CreateDatabase(name string) (string, error) {
	if !dbName.MatchString(name) {
		return "", fmt.Errorf("pgtest: database name %q: want [a-z_][a-z0-9_]*, at most 63 characters", name)
	}
	if err := s.admin(fmt.Sprintf("CREATE DATABASE %s", pgx.Identifier{name}.Sanitize())); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.dbURL(name), nil
}

// Restart stops a server that Launch started (fast shutdown, as `pg_ctl
// restart -m fast` does: every session is cut), keeps it down for down,
// and starts it again on the same port and data; it returns once the
// server accepts connections again. Not concurrent with Close.
func (s *Server) Restart(down time.Duration) error {
	if !s.launched {
		return errNotLaunched
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("pgtest: Restart after Close")
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.kill()
	}
	time.Sleep(down) // the outage itself
	ns, err := launch(s.bin, s.dir, s.port, s.cred)
	if err != nil {
		return fmt.Errorf("pgtest: restarting PostgreSQL: %w", err)
	}
	s.cmd, s.exited = ns.cmd, ns.exited
	return nil
}
