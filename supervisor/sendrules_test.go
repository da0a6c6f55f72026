package supervisor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// The send rules of DESIGN.md "Sends: exactly once", on the fake page under
// testing/synctest.

const (
	alice = "15550002222"
	bob   = "15550003333"
)

// A failure before the click: the next attempt sends at once, with no
// lookup (the message was never marked clicked).
func TestSendFailureBeforeClickResends(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		fails := 1
		var clickedAtSecondPrepare []bool
		s.wa.prepare = func(to, text string) error {
			if fails > 0 {
				fails--
				return errors.New("compose box: page closed")
			}
			// What the outbox says when the second attempt starts.
			p, _ := s.store.Pending("t1")
			for _, m := range p {
				clickedAtSecondPrepare = append(clickedAtSecondPrepare, m.Clicked)
			}
			return nil
		}
		m := s.send(alice, "hello")
		if m.State != MessageSent || m.Attempts != 2 {
			t.Fatalf("message %+v: want SENT after 2 attempts", m)
		}
		if !slices.Equal(clickedAtSecondPrepare, []bool{false}) {
			t.Errorf("clicked mark at the second attempt: %v, want [false]", clickedAtSecondPrepare)
		}
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"hello"}) {
			t.Errorf("delivered %q, want one hello", got)
		}
		if s.wa.clickCount() != 1 {
			t.Errorf("%d clicks, want 1", s.wa.clickCount())
		}
		if m.WAMessageID != s.wa.ids(alice)[0] {
			t.Errorf("wa id %q, want %q", m.WAMessageID, s.wa.ids(alice)[0])
		}
	})
}

// A click that went out but whose ack never came (the browser died): the
// lookup finds the bubble, and the message is SENT with it, not sent twice.
func TestSendFailureAfterClickLookupFindsBubble(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.wa.mu.Lock()
		s.wa.deliver(alice, "hello", true) // an older identical text: noted, not ours
		s.wa.mu.Unlock()
		fails := 1
		s.wa.ack = func(waweb.Draft) error {
			if fails > 0 {
				fails--
				return waweb.ErrNotAcked
			}
			return nil
		}
		m := s.send(alice, "hello")
		ids := s.wa.ids(alice)
		if got := s.wa.delivered(alice); len(got) != 2 {
			t.Fatalf("delivered %q, want the old hello and one new", got)
		}
		if m.State != MessageSent || m.WAMessageID != ids[1] || m.Attempts != 2 {
			t.Errorf("message %+v: want SENT with %s after 2 attempts", m, ids[1])
		}
		if s.wa.clickCount() != 1 {
			t.Errorf("%d clicks, want 1", s.wa.clickCount())
		}
		if !slices.Equal(m.Noted, ids[:1]) || !m.Clicked {
			t.Errorf("clicked %v noted %v, want the old bubble noted", m.Clicked, m.Noted)
		}
	})
}

// A click that did not send (the page died at the click): the lookup finds
// no new bubble, and the message is sent once more, once.
func TestSendFailureAfterClickNothingOutResendsOnce(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.wa.mu.Lock()
		s.wa.deliver(alice, "hello", true)
		s.wa.mu.Unlock()
		s.wa.click = firstClickLost(errors.New("target closed")) // clicked, nothing went out
		m := s.send(alice, "hello")
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"hello", "hello"}) {
			t.Fatalf("delivered %q, want the old hello and one new", got)
		}
		if m.State != MessageSent || m.WAMessageID != s.wa.ids(alice)[1] || s.wa.clickCount() != 2 {
			t.Errorf("message %+v after %d clicks: want SENT with the new bubble after 2 clicks", m, s.wa.clickCount())
		}
	})
}

// The lost message of issue 12: the same text to A, another text to B, the
// same text to A again, whose first attempt fails before the click. Both
// texts to A go out, with distinct ids; an earlier bubble is never taken.
func TestSendTwoIdenticalTexts(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		m1 := s.send(alice, "Your code is 1234")
		s.send(bob, "other")
		fails := 1
		s.wa.prepare = func(to, text string) error {
			if to == alice && fails > 0 {
				fails--
				return waweb.ErrComposeMismatch
			}
			return nil
		}
		m3 := s.send(alice, "Your code is 1234")
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"Your code is 1234", "Your code is 1234"}) {
			t.Fatalf("alice got %q, want the text twice", got)
		}
		if m3.WAMessageID == m1.WAMessageID || m3.WAMessageID != s.wa.ids(alice)[1] {
			t.Errorf("ids %s and %s: want two distinct bubbles", m1.WAMessageID, m3.WAMessageID)
		}

		// And when the second one was clicked before a crash that lost it:
		// the first one's bubble (noted, and claimed) is not taken for it.
		s.wa.click = firstClickLost(errors.New("browser gone"))
		m4 := s.send(alice, "Your code is 1234")
		if got := s.wa.delivered(alice); len(got) != 3 {
			t.Fatalf("alice got %d messages, want 3", len(got))
		}
		if m4.WAMessageID != s.wa.ids(alice)[2] {
			t.Errorf("m4 id %s, want the third bubble %s", m4.WAMessageID, s.wa.ids(alice)[2])
		}
	})
}

// A bubble that is the WhatsApp id of another message is not taken, even
// when the noted list does not name it.
func TestSendLookupSkipsClaimedBubble(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		m1 := s.send(alice, "same")
		s.stop()
		// A message marked clicked with an empty noted list, as after a
		// click into a chat whose history was not recorded.
		m2, _, err := s.store.Enqueue(sessionstore.Message{TenantID: "t1", To: alice, Text: "same"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.store.UpdateMessage("t1", m2.ID, func(x *Message) {
			x.State, x.Attempts, x.Clicked, x.Noted = MessageSending, 1, true, nil
		}); err != nil {
			t.Fatal(err)
		}
		s.start(fakeConfig())
		m2 = s.waitState(m2.ID, MessageSent)
		if m2.WAMessageID == m1.WAMessageID {
			t.Fatalf("the second message took the first one's bubble %s", m1.WAMessageID)
		}
		if got := s.wa.delivered(alice); len(got) != 2 {
			t.Errorf("alice got %d messages, want 2", len(got))
		}
	})
}

// A lookup in a chat whose messages do not show: no conclusion, the attempt
// counts, the message ends FAILED after the limit, and the queue moves on.
func TestSendLookupChatNotLoadedCountsAndFails(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.send(alice, "earlier") // the chat has a bubble
		s.wa.ack = func(d waweb.Draft) error {
			if d.Text == "stuck" {
				return waweb.ErrNotAcked
			}
			return nil
		}
		// "stuck" is clicked but never shows; after that click, the chat
		// never shows its messages again.
		clicked := false
		s.wa.click = func(d waweb.Draft) (bool, bool, bool, error) {
			if d.Text == "stuck" {
				clicked = true
				return false, false, true, nil
			}
			return true, true, true, nil
		}
		s.wa.hideChat = func(to string) bool { return clicked && to == alice }
		stuck := s.accept(alice, "stuck")
		next := s.accept(bob, "after")
		m := s.waitState(stuck.ID, MessageFailed)
		if m.Attempts != 5 || m.ErrorReason != ReasonSendFailed || !strings.Contains(m.Error, errChatNotLoaded.Error()) {
			t.Errorf("stuck: %+v, want FAILED after 5 attempts with SEND_FAILED", m)
		}
		if s.wa.clickCount() != 2 { // "earlier" and the one click of "stuck"
			t.Errorf("%d clicks, want 2: a lookup in a chat without its messages must not resend", s.wa.clickCount())
		}
		if n := s.waitState(next.ID, MessageSent); n.Attempts != 1 {
			t.Errorf("the next message: %+v", n)
		}
	})
}

// A lookup that keeps failing (a store or page error) is counted too: the
// message cannot block its tenant's queue.
func TestSendLookupErrorCounted(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.wa.click = func(d waweb.Draft) (bool, bool, bool, error) {
			return false, false, true, errors.New("browser gone") // clicked, lost
		}
		first := s.accept(alice, "one")
		// Every Prepare after the first click fails: the lookup cannot run.
		s.wa.prepare = func(to, text string) error {
			if s.wa.clicks > 0 && to == alice {
				return errors.New("page does not answer")
			}
			return nil
		}
		m := s.waitState(first.ID, MessageFailed)
		if m.Attempts != 5 || !m.Clicked {
			t.Errorf("%+v: want FAILED after 5 attempts, still marked clicked", m)
		}
		s.wa.mu.Lock()
		s.wa.click = nil
		s.wa.mu.Unlock()
		if n := s.send(bob, "two"); n.State != MessageSent {
			t.Errorf("the next message: %+v", n)
		}
	})
}

// A Logout wakes a caller waiting for SENT: its message is FAILED with
// reason LOGGED_OUT.
func TestSendLogoutWakesWaiter(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := fakeConfig()
		cfg.MaxAttempts = 1000
		s := newFakeStack(t, cfg)
		s.wa.prepare = func(string, string) error { return errors.New("the chat does not open") }
		type result struct {
			m   Message
			err error
		}
		done := make(chan result, 1)
		go func() {
			m, err := s.sup.Send(context.Background(), SendRequest{TenantID: "t1", To: alice, Text: "never"})
			done <- result{m, err}
		}()
		time.Sleep(5 * time.Second) // fake time: a few failed attempts
		if err := s.sup.Logout(context.Background(), "t1"); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || r.m.State != MessageFailed || r.m.ErrorReason != ReasonLoggedOut {
			t.Errorf("Send after Logout = %+v, %v; want FAILED with LOGGED_OUT and no error", r.m, r.err)
		}
	})
}

// The daemon's drain answers a waiting Send with its QUEUED message and no
// error; after the restart the message goes out once.
func TestSendDrainAnswersQueued(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		blocked := true
		s.wa.prepare = func(string, string) error {
			if blocked {
				return errors.New("the chat does not open")
			}
			return nil
		}
		type result struct {
			m   Message
			err error
		}
		done := make(chan result, 1)
		go func() {
			m, err := s.sup.Send(context.Background(), SendRequest{TenantID: "t1", To: alice, Text: "later"})
			done <- result{m, err}
		}()
		time.Sleep(time.Second)
		s.sup.Drain()
		r := <-done
		if r.err != nil || r.m.State.Finished() {
			t.Fatalf("Send at the drain = %+v, %v; want the pending message and no error", r.m, r.err)
		}
		s.wa.mu.Lock()
		blocked = false
		s.wa.mu.Unlock()
		s.restart(fakeConfig())
		if m := s.waitState(r.m.ID, MessageSent); m.WAMessageID == "" {
			t.Errorf("after the restart: %+v", m)
		}
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"later"}) {
			t.Errorf("delivered %q, want one", got)
		}
	})
}

// A browser killed after the click and before the ack: the restarted
// browser's lookup finds the bubble; nothing is sent twice.
func TestSendBrowserKilledAfterClick(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		killed := false
		s.wa.click = func(d waweb.Draft) (bool, bool, bool, error) {
			if !killed {
				killed = true
				s.l.kill() // the browser dies right after the click
			}
			return true, true, true, nil // the message went out
		}
		m := s.accept(alice, "once")
		m = s.waitState(m.ID, MessageSent)
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"once"}) {
			t.Errorf("delivered %q, want once", got)
		}
		if s.wa.clickCount() != 1 || s.l.launchCount() < 2 {
			t.Errorf("%d clicks and %d launches, want 1 click and a restart", s.wa.clickCount(), s.l.launchCount())
		}
		if m.WAMessageID != s.wa.ids(alice)[0] {
			t.Errorf("id %s, want %s", m.WAMessageID, s.wa.ids(alice)[0])
		}
	})
}
