package waweb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/waweb"
)

// TestSendOnBothBuilds: on fakewa's older build and its 2026 build (fact
// 20), with the late editor, formatted texts go out once to a new recipient,
// an open chat and a @lid chat; a Prepare after them finds each by its
// rebuilt text (fact 18) among the chat's outgoing bubbles; and with a
// drawing the driver does not know, WaitAck still takes the new bubble,
// with Match false.
func TestSendOnBothBuilds(t *testing.T) {
	const lidChat = "15550005577" // fakewa names chats of numbers ending in 77 by a @lid (older build)
	for _, build := range fakewa.Builds {
		name := fakewa.BuildName(build)
		t.Run(name, func(t *testing.T) {
			e, ctx := linkedOnBuild(t, build, 600*time.Millisecond)
			texts := []struct{ to, text string }{
				{alice, "Your code is *4321*"},
				{alice, "_Order_ ~17~ ```A-7``` 👍🏽🇧🇷 https://shop.example/o?id=1"},
				{lidChat, "*bold _nested_* and snake_case_name\nsecond line"},
			}
			ids := map[string]string{}
			for _, c := range texts {
				id, err := e.page.Send(ctx, c.to, c.text)
				if err != nil {
					t.Fatalf("Send %.20q: %v", c.text, err)
				}
				m := e.received(t, account, c.to, c.text)
				sameID(t, id, m)
				switch {
				case build == fakewa.Build2026 && id != m.ID:
					t.Errorf("2026 build: id %q, want the bare id %q", id, m.ID)
				case build == fakewa.BuildDefault && c.to == lidChat && !strings.Contains(id, "@lid_"):
					t.Errorf("older build, @lid chat: id %q", id)
				}
				ids[c.text] = id
			}
			for _, c := range texts {
				d := lookup(t, ctx, e.page, c.to, c.text)
				if got := matching(d); len(got) != 1 || got[0].ID != ids[c.text] || !got[0].Acked {
					t.Errorf("Prepare(%.20q) matching %+v, want [%s acked]", c.text, got, ids[c.text])
				}
			}

			e.fake.SetOptions(func(o *fakewa.Options) { o.Drawing = fakewa.DrawingUnknown })
			const odd = "Drawn *oddly* 🔐"
			d, err := e.page.Prepare(ctx, alice, odd)
			if err != nil {
				t.Fatal(err)
			}
			b := clickUnmatched(t, ctx, e.page, d)
			sameID(t, b.ID, e.received(t, account, alice, odd))
		})
	}
}

// clickUnmatched clicks the draft d, prepared on a page that draws texts
// in a way the driver does not know, and waits for its ack: WaitAck must
// take the new bubble, acked, its text not matched.
func clickUnmatched(t *testing.T, ctx context.Context, p *waweb.Page, d waweb.Draft) waweb.Bubble {
	t.Helper()
	if clicked, err := p.Click(ctx, d); !clicked || err != nil {
		t.Fatalf("unknown drawing: Click: %v, %v", clicked, err)
	}
	b, err := p.WaitAck(ctx, d)
	if err != nil {
		t.Fatalf("WaitAck on an unknown drawing: %v", err)
	}
	if b.Match || !b.Acked {
		t.Errorf("WaitAck = %+v, want the new bubble acked, its text not matched", b)
	}
	return b
}
