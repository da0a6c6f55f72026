package browserpool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// DefaultUserAgent is a current desktop Chrome on Linux. WhatsApp Web answers
// a user agent that contains "HeadlessChrome" with an "update Chrome" page
// instead of the app (DESIGN, page contract fact 13), so the headless
// browser always sends a desktop one.
const DefaultUserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// Defaults of the zero fields of Config.
const (
	DefaultExecPath    = "chromium"
	DefaultWindowW     = 1280
	DefaultWindowH     = 900
	DefaultStopTimeout = 5 * time.Second
)

// Config is shared by every browser of a daemon. Zero values take the
// documented defaults; a Config is never modified by this package.
type Config struct {
	// ExecPath is the Chromium binary, a path or a name looked up on PATH.
	// "" means "chromium" on PATH.
	ExecPath string

	// UserAgent replaces Chrome's own user agent (which says HeadlessChrome
	// in headless mode). "" means DefaultUserAgent.
	UserAgent string

	// WindowW and WindowH are the window size in CSS pixels. 0 means
	// 1280x900 (each zero field takes its own default).
	WindowW, WindowH int

	// NoSandbox starts Chrome with --no-sandbox. It is forced on when the
	// daemon runs as root (euid 0): Chrome refuses to start sandboxed as
	// root.
	NoSandbox bool

	// Lean adds the flags of LeanFlags, which cut the memory of a warm
	// browser (see LeanFlags for what they cost). false: off.
	Lean bool

	// ExtraFlags adds or overrides command-line flags, by name without the
	// leading dashes: a string (or int) value gives --name=value, true gives
	// --name, false removes a flag that the defaults (or Lean) would set. A
	// value replaces the default one whole: to disable one more feature,
	// repeat DefaultDisabledFeatures in "disable-features". They are
	// applied last. nil: none. Any other value type makes Launch fail.
	// user-data-dir, disk-cache-dir and the debugging pipe belong to
	// browserpool and cannot be overridden.
	ExtraFlags map[string]any

	// StopTimeout bounds each rung of the stop ladder of Browser.Stop
	// (Browser.close, then SIGINT, then SIGKILL). 0 means 5s.
	StopTimeout time.Duration

	// Stderr receives Chrome's standard output and error (and those of its
	// child processes). nil: discarded.
	Stderr io.Writer

	// Logf receives chromedp's log and error messages about the browser
	// connection (e.g. "could not retrieve document root … Target crashed"
	// after a renderer crash). nil: chromedp's default, the standard log
	// package.
	Logf func(format string, args ...any)
}

// Spec says where one tenant's browser keeps its files. Launch creates the
// directories that are missing, with mode 0700; it leaves the mode of
// existing ones alone (an adopted Selenium-era profile keeps its own).
type Spec struct {
	// ProfileDir is Chrome's --user-data-dir: cookies, local storage,
	// IndexedDB, the Singleton* lock files. Required.
	ProfileDir string

	// CacheDir is Chrome's --disk-cache-dir, kept outside the profile so
	// that it can be deleted at any time. "": Chrome's default, inside the
	// profile.
	CacheDir string

	// TmpDir is the TMPDIR of the browser: Chrome puts its shared-memory
	// files there (--disable-dev-shm-usage) and its unix sockets, whose paths
	// must stay under 108 bytes: at most MaxTmpDirLen bytes, else Launch
	// fails. "": the daemon's own TMPDIR.
	TmpDir string
}

func (c Config) execPath() string {
	if c.ExecPath == "" {
		return DefaultExecPath
	}
	return c.ExecPath
}

func (c Config) userAgent() string {
	if c.UserAgent == "" {
		return DefaultUserAgent
	}
	return c.UserAgent
}

func (c Config) windowSize() (w, h int) {
	w, h = c.WindowW, c.WindowH
	if w <= 0 {
		w = DefaultWindowW
	}
	if h <= 0 {
		h = DefaultWindowH
	}
	return w, h
}

func (c Config) stopTimeout() time.Duration {
	if c.StopTimeout <= 0 {
		return DefaultStopTimeout
	}
	return c.StopTimeout
}

func (c Config) noSandbox() bool {
	return c.NoSandbox || os.Geteuid() == 0
}

// absDirs returns spec with every non-empty path made absolute and clean, so
// that the --user-data-dir on Chrome's command line is exactly what the
// process-table functions (ProcessesOnProfile, KillOrphans) look for.
func (s Spec) absDirs() (Spec, error) {
	if s.ProfileDir == "" {
		return s, fmt.Errorf("browserpool: Spec.ProfileDir is empty")
	}
	for _, p := range []*string{&s.ProfileDir, &s.CacheDir, &s.TmpDir} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return s, fmt.Errorf("browserpool: %q: %w", *p, err)
		}
		*p = abs
	}
	return s, nil
}

// MaxTmpDirLen is the longest TMPDIR a browser accepts: Chromium puts its
// SingletonSocket at <TMPDIR>/org.chromium.Chromium.XXXXXX/SingletonSocket,
// and a unix socket path has at most 107 bytes; a longer one makes Chrome
// abort at start ("Socket path too long").
const MaxTmpDirLen = 107 - len("/org.chromium.Chromium.XXXXXX/SingletonSocket")

// checkTmpDir refuses a TMPDIR (Spec.TmpDir, else the daemon's) on which
// Chrome could not start.
func (s Spec) checkTmpDir() error {
	dir := s.TmpDir
	if dir == "" {
		dir = os.TempDir()
	}
	if len(dir) > MaxTmpDirLen {
		return fmt.Errorf("browserpool: temporary directory %q is %d bytes long, at most %d fit Chrome's socket path", dir, len(dir), MaxTmpDirLen)
	}
	return nil
}

// makeDirs creates the directories of an absolute spec with mode 0700.
func (s Spec) makeDirs() error {
	for _, p := range []string{s.ProfileDir, s.CacheDir, s.TmpDir} {
		if p == "" {
			continue
		}
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("browserpool: %w", err)
		}
	}
	return nil
}
