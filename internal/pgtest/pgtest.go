// Package pgtest runs a real PostgreSQL server for tests: the server of
// Debian's postgresql package, started in a temporary directory with fsync
// off, reachable on 127.0.0.1 at a free port, and a fresh database per test.
//
// Outside CI a machine without PostgreSQL skips the test; in CI (CI=true) it
// fails it, so a broken install can never pass as a green run (install it
// with apt-get install -y postgresql, or make postgresql).
//
// # Use
//
// One server per test binary is the cheap way: the package's TestMain hands
// its tests to Main, the first Start starts the server (only if a test asks
// for one) and Main stops it after the last test.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.Start(t).NewDatabase(t) // postgres://postgres@127.0.0.1:<port>/<db>?sslmode=disable
//		…
//	}
//
// Without Main, each Start starts a server of its own, stopped when that
// test ends.
//
// A program (not a test) calls Launch and owns the server it gets:
//
//	srv, err := pgtest.Launch() // err wraps ErrNotInstalled when PostgreSQL is missing
//	…
//	defer srv.Close()
//	url, err := srv.CreateDatabase("soak")
//
// # Lifecycle
//
//	Start ──► initdb (temp dir) ──► postgres ──► connect until ready ──► NewDatabase… ──► stop
//	                                                                   (SIGINT: fast shutdown;
//	                                                                    SIGKILL to the process
//	                                                                    group after 10 s)
//
// PostgreSQL refuses to run as root: a test binary running as root runs
// initdb and postgres as the "postgres" user (Debian's package creates it;
// "nobody" when it is missing), in a directory of /tmp that user owns. A non-root test binary runs
// them as itself. The binaries are found in $WAPOOL_PG_BINDIR, else the newest
// /usr/lib/postgresql/<version>/bin, else `pg_config --bindir`, else on PATH.
// The postmaster gets SIGKILL when the test binary dies (Pdeathsig), so a
// crashed run leaves no server behind.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wapool/wapool/internal/freeport"
)

// Server is a running PostgreSQL server. Its methods are safe for
// concurrent use.
type Server struct {
	port int
	dir  string // data dir, socket dir and log, removed at stop
	bin  string // the binaries' dir
	cred *syscall.Credential
	cmd  *exec.Cmd
	// exited is closed when the postmaster exited; waitErr is then set.
	exited  chan struct{}
	waitErr error
	// launched: started by Launch, so Close may stop it.
	launched bool

	// mu guards the fields that follow.
	mu     sync.Mutex
	n      int  // databases created so far
	closed bool // Close stopped the server
}

// shared is the server of a test binary whose TestMain calls Main. mu
// guards the fields that follow.
var shared struct {
	mu     sync.Mutex
	inMain bool
	srv    *Server
	err    error // the first start's failure, reported to every Start
}

// Main runs the tests of m with one shared server, started by the first
// Start and stopped when m.Run returns, and returns m.Run's exit code for
// os.Exit. m is a *testing.M, or anything with its Run method (such as a
// wrapper that checks for leaked goroutines afterwards).
func Main(m interface{ Run() int }) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	srv := shared.srv
	shared.srv, shared.inMain = nil, false
	shared.mu.Unlock()
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping PostgreSQL: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Start returns a running server: the test binary's shared one under Main,
// else a new one stopped at the end of tb. It skips tb when PostgreSQL is
// not installed, or fails it when CI=true.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binDir(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.inMain {
		if shared.srv == nil && shared.err == nil {
			shared.srv, shared.err = start(bin)
		}
		if shared.err != nil {
			tb.Fatalf("pgtest: %v", shared.err)
		}
		return shared.srv
	}
	srv, err := start(bin)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.stop(); err != nil {
			tb.Errorf("pgtest: stopping PostgreSQL: %v", err)
		}
	})
	return srv
}

// URL returns the address of the server's "postgres" database, as the
// superuser "postgres" with no password:
// postgres://postgres@127.0.0.1:<port>/postgres?sslmode=disable.
func (s *Server) URL() string { return s.dbURL("postgres") }

func (s *Server) dbURL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates an empty database for tb and returns its URL
// (postgres://postgres@127.0.0.1:<port>/<name>?sslmode=disable). It is
// dropped at the end of tb, after tb's later cleanups (close what uses it in
// a cleanup registered after this call, or before the test returns);
// connections still open then are terminated.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("t%d_%s", s.n, dbNameChars.ReplaceAllString(strings.ToLower(tb.Name()), "_"))
	s.mu.Unlock()
	name = name[:min(len(name), 63)]
	if err := s.admin(fmt.Sprintf("CREATE DATABASE %s", pgx.Identifier{name}.Sanitize())); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := s.admin(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.dbURL(name)
}

var dbNameChars = regexp.MustCompile(`[^a-z0-9_]+`)

// admin runs one statement on the "postgres" database.
func (s *Server) admin(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// binDir finds the directory holding initdb and postgres (findBinDir), or
// skips (fails in CI) tb.
func binDir(tb testing.TB) string {
	tb.Helper()
	dir, err := findBinDir(binCandidates())
	if err == nil {
		return dir
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("pgtest: PostgreSQL (initdb, postgres) not found; CI must install it (apt-get install -y postgresql)")
	}
	tb.Skip("pgtest: PostgreSQL (initdb, postgres) not found; install it with: apt-get install -y postgresql")
	return ""
}

// ErrNotInstalled is Launch's error when no directory holds initdb and
// postgres.
var ErrNotInstalled = errors.New("PostgreSQL (initdb, postgres) not found: install it with `apt-get install -y postgresql` (or `make postgresql`), or point WAPOOL_PG_BINDIR at its bin directory")

// binCandidates lists the directories that may hold the server's binaries,
// in the order of the package doc: $WAPOOL_PG_BINDIR, Debian's
// /usr/lib/postgresql/<version>/bin (newest first), `pg_config --bindir`,
// postgres on PATH.
func binCandidates() []string {
	var candidates []string
	if dir := os.Getenv("WAPOOL_PG_BINDIR"); dir != "" {
		candidates = append(candidates, dir)
	}
	candidates = append(candidates, debianBinDirs()...)
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	return candidates
}

// findBinDir returns the first of candidates holding executable initdb and
// postgres; an error wrapping ErrNotInstalled when none does.
func findBinDir(candidates []string) (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	for _, dir := range candidates {
		if has(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgtest: %w (looked in %q)", ErrNotInstalled, candidates)
}

// debianBinDirs lists /usr/lib/postgresql/<version>/bin, newest version first.
func debianBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(matches, func(a, b string) int {
		va, vb := version(a), version(b)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	return matches
}

// start initializes a cluster in a new temporary directory and starts
// postgres on it, retrying with another port when the chosen one was taken
// meanwhile.
func start(bin string) (*Server, error) {
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	// The directory holds the server's socket (at most 107 bytes with its
	// name) and, under root, must be reachable by the user that runs it.
	base := os.TempDir()
	if len(base) > 64 || (cred != nil && !traversable(base)) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pgtest-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = pgEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var lastErr error
	for range 3 {
		port, err := freeport.Port()
		if err != nil {
			return nil, err
		}
		s, err := launch(bin, dir, port, cred)
		if err == nil {
			ok = true
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// launch starts postgres on port and waits until it accepts connections.
func launch(bin, dir string, port int, cred *syscall.Credential) (*Server, error) {
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	if cred != nil {
		if err := logFile.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB")
	cmd.Dir = dir
	cmd.Env = pgEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Server{port: port, dir: dir, bin: bin, cred: cred, cmd: cmd, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL())
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return s, nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited (%v) before accepting connections:\n%s", s.waitErr, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres not ready after 30s (%v):\n%s", err, log)
		}
	}
}

// stop shuts the server down (SIGINT: fast shutdown; after 10 s SIGKILL to
// its process group), waits for it and removes its directory.
func (s *Server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		err = errors.New("no fast shutdown within 10s: killed")
		s.kill()
	}
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// kill ends the postmaster's process group and waits for the postmaster.
func (s *Server) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// runAs returns the credentials to run PostgreSQL with: nil when the test
// binary is not root, else the "postgres" user (or "nobody").
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var errs []error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			errs = append(errs, fmt.Errorf("user %s: uid %q gid %q", name, u.Uid, u.Gid))
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, fmt.Errorf("running as root and no user to run PostgreSQL as: %w", errors.Join(errs...))
}

// traversable reports whether every directory from / down to dir lets
// others search it.
func traversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// pgEnv is the environment of initdb and postgres: PATH and the C locale.
func pgEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "LANG=C"}
}
