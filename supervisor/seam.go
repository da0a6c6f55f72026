package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/waweb"
)

// The runner reaches its browser and page only through the interfaces below:
// *waweb.Page and *browserpool.Browser in the daemon (chromeLauncher), and
// hand-written fakes in the unit tests of the runner's states and the send
// rules, which run under testing/synctest with no Chromium and no real time.

// Page is what a runner needs of its tenant's WhatsApp Web tab; *waweb.Page
// implements it, and its documentation says what each method does. Every
// method is called from the runner goroutine, except Watch, which runs on a
// goroutine the runner owns.
type Page interface {
	Open(ctx context.Context) error
	WaitBooted(ctx context.Context) (waweb.State, error)
	// State is the liveness probe: it fails when the page does not answer.
	State(ctx context.Context) (waweb.State, error)
	Watch(ctx context.Context, ch chan<- waweb.Event) error
	LinkedPhone(ctx context.Context) string
	UseHere(ctx context.Context) error
	Screenshot(ctx context.Context) ([]byte, error)

	QR(ctx context.Context) (waweb.QR, error)
	QRPNG(ctx context.Context) ([]byte, error)
	ReloadQR(ctx context.Context) error
	StartPhoneLogin(ctx context.Context, phone string) error
	PairingCode(ctx context.Context) (string, error)
	BackToQR(ctx context.Context) error

	// Prepare opens the chat and enters the text; nothing is sent.
	Prepare(ctx context.Context, to, text string) (waweb.Draft, error)
	// PrepareFile opens the chat, attaches the file and enters the caption
	// in the preview; nothing is sent.
	PrepareFile(ctx context.Context, to, caption string, f waweb.File) (waweb.Draft, error)
	// Click sends a prepared draft; clicked false means nothing was sent.
	Click(ctx context.Context, d waweb.Draft) (clicked bool, err error)
	// WaitAck waits for the clicked draft's new bubble (the outgoing one
	// not noted) to be acknowledged, and returns it.
	WaitAck(ctx context.Context, d waweb.Draft) (waweb.Bubble, error)
	// WaitAcked waits for the open chat's bubble id to be acknowledged.
	WaitAcked(ctx context.Context, waMessageID string) error
	// Discard discards a file's preview and empties the compose box after
	// a Prepare or PrepareFile that is not sent.
	Discard(ctx context.Context) error
	// Diagnose runs the doctor's probes (deep: in the chat with self).
	Diagnose(ctx context.Context, deep bool, self string) (waweb.Diagnosis, error)
}

// MediaFiles holds the bytes of messages' files, named by their SHA-256.
type MediaFiles interface {
	// Local returns the path of a local file holding the bytes named by
	// sha256 (lower-case hex), fetching them from the shared store first in
	// cluster mode. The runner does not write to it.
	Local(ctx context.Context, sha256 string) (string, error)
}

// Browser is one running browser of a tenant, with its one tab.
type Browser interface {
	Page() Page
	// Done is closed once the browser process has exited.
	Done() <-chan struct{}
	// ExitErr says how the browser ended, once Done is closed.
	ExitErr() error
	PID() int
	StartedAt() time.Time
	// Stop closes the browser gracefully, then by force (the stop ladder),
	// and returns once it has exited.
	Stop(ctx context.Context) error
	// PSS is the memory of the browser's processes.
	PSS() (uint64, error)
}

// LaunchSpec says what to launch for a tenant.
type LaunchSpec struct {
	Tenant     string
	ProfileDir string // the tenant's user-data-dir, locked by the runner
	CacheDir   string // disk cache, outside the profile
	TmpDir     string // a short TMPDIR of the tenant
}

// Launcher starts browsers. Launch returns once the browser runs and its tab
// exists; the runner then opens the app on the page. The runner has stopped
// any orphaned browser on the profile before.
type Launcher interface {
	Launch(ctx context.Context, spec LaunchSpec) (Browser, error)
}

// chromeLauncher launches Chromium through browserpool and drives its tab
// with waweb.
type chromeLauncher struct {
	cfg       browserpool.Config
	targetURL string
	selectors *waweb.SelectorSet
}

func (l chromeLauncher) Launch(ctx context.Context, spec LaunchSpec) (Browser, error) {
	if err := browserpool.CleanStaleSingleton(spec.ProfileDir); err != nil {
		return nil, fmt.Errorf("cleaning stale Chrome locks: %w", err)
	}
	br, err := browserpool.Launch(ctx, l.cfg, browserpool.Spec{ProfileDir: spec.ProfileDir, CacheDir: spec.CacheDir, TmpDir: spec.TmpDir})
	if err != nil {
		return nil, fmt.Errorf("launching Chrome: %w", err)
	}
	return chromeBrowser{br, waweb.NewShared(br.Ctx(), l.targetURL, l.selectors)}, nil
}

type chromeBrowser struct {
	*browserpool.Browser
	page *waweb.Page
}

func (b chromeBrowser) Page() Page { return b.page }
