package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Exactly once whatever the page draws (DESIGN.md facts 18 and 20, "Sends:
// exactly once"), on both page builds with fakewa's worst-case timings.

// drawnTexts are every format of fact 18, nested, at word edges, emoji
// sequences, links and newlines.
var drawnTexts = []string{
	"Your code is *4321*",
	"_italic_ ~strike~ ```mono``` and *bold _nested_ ~both~*",
	"2*3*4 and snake_case_name stay as typed, *a*b is no bold",
	"Thanks 👩‍💻👍🏽🇧🇷1️⃣ #️⃣ 👨‍👩‍👧‍👦!",
	"Track it: https://shop.example/t/17?x=1&y=2 or www.example.com",
	"*Order 17*\nshipped _today_\n\n```A-7```",
}

// lidContact is a recipient whose chat fakewa names by a @lid in its older
// build (fakewa's LidSuffix, default "77", fact 10).
const lidContact = "15550002277"

// messageIDOf gives the message id of a WhatsApp id: the end of
// "true_<jid>_<id>", or a bare id (fact 20) as it is.
func messageIDOf(waID string) string {
	if !strings.HasPrefix(waID, "true_") {
		return waID
	}
	return waID[strings.LastIndex(waID, "_")+1:]
}

// fakeByID is fakewa's log of account by message id.
func fakeByID(f *fake, account string) map[string]fakewa.Message {
	out := map[string]fakewa.Message{}
	for _, m := range f.Messages(account) {
		out[m.ID] = m
	}
	return out
}

// TestDrawnTextsExactlyOnce: every formatted text, emoji and link, a
// repeated formatted text, and texts in flight at a SIGKILL of the daemon,
// each arrive once with a WhatsApp id of their own, on both builds. Then a
// drawing the driver does not know: each message, texts and a file, still
// goes out once, SENT with its new bubble's id, never clicked twice.
func TestDrawnTextsExactlyOnce(t *testing.T) {
	for _, build := range fakewa.Builds {
		name := fakewa.BuildName(build)
		t.Run(name, func(t *testing.T) {
			t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
			o := fakewa.WorstCaseOptions()
			o.Build = build
			f, d := startStackWith(t, o)
			link(t, d, f, "shop", accountA)
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
			defer cancel()

			type sent struct{ to, text, waID string }
			var all []sent
			want := map[string]int{} // to + text → times accepted
			check := func(m *wapoolv1.Message, to, text string) {
				t.Helper()
				if m.GetState() != wapoolv1.MessageState_MESSAGE_STATE_SENT || m.GetWaMessageId() == "" {
					t.Fatalf("%.30q to %s: %v", text, to, m)
				}
				if build == fakewa.Build2026 && strings.Contains(m.GetWaMessageId(), "_") {
					t.Errorf("wa id %q on the 2026 build, want a bare id", m.GetWaMessageId())
				}
				all = append(all, sent{to, text, m.GetWaMessageId()})
				want[to+"\x00"+text]++
			}
			for i, text := range drawnTexts {
				to := contact1
				if i%2 == 1 {
					to = lidContact
				}
				m, err := send(ctx, d, "shop", to, text)
				if err != nil {
					t.Fatalf("%.30q: %v", text, err)
				}
				check(m, to, text)
			}
			const same = "Your code is *4321*"
			for range 3 {
				m, err := send(ctx, d, "shop", contact2, same)
				if err != nil {
					t.Fatal(err)
				}
				check(m, contact2, same)
			}

			// In flight at a SIGKILL of the daemon.
			var ids []string
			inFlight := []string{same, same, "*kill* _me_ 📦 https://shop.example/k", same}
			for _, text := range inFlight {
				resp, err := d.client().Send(ctx, &wapoolv1.SendRequest{TenantId: "shop", To: contact2, Text: text, Wait: wapoolv1.Wait_WAIT_ACCEPTED})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, resp.GetMessage().GetId())
			}
			waitFor(t, "the first in-flight message to be clicked", time.Minute, func() bool {
				return len(received(f, accountA, contact2)) > 3
			})
			if err := d.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-d.exited
			waitNoBrowsers(t, d.dataDir, 10*time.Second)
			d = startDaemon(t, d.opts)
			for i, id := range ids {
				var m *wapoolv1.Message
				waitFor(t, "message "+id+" SENT", 3*time.Minute, func() bool {
					r, err := d.client().GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop", MessageId: id})
					if err == nil && r.GetMessage().GetState() == wapoolv1.MessageState_MESSAGE_STATE_FAILED {
						t.Fatalf("message %s FAILED: %s (%s)", id, r.GetMessage().GetError(), r.GetMessage().GetErrorReason())
					}
					m = r.GetMessage()
					return err == nil && m.GetState() == wapoolv1.MessageState_MESSAGE_STATE_SENT
				})
				check(m, contact2, inFlight[i])
			}

			// A drawing the driver does not know (fakewa's unknown drawing).
			f.SetOptions(func(o *fakewa.Options) { o.Drawing = fakewa.DrawingUnknown })
			for i := range 2 {
				text := fmt.Sprintf("Unknown drawing *%d* 🔐", i)
				m, err := send(ctx, d, "shop", contact1, text)
				if err != nil {
					t.Fatal(err)
				}
				check(m, contact1, text)
				if m.GetAttempts() != 1 {
					t.Errorf("%q took %d attempts, want 1", text, m.GetAttempts())
				}
			}
			// A file whose caption is drawn so (fact 19): once, too.
			file := mediaFile{name: "unknown-drawing.pdf", caption: "Unknown drawing *file* 📎", data: testPDF(40<<10, 7),
				mime: "application/pdf", document: true}
			m, err := sendFile(ctx, d, "shop", contact1, "", file, wapoolv1.Wait_WAIT_SENT)
			if err != nil {
				t.Fatal(err)
			}
			checkArrivedOnce(t, f, accountA, contact1, file, m)
			check(m, contact1, file.caption)
			if m.GetAttempts() != 1 {
				t.Errorf("the file took %d attempts, want 1", m.GetAttempts())
			}
			if !strings.Contains(d.log(), "another text than sent") {
				t.Error("no mismatch was logged for the unknown drawing")
			}

			// The judge: fakewa's log, by WhatsApp id.
			log := fakeByID(f, accountA)
			got := map[string]int{}
			for _, m := range log {
				got[strings.TrimPrefix(m.To, "+")+"\x00"+m.Text]++
			}
			for k, n := range want {
				if got[k] != n {
					to, text, _ := strings.Cut(k, "\x00")
					t.Errorf("%.30q to %s arrived %d times, want %d", text, to, got[k], n)
				}
			}
			if len(log) != len(all) {
				t.Errorf("fakewa holds %d messages, %d were sent", len(log), len(all))
			}
			claimed := map[string]bool{}
			for _, s := range all {
				id := messageIDOf(s.waID)
				m, ok := log[id]
				switch {
				case !ok:
					t.Errorf("wa id %s of %.30q names no message of fakewa", s.waID, s.text)
				case m.Text != s.text || strings.TrimPrefix(m.To, "+") != s.to:
					t.Errorf("wa id %s of %.30q names fakewa's %.30q", s.waID, s.text, m.Text)
				case claimed[id]:
					t.Errorf("wa id %s given to two messages", s.waID)
				}
				claimed[id] = true
				if build == fakewa.BuildDefault && s.to == lidContact && !strings.Contains(s.waID, "@lid_") {
					t.Errorf("wa id %s to the @lid chat", s.waID)
				}
			}
		})
	}
}
