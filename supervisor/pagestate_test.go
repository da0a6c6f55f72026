package supervisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
)

// TestHeadlessUserAgentFails: the "update Chrome" page makes the session
// FAILED with a reason, and the Link waiting on it ends with that error.
func TestHeadlessUserAgentFails(t *testing.T) {
	cfg := Config{}
	cfg.Browser.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
	s := newStack(t, fakewa.FastOptions(), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.sup.Link(ctx, "t1", "", func(LinkEvent) error { return nil })
	if !errors.Is(err, ErrSessionFailed) {
		t.Fatalf("Link: %v, want ErrSessionFailed", err)
	}
	st := s.status("t1")
	if st.State != StateFailed || !strings.Contains(st.LastError, "update Chrome") || st.Running {
		t.Fatalf("status: %+v", st)
	}
}

// TestConflictUseHereOnceThenFailed: two tenants linked to one account take
// the session from each other; each clicks "Use here" once, and the one that
// sees the dialog again at once gives up (FAILED) instead of fighting.
func TestConflictUseHereOnceThenFailed(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	s.link("t1", phoneA)
	s.link("t2", phoneA)
	var failed, other string
	waitFor(t, "one of them FAILED", 30*time.Second, func() bool {
		for _, p := range [][2]string{{"t1", "t2"}, {"t2", "t1"}} {
			if s.status(p[0]).State == StateFailed {
				failed, other = p[0], p[1]
				return true
			}
		}
		return false
	})
	if st := s.status(failed); !strings.Contains(st.LastError, "another window") {
		t.Fatalf("%s failed with %q", failed, st.LastError)
	}
	waitFor(t, other+" READY", 20*time.Second, func() bool { return s.status(other).State == StateReady })
	s.sendOK(other, contactA, "the survivor sends")
}
