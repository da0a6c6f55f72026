package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// When WhatsApp Web changes (docs/operations.md, "WhatsApp Web changed"):
// for each of fakewa's variants, which rename what WhatsApp builds rename,
// the doctor names the check that broke; a variant that breaks sending
// holds the queue with nothing sent; and the override written to the
// selectors file and reloaded with SIGHUP (no restart, no re-link) lets the
// held messages go out exactly once, in order.
func TestPageVariantsDoctorAndReload(t *testing.T) {
	for _, c := range []struct {
		variant, build, check string
		holds                 bool // the variant breaks sending: the queue is held
	}{
		{fakewa.VariantSendIcon, fakewa.BuildDefault, "send_button", true},
		{fakewa.VariantComposeWrapper, fakewa.Build2026, "compose", true},
		{fakewa.VariantAttachIcon, fakewa.Build2026, "attach_button", false},
		{fakewa.VariantBubbleText, fakewa.BuildDefault, "bubble_text", false},
	} {
		t.Run(c.variant, func(t *testing.T) {
			t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
			o := fakewa.FastOptions()
			o.Variant, o.Build = c.variant, c.build
			selectors := filepath.Join(t.TempDir(), "selectors.json")
			if err := os.WriteFile(selectors, []byte("{}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			f, d := startStackWith(t, o, "--selectors", selectors)
			link(t, d, f, "shop", accountA)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			status := func() *wapoolv1.Session { return sessionStatus(t, d, "shop") }
			doctor := func(deep bool) *wapoolv1.DiagnoseResponse {
				t.Helper()
				r, err := d.client().Diagnose(ctx, &wapoolv1.DiagnoseRequest{TenantId: "shop", Deep: deep})
				if err != nil {
					t.Fatalf("Diagnose: %v", err)
				}
				return r
			}
			failing := func(r *wapoolv1.DiagnoseResponse) []string {
				var out []string
				for _, ch := range r.GetChecks() {
					if !ch.GetOk() {
						out = append(out, ch.GetName())
						if strings.Contains(ch.GetDetail(), accountA) || strings.Contains(ch.GetDetail(), contact1) {
							t.Errorf("check %s shows a phone number: %s", ch.GetName(), ch.GetDetail())
						}
					}
				}
				return out
			}

			texts := []string{"held *one*", "held two", "held *three* 📦"}
			var ids []string
			if c.holds {
				for _, text := range texts {
					resp, err := d.client().Send(ctx, &wapoolv1.SendRequest{TenantId: "shop", To: contact1, Text: text, Wait: wapoolv1.Wait_WAIT_ACCEPTED})
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, resp.GetMessage().GetId())
				}
				waitFor(t, "the queue held on "+c.check, time.Minute, func() bool { return status().GetPageContract() == c.check })
				s := status()
				if !strings.Contains(s.GetLastError(), c.check) || s.GetState() != wapoolv1.SessionState_SESSION_STATE_READY {
					t.Errorf("status while held: %v", s)
				}
				// A held attempt is uncounted when it ends: between two
				// tries each message is QUEUED with no attempt counted.
				for _, id := range ids {
					waitFor(t, "message "+id+" QUEUED with no attempt", time.Minute, func() bool {
						r, err := d.client().GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop", MessageId: id})
						m := r.GetMessage()
						return err == nil && m.GetAttempts() == 0 && m.GetState() == wapoolv1.MessageState_MESSAGE_STATE_QUEUED
					})
				}
			} else {
				m, err := send(ctx, d, "shop", contact1, "goes out *anyway*")
				if err != nil || m.GetState() != wapoolv1.MessageState_MESSAGE_STATE_SENT {
					t.Fatalf("send on the %s variant: %v, %v", c.variant, m, err)
				}
			}
			// The doctor names the check (the plain form reads the chat
			// the sends opened; the deep one types into the tenant's own).
			got := failing(doctor(c.variant != fakewa.VariantBubbleText))
			if !slices.Contains(got, c.check) {
				t.Errorf("the doctor's failing checks %q, want %s named", got, c.check)
			}
			if c.holds {
				if n := len(received(f, accountA, contact1)); n != 0 {
					t.Fatalf("%d messages went out while the contract was broken", n)
				}
			}

			// The override, reloaded with SIGHUP: no restart, no re-link.
			pid := status().GetBrowser().GetPid()
			if err := os.WriteFile(selectors, []byte(fakewa.VariantSelectors[c.variant]), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := d.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the selectors reloaded", 30*time.Second, func() bool { return strings.Contains(d.log(), "selectors reloaded") })
			if c.holds {
				for _, id := range ids {
					waitFor(t, "message "+id+" SENT", time.Minute, func() bool {
						r, err := d.client().GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop", MessageId: id})
						return err == nil && r.GetMessage().GetState() == wapoolv1.MessageState_MESSAGE_STATE_SENT
					})
				}
				if got := received(f, accountA, contact1); !slices.Equal(got, texts) {
					t.Errorf("after the reload contact1 got %q, want %q once each, in order", got, texts)
				}
				if s := status(); s.GetPageContract() != "" {
					t.Errorf("status after the reload: %v", s)
				}
			}
			if got := failing(doctor(true)); len(got) != 0 {
				t.Errorf("the deep doctor after the reload fails %q", got)
			}
			if c.variant == fakewa.VariantBubbleText {
				if got := failing(doctor(false)); len(got) != 0 {
					t.Errorf("the doctor after the reload fails %q", got)
				}
			}
			if s := status(); s.GetBrowser().GetPid() != pid || !s.GetLinked() {
				t.Errorf("the reload restarted the browser or lost the link: pid %d then %v", pid, s)
			}
		})
	}
}
