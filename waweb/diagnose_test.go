package waweb_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/waweb"
)

// checkOf finds the check named name.
func checkOf(d waweb.Diagnosis, name string) (waweb.Check, bool) {
	for _, c := range d.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return waweb.Check{}, false
}

// noPrivateData fails when a detail shows digits of a phone number or a
// message's text.
func noPrivateData(t *testing.T, d waweb.Diagnosis, secrets ...string) {
	t.Helper()
	for _, c := range d.Checks {
		if regexp.MustCompile(`[0-9]{5,}`).MatchString(c.Detail) {
			t.Errorf("check %s shows a number: %s", c.Name, c.Detail)
		}
		for _, s := range secrets {
			if strings.Contains(c.Detail, s) {
				t.Errorf("check %s shows %q: %s", c.Name, s, c.Detail)
			}
		}
	}
}

// TestDiagnose: the doctor's probes on fakewa's page, both builds: the
// plain form classifies the page and checks the open chat (read-only), the
// deep form opens the tenant's own chat and types without sending, a broken
// selector is named with the skeleton around it and no private data, and a
// landing or a hung page gets a clear answer, not a hang.
func TestDiagnose(t *testing.T) {
	for _, build := range fakewa.Builds {
		name := fakewa.BuildName(build)
		t.Run(name, func(t *testing.T) {
			e, ctx := linkedOnBuild(t, build, 400*time.Millisecond)

			d, err := e.page.Diagnose(ctx, false, "")
			if err != nil {
				t.Fatal(err)
			}
			if !d.OK() || d.State != waweb.StateMain {
				t.Fatalf("plain diagnosis of the main screen: %+v", d)
			}
			const secret = "Secret *order* 4711"
			if _, err := e.page.Send(ctx, alice, secret); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			d, err = e.page.Diagnose(ctx, false, "")
			took := time.Since(t0)
			if err != nil || !d.OK() {
				t.Fatalf("plain diagnosis of an open chat: %+v, %v", d, err)
			}
			for _, want := range []string{"page_state", "pane_side", "compose", "drawing", "bubble_text", "msg_check"} {
				if _, ok := checkOf(d, want); !ok {
					t.Errorf("no %s check in %+v", want, d.Checks)
				}
			}
			if want := map[string]string{"": "older", "2026": "2026"}[build]; d.Drawing != want {
				t.Errorf("drawing %q, want %q", d.Drawing, want)
			}
			t.Logf("plain diagnosis took %v", took)

			before := len(e.fake.Messages(account))
			t0 = time.Now()
			d, err = e.page.Diagnose(ctx, true, account)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("deep diagnosis took %v", time.Since(t0))
			fact19 := []string{"attach_button", "file_input_media", "file_input_document", "preview_caption", "preview_send_button", "preview_close_button"}
			for _, want := range append([]string{"chat_link", "compose", "send_button"}, fact19...) {
				if c, ok := checkOf(d, want); !ok || !c.OK {
					t.Errorf("deep check %s: %+v (found %t)", want, c, ok)
				}
			}
			if n := len(e.fake.Messages(account)); n != before {
				t.Errorf("the deep diagnosis sent %d messages", n-before)
			}
			if e.previewShows(t) {
				t.Error("the deep diagnosis left a file's preview open")
			}
			noPrivateData(t, d, secret)

			// A fact-19 selector the page no longer matches is named; the
			// preview or menu is closed again and nothing is sent.
			for _, c := range []struct {
				key   string
				spoil func(*waweb.Selectors)
			}{
				{"attach_button", func(s *waweb.Selectors) { s.AttachButton = "#main button.nothing" }},
				{"file_input_media", func(s *waweb.Selectors) { s.FileInputMedia = `input[type="file"][data-nothing]` }},
				{"file_input_document", func(s *waweb.Selectors) { s.FileInputDocument = `input[type="file"][data-nothing]` }},
				{"preview_send_button", func(s *waweb.Selectors) { s.PreviewSendButton = "button.nothing" }},
			} {
				sel := waweb.DefaultSelectors()
				c.spoil(&sel)
				bp := waweb.New(e.tab, e.url, sel)
				bp.SetLimits(waweb.Limits{InAppOpen: time.Second, ChatOpen: 2 * time.Second, Control: time.Second})
				d, err := bp.Diagnose(ctx, true, account)
				if err != nil {
					t.Fatalf("%s broken: %v", c.key, err)
				}
				if f, _ := d.Failed(); f.Name != c.key || f.Selector == "" {
					t.Errorf("%s broken: first failing check %+v, want %s", c.key, f, c.key)
				}
				if e.previewShows(t) {
					t.Errorf("%s broken: a file's preview stays open", c.key)
				}
				if n := len(e.fake.Messages(account)); n != before {
					t.Errorf("%s broken: the deep diagnosis sent %d messages", c.key, n-before)
				}
			}
			// The page is as it was: the deep doctor passes again.
			if d, err := e.page.Diagnose(ctx, true, account); err != nil || !d.OK() {
				t.Errorf("deep diagnosis after the broken ones: %+v, %v", d, err)
			}

			// A selector the page no longer matches is named, with the
			// skeleton around it and nothing private.
			broken := waweb.DefaultSelectors()
			broken.Compose = `footer div[contenteditable="true"][role="textbox"][data-tab="99"]`
			bp := waweb.New(e.tab, e.url, broken)
			bp.SetLimits(waweb.Limits{InAppOpen: time.Second, ChatOpen: 2 * time.Second})
			if _, err := e.page.Send(ctx, alice, secret); err != nil {
				t.Fatal(err)
			}
			d, err = bp.Diagnose(ctx, false, "")
			if err != nil {
				t.Fatal(err)
			}
			c, ok := checkOf(d, "compose")
			if !ok || c.OK || c.Selector != broken.Compose || !strings.Contains(c.Detail, "<footer") || !strings.Contains(c.Detail, `contenteditable="true"`) {
				t.Errorf("broken compose: %+v", c)
			}
			if f, _ := d.Failed(); f.Name != "compose" {
				t.Errorf("first failing check %q, want compose", f.Name)
			}
			noPrivateData(t, d, secret, "order")
			_, err = bp.Prepare(ctx, bob, "held")
			var ce *waweb.ContractError
			if !errors.As(err, &ce) || ce.Check != "compose" || !errors.Is(err, waweb.ErrPageContract) {
				t.Errorf("Prepare with the broken selector: %v, want a ContractError naming compose", err)
			}

			// Logged out: the landing, a clear answer.
			e.fake.Logout(account)
			e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.State == waweb.StateLanding })
			d, err = e.page.Diagnose(ctx, true, account)
			if c, ok := checkOf(d, "page_state"); err != nil || !ok || c.OK || !strings.Contains(c.Detail, "not linked") {
				t.Errorf("diagnosis of the landing: %+v, %v", d, err)
			}
			// A hung page: an error within the caller's bound, no hang.
			e.fake.SetHang(true)
			defer e.fake.SetHang(false)
			hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			t0 = time.Now()
			for time.Since(t0) < 10*time.Second {
				if _, err = e.page.Diagnose(hctx, false, ""); err != nil {
					break
				}
			}
			if err == nil || time.Since(t0) > 6*time.Second {
				t.Errorf("diagnosis of a hung page: %v after %v, want an error within the bound", err, time.Since(t0))
			}
		})
	}
}
