package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wapool/wapool/internal/wait"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// A hand-written fake of the browser and its page, for the runner's states
// and the send rules under testing/synctest: no Chromium, no real time.

// fakeBubble is an outgoing message in a fake chat: n is its message id,
// drawn by the page's build (fakeWA.idOf). A file's bubble has its file,
// and its caption as text.
type fakeBubble struct {
	to, text string
	n        int
	acked    bool
	file     *fakeFile
}

// fakeFile is a file that went out: its name, the SHA-256 of its bytes as
// the page read them at the click ("" when it could not read them), and
// whether it went as a document.
type fakeFile struct {
	name, sha256 string
	document     bool
}

// fakeWA is the fake page's "server": the chats and what went out. It
// outlives browsers, as WhatsApp's servers do.
type fakeWA struct {
	mu    sync.Mutex
	chats map[string][]fakeBubble // recipient digits → outgoing bubbles, oldest first
	seq   int
	// build "2026" gives bare ids (fact 20); "" the older true_<jid>_<id>.
	build string
	// unknownDrawing: the page draws texts in a way the driver does not
	// know: no bubble's text matches (Bubble.Match false).
	unknownDrawing bool
	// Hooks, each optional; they run under mu and may change the fields.
	// prepare runs at the start of every Prepare; an error fails it.
	prepare func(to, text string) error
	// click decides what a click does: deliver (a bubble appears, acked or
	// not) and what Click returns.
	click func(d waweb.Draft) (deliver, acked, clicked bool, err error)
	// hideChat hides the chat's bubbles from Prepare (messages not shown).
	hideChat func(to string) bool
	// ack fails WaitAck with an error when it returns one.
	ack func(d waweb.Draft) error
	// diagnose answers Diagnose; nil: the main screen, every check passing.
	diagnose  func(deep bool, self string) waweb.Diagnosis
	diagnoses int

	// probeDelay is how long State (the liveness probe) takes.
	probeDelay time.Duration
	// hangPID: the page of the browser with this pid hangs: State does not
	// answer, Prepare records the attempt in hungPrepares.
	hangPID      int
	hungPrepares int

	prepares, clicks int
	// prepared lists the files PrepareFile attached, as fakeFiles read
	// at that moment.
	prepared []fakeFile
}

func newFakeWA() *fakeWA { return &fakeWA{chats: map[string][]fakeBubble{}} }

// deliveredFiles lists the files that reached recipient to, oldest first,
// each with its caption.
func (f *fakeWA) deliveredFiles(to string) (files []fakeFile, captions []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.chats[to] {
		if b.file != nil {
			files, captions = append(files, *b.file), append(captions, b.text)
		}
	}
	return files, captions
}

// readFile is the fakeFile of f as the page reads it now.
func readFile(f waweb.File) fakeFile {
	ff := fakeFile{name: filepath.Base(f.Path), document: f.Document}
	if b, err := os.ReadFile(f.Path); err == nil {
		sum := sha256.Sum256(b)
		ff.sha256 = hex.EncodeToString(sum[:])
	}
	return ff
}

// delivered lists the texts that reached recipient to, oldest first.
func (f *fakeWA) delivered(to string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.chats[to] {
		out = append(out, b.text)
	}
	return out
}

func (f *fakeWA) clickCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clicks
}

func (f *fakeWA) ids(to string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.chats[to] {
		out = append(out, f.idOf(b))
	}
	return out
}

// firstClickLost is a click hook: the first click is lost with the page (Click
// reports it clicked, and err; nothing goes out), every later one delivers
// a bubble, acked.
func firstClickLost(err error) func(waweb.Draft) (bool, bool, bool, error) {
	first := true
	return func(waweb.Draft) (bool, bool, bool, error) {
		if first {
			first = false
			return false, false, true, err
		}
		return true, true, true, nil
	}
}

// deliver appends a bubble to the chat (with file, a file's); mu held.
func (f *fakeWA) deliver(to, text string, acked bool, file ...fakeFile) string {
	f.seq++
	b := fakeBubble{to: to, text: text, n: f.seq, acked: acked}
	if len(file) > 0 {
		b.file = &file[0]
	}
	f.chats[to] = append(f.chats[to], b)
	return f.idOf(b)
}

// fakeLauncher starts fakeBrowsers over one fakeWA.
type fakeLauncher struct {
	wa    *fakeWA
	pss   func(launch, reading int) uint64 // the memory of the launch-th browser at a reading; nil: 100 MiB
	delay time.Duration                    // how long a launch takes

	inFlight, maxInFlight int // launches under way, and their most at once
	mu                    sync.Mutex
	launches              int
	current               *fakeBrowser
}

func (l *fakeLauncher) Launch(ctx context.Context, spec LaunchSpec) (Browser, error) {
	l.mu.Lock()
	l.inFlight++
	l.maxInFlight = max(l.maxInFlight, l.inFlight)
	d := l.delay
	l.mu.Unlock()
	err := wait.Sleep(ctx, d) // a browser takes a while to start
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if err != nil {
		return nil, err
	}
	l.launches++
	b := &fakeBrowser{done: make(chan struct{}), started: time.Now(), pid: 1000 + l.launches}
	if l.pss != nil {
		launch := l.launches
		b.pss = func(n int) uint64 { return l.pss(launch, n) }
	}
	b.page = &fakePage{wa: l.wa, b: b}
	l.current = b
	return b, nil
}

// currentPID is the pid of the browser launched last.
func (l *fakeLauncher) currentPID() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.current == nil {
		return 0
	}
	return l.current.pid
}

func (l *fakeLauncher) launchCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.launches
}

// kill makes the running browser exit, as a SIGKILL would.
func (l *fakeLauncher) kill() {
	l.mu.Lock()
	b := l.current
	l.mu.Unlock()
	if b != nil {
		b.exit(errors.New("signal: killed"))
	}
}

type fakeBrowser struct {
	page    *fakePage
	done    chan struct{}
	once    sync.Once
	exitErr error
	started time.Time
	pid     int
	// pss gives the memory at the n-th reading; nil: 100 MiB.
	pss      func(n int) uint64
	pssCalls int
}

func (b *fakeBrowser) exit(err error) {
	b.once.Do(func() { b.exitErr = err; close(b.done) })
}

func (b *fakeBrowser) Page() Page            { return b.page }
func (b *fakeBrowser) Done() <-chan struct{} { return b.done }
func (b *fakeBrowser) PID() int              { return b.pid }
func (b *fakeBrowser) StartedAt() time.Time  { return b.started }
func (b *fakeBrowser) PSS() (uint64, error) {
	b.pssCalls++ // serialized by the runner's browserMemory lock
	if b.pss != nil {
		return b.pss(b.pssCalls), nil
	}
	return 100 << 20, nil
}
func (b *fakeBrowser) Stop(context.Context) error {
	b.exit(nil)
	return nil
}
func (b *fakeBrowser) ExitErr() error {
	select {
	case <-b.done:
		return b.exitErr
	default:
		return nil
	}
}

// fakePage is a linked main screen over the fakeWA.
type fakePage struct {
	wa *fakeWA
	b  *fakeBrowser
}

var errFakeDead = fmt.Errorf("fake: %w", waweb.ErrPageClosed)

func (p *fakePage) alive() error {
	select {
	case <-p.b.done:
		return errFakeDead
	default:
		return nil
	}
}

func (p *fakePage) Open(context.Context) error { return p.alive() }
func (p *fakePage) WaitBooted(context.Context) (waweb.State, error) {
	return waweb.StateMain, p.alive()
}
func (p *fakePage) State(ctx context.Context) (waweb.State, error) {
	p.wa.mu.Lock()
	d := p.wa.probeDelay
	if p.wa.hangPID != 0 && p.wa.hangPID == p.b.pid {
		d = time.Hour // the page's main thread is blocked
	}
	p.wa.mu.Unlock()
	if d > 0 {
		if err := wait.Sleep(ctx, d); err != nil {
			return waweb.StateUnknown, err
		}
	}
	return waweb.StateMain, p.alive()
}
func (p *fakePage) Watch(ctx context.Context, _ chan<- waweb.Event) error {
	select {
	case <-ctx.Done():
		return nil
	case <-p.b.done:
		return errFakeDead
	}
}
func (p *fakePage) LinkedPhone(context.Context) string            { return "15550001111" }
func (p *fakePage) UseHere(context.Context) error                 { return nil }
func (p *fakePage) Screenshot(context.Context) ([]byte, error)    { return []byte("png"), p.alive() }
func (p *fakePage) QR(context.Context) (waweb.QR, error)          { return waweb.QR{}, waweb.ErrUnexpectedPage }
func (p *fakePage) QRPNG(context.Context) ([]byte, error)         { return nil, waweb.ErrUnexpectedPage }
func (p *fakePage) ReloadQR(context.Context) error                { return waweb.ErrUnexpectedPage }
func (p *fakePage) StartPhoneLogin(context.Context, string) error { return waweb.ErrUnexpectedPage }
func (p *fakePage) PairingCode(context.Context) (string, error)   { return "", waweb.ErrUnexpectedPage }
func (p *fakePage) BackToQR(context.Context) error                { return waweb.ErrUnexpectedPage }
func (p *fakePage) Discard(context.Context) error                 { return p.alive() }

// PrepareFile is Prepare with f attached: the draft carries it, and the
// file as read now is recorded (fakeWA.prepared).
func (p *fakePage) PrepareFile(ctx context.Context, to, caption string, f waweb.File) (waweb.Draft, error) {
	return p.prepare(ctx, to, caption, &f)
}

func (p *fakePage) Prepare(ctx context.Context, to, text string) (waweb.Draft, error) {
	return p.prepare(ctx, to, text, nil)
}

func (p *fakePage) prepare(ctx context.Context, to, text string, file *waweb.File) (waweb.Draft, error) {
	if err := p.alive(); err != nil {
		return waweb.Draft{}, err
	}
	// A chat takes a moment to open, in fake time.
	if err := wait.Sleep(ctx, 50*time.Millisecond); err != nil {
		return waweb.Draft{}, err
	}
	f := p.wa
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prepares++
	if f.hangPID != 0 && f.hangPID == p.b.pid {
		f.hungPrepares++
	}
	if f.prepare != nil {
		if err := f.prepare(to, text); err != nil {
			return waweb.Draft{}, err
		}
	}
	if file != nil {
		f.prepared = append(f.prepared, readFile(*file))
	}
	d := waweb.Draft{To: to, Text: text, File: file, Entries: 1, Noted: []string{}}
	if f.hideChat == nil || !f.hideChat(to) {
		for _, b := range f.chats[to] {
			d.Noted = append(d.Noted, f.idOf(b))
			d.Out = append(d.Out, f.bubble(b, text))
		}
	}
	return d, nil
}

func (p *fakePage) Click(ctx context.Context, d waweb.Draft) (bool, error) {
	if err := p.alive(); err != nil {
		return false, err
	}
	f := p.wa
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clicks++
	deliver, acked, clicked, err := true, true, true, error(nil)
	if f.click != nil {
		deliver, acked, clicked, err = f.click(d)
	}
	switch {
	case deliver && d.File != nil: // the page reads the file at the click
		f.deliver(d.To, d.Text, acked, readFile(*d.File))
	case deliver:
		f.deliver(d.To, d.Text, acked)
	}
	return clicked, err
}

// idOf draws b's data-id as the page's build does: the older
// "true_<jid>_<id>", or the bare id of the 2026 build (fact 20); mu held.
func (f *fakeWA) idOf(b fakeBubble) string {
	if f.build == "2026" {
		return fmt.Sprintf("3EB0%016X", b.n)
	}
	return fmt.Sprintf("true_%s@c.us_3EB0%016X", b.to, b.n)
}

// bubble is what the driver reads of b in a draft of text; mu held.
func (f *fakeWA) bubble(b fakeBubble, text string) waweb.Bubble {
	return waweb.Bubble{ID: f.idOf(b), Acked: b.acked, Match: b.text == text && !f.unknownDrawing}
}

// WaitAck takes, as the driver does, the new bubble: the outgoing one not
// noted, the oldest showing the text first, else the oldest.
func (p *fakePage) WaitAck(ctx context.Context, d waweb.Draft) (waweb.Bubble, error) {
	if err := p.alive(); err != nil {
		return waweb.Bubble{}, fmt.Errorf("%w: %w", waweb.ErrNotAcked, err)
	}
	f := p.wa
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ack != nil {
		if err := f.ack(d); err != nil {
			return waweb.Bubble{}, err
		}
	}
	var fresh []waweb.Bubble
	for _, b := range f.chats[d.To] {
		if !slices.Contains(d.Noted, f.idOf(b)) {
			fresh = append(fresh, f.bubble(b, d.Text))
		}
	}
	if len(fresh) == 0 {
		return waweb.Bubble{}, fmt.Errorf("no new bubble: %w", waweb.ErrNotAcked)
	}
	b := fresh[0]
	if i := slices.IndexFunc(fresh, func(b waweb.Bubble) bool { return b.Match }); i >= 0 {
		b = fresh[i]
	}
	if !b.Acked {
		return b, fmt.Errorf("no msg-check: %w", waweb.ErrNotAcked)
	}
	return b, nil
}

func (p *fakePage) Diagnose(ctx context.Context, deep bool, self string) (waweb.Diagnosis, error) {
	if err := p.alive(); err != nil {
		return waweb.Diagnosis{}, err
	}
	f := p.wa
	f.mu.Lock()
	defer f.mu.Unlock()
	f.diagnoses++
	if f.diagnose != nil {
		return f.diagnose(deep, self), nil
	}
	return waweb.Diagnosis{State: waweb.StateMain, Checks: []waweb.Check{{Name: "page_state", OK: true}, {Name: "pane_side", OK: true}}}, nil
}

func (p *fakePage) WaitAcked(ctx context.Context, id string) error {
	if err := p.alive(); err != nil {
		return err
	}
	f := p.wa
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, chat := range f.chats {
		for _, b := range chat {
			if f.idOf(b) == id && b.acked {
				return nil
			}
		}
	}
	return fmt.Errorf("bubble %s: %w", id, waweb.ErrNotAcked)
}

// fakeStack is a Supervisor over a real store (bbolt in a temp dir) with the
// fake launcher, inside the caller's synctest bubble.
type fakeStack struct {
	t     *testing.T
	wa    *fakeWA
	l     *fakeLauncher
	store *sessionstore.Store
	sup   *Supervisor
	stop  func()
}

// newFakeStack must run inside synctest.Test. It links tenant "t1".
func newFakeStack(t *testing.T, cfg Config) *fakeStack {
	t.Helper()
	wa := newFakeWA()
	return newFakeStackWith(t, cfg, &fakeLauncher{wa: wa})
}

// newFakeStackWith is newFakeStack with a launcher of the caller's.
func newFakeStackWith(t *testing.T, cfg Config, l *fakeLauncher) *fakeStack {
	t.Helper()
	store := linkedStore(t, "t1")
	s := &fakeStack{t: t, wa: l.wa, l: l, store: store}
	s.start(cfg)
	t.Cleanup(func() { s.stop() }) // before linkedStore's close
	return s
}

// linkedStore opens a store in a temporary dir that holds the tenants ids,
// linked and active now; it is closed when the test ends.
func linkedStore(t *testing.T, ids ...string) *sessionstore.Store {
	t.Helper()
	store, err := sessionstore.Open(sessionstore.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, id := range ids {
		if err := store.PutTenant(sessionstore.Tenant{ID: id, Linked: true, CreatedAt: time.Now(), LastActive: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

func (s *fakeStack) start(cfg Config) {
	cfg.Store, cfg.TargetURL, cfg.Launcher = s.store, "http://fake.invalid", s.l
	if cfg.Log == nil {
		cfg.Log = zaptest.NewLogger(s.t)
	}
	s.sup, s.stop = runSupervisor(s.t, cfg)
}

// restart stops the Supervisor, as a daemon stop would, and starts a new one.
func (s *fakeStack) restart(cfg Config) {
	s.stop()
	s.start(cfg)
}

func (s *fakeStack) send(to, text string) Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: to, Text: text})
	if err != nil {
		s.t.Fatalf("Send(%s, %q): %v (message %+v)", to, text, err, m)
	}
	return m
}

func (s *fakeStack) accept(to, text string) Message {
	s.t.Helper()
	m, err := s.sup.Send(context.Background(), SendRequest{TenantID: "t1", To: to, Text: text, WaitAccepted: true})
	if err != nil {
		s.t.Fatalf("Send(%s, %q, accepted): %v", to, text, err)
	}
	return m
}

func (s *fakeStack) message(id string) Message {
	s.t.Helper()
	m, err := s.store.GetMessage("t1", id)
	if err != nil {
		s.t.Fatal(err)
	}
	return m
}

// waitState waits, in fake time, until message id is in state st.
func (s *fakeStack) waitState(id string, st MessageState) Message {
	s.t.Helper()
	for range 10000 {
		if m := s.message(id); m.State == st {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	m := s.message(id)
	s.t.Fatalf("message %s is %s, never %s: %+v", id, m.State, st, m)
	return m
}

// fakeConfig is the configuration the fake-page tests run with: no pacing.
func fakeConfig() Config {
	return Config{SendInterval: 0, SendJitter: 0, MaxAttempts: 5}
}

// bubble runs f in a synctest bubble.
func bubble(t *testing.T, f func(t *testing.T)) {
	synctest.Test(t, f)
}
