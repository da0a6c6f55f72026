package browserpool

import "errors"

// Sentinel errors; check them with errors.Is.
var (
	// ErrExited: the browser process has exited. Browser.ExitErr wraps it
	// (with an *exec.ExitError that says how, e.g. "signal: killed") when
	// the browser died on its own, and PSS returns it once the process is
	// gone.
	ErrExited = errors.New("browserpool: browser exited")

	// ErrProfileInUse: CleanStaleSingleton found a SingletonLock that names
	// a live Chrome on this host running on the profile. The lock is kept;
	// the caller must stop that process first (KillOrphans) or give up.
	ErrProfileInUse = errors.New("browserpool: profile in use by a live browser")
)
