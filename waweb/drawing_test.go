package waweb_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/waweb"
)

// The driver reads bubbles as the page contract draws them (facts 10, 18 and
// 20), on static DOM fixtures of both drawings: the older one (true_<jid>_
// ids, data-icon ticks, span.selectable-text) and the 2026 one (bare ids,
// svg icons marked by a title, state labels, span[dir] text).

// drawnCase is a text as sent and its text element's content as the page
// draws it (fact 18).
type drawnCase struct {
	name, sent, drawn string
}

var drawnCases = []drawnCase{
	{"plain", "hello", "hello"},
	{"bold", "Your code is *4321*", `Your code is <strong class="_ao3e" data-app-text-template="*${appText}*">4321</strong>`},
	{"italic strike mono", "_italic_ ~strike~ ```mono```",
		`<em data-app-text-template="_${appText}_">italic</em> <del data-app-text-template="~${appText}~">strike</del> <code data-app-text-template="` + "```${appText}```" + `">mono</code>`},
	{"nested", "*bold _both_ ~all~ end*",
		`<strong data-app-text-template="*${appText}*">bold <em data-app-text-template="_${appText}_">both</em> <del data-app-text-template="~${appText}~">all</del> end</strong>`},
	{"nested tight", "*_bold italic_*", `<strong data-app-text-template="*${appText}*"><em data-app-text-template="_${appText}_">bold italic</em></strong>`},
	{"markers inside mono", "```*not bold*```", `<code data-app-text-template="` + "```${appText}```" + `">*not bold*</code>`},
	{"word edges", "2*3*4 and snake_case_name stay", "2*3*4 and snake_case_name stay"},
	{"emoji", "Thanks 👩‍💻👍🏽🇧🇷1️⃣#️⃣ 👨‍👩‍👧‍👦 ok",
		`Thanks <img alt="👩‍💻" class="emoji" src="data:,"><img alt="👍🏽" src="data:,"><img alt="🇧🇷" src="data:,"><img alt="1️⃣" src="data:,"><img alt="#️⃣" src="data:,"> <img alt="👨‍👩‍👧‍👦" src="data:,"> ok`},
	{"link", "Track it: https://example.com/t?id=42&x=1 now",
		`Track it: <a href="https://example.com/t?id=42&amp;x=1" target="_blank" rel="noopener noreferrer">https://example.com/t?id=42&amp;x=1</a> now`},
	{"bold link", "*see www.example.com*", `<strong data-app-text-template="*${appText}*">see <a href="http://www.example.com">www.example.com</a></strong>`},
	{"br newlines", "line one\nline two\n\nline four", "line one<br>line two<br><br>line four"},
	{"text newlines", "first\nsecond", "first\nsecond"},
	{"bold over lines", "*Order 17*\nshipped _today_",
		`<strong data-app-text-template="*${appText}*">Order 17</strong><br>shipped <em data-app-text-template="_${appText}_">today</em>`},
}

// longText is shown cut, with "Read more".
var longText = strings.Repeat("The parcel is on its way. ", 40) + "*end*"

type build struct {
	name   string
	id     func(i int, out bool) string
	status func(ack int) string // ack 0 pending … 3 read
	text   func(inner string) string
}

var builds = []build{
	{"older", func(i int, out bool) string {
		return fmt.Sprintf("%t_15550002222@c.us_3EB0%016X", out, i)
	}, func(ack int) string {
		icon := []string{"msg-time", "msg-check", "msg-dblcheck", "msg-dblcheck"}[ack]
		return `<span data-icon="` + icon + `" aria-label="` + []string{" Pending ", " Sent ", " Delivered ", " Read "}[ack] + `"></span>`
	}, func(inner string) string {
		return `<span class="selectable-text copyable-text" dir="ltr">` + inner + `</span>`
	}},
	{"2026", func(i int, _ bool) string {
		return fmt.Sprintf("3A%018X", 0xABC000+i)
	}, func(ack int) string {
		return `<span aria-label="` + []string{" Pending ", " Sent ", " Delivered ", " Read "}[ack] + `"><svg viewBox="0 0 16 11" width="16" height="11"><title>` +
			[]string{"msg-time", "msg-check", "msg-dblcheck", "msg-dblcheck"}[ack] + `</title><path d="M0 0h1v1z"></path></svg></span>`
	}, func(inner string) string {
		return `<span dir="ltr" class="_ao3e x1iyjqo2">` + inner + `</span>`
	}},
}

// bubbleHTML draws one bubble of b: outgoing with ack (0-3) or incoming (ack < 0).
func (b build) bubbleHTML(i int, ack int, inner string, extra string) string {
	out := ack >= 0
	status := ""
	if out {
		status = `<div class="meta"><span>10:0` + fmt.Sprint(i%10) + `</span>` + b.status(ack) + `</div>`
	}
	return `<div role="row"><div class="` + map[bool]string{true: "message-out", false: "message-in"}[out] + `" data-id="` + b.id(i, out) + `">` +
		`<div class="copyable-text" data-pre-plain-text="[10:00, 12/6/2026] Someone: "><div>` + b.text(inner) + `</div>` + extra + `</div>` +
		status + `</div></div>`
}

// serveChat serves one page whose #main holds header and bubbles.
func serveChat(t *testing.T, header string, bubbles []string) string {
	t.Helper()
	page := `<!doctype html><html><head><meta charset="utf-8"></head><body><div id="app"><div id="side"><div id="pane-side"></div></div>` +
		`<div id="main"><header><div><span dir="auto">` + header + `</span></div><div><span>click here for contact info</span></div></header>` +
		`<div class="msgs" style="white-space: pre-wrap">` + strings.Join(bubbles, "\n") + `</div>` +
		`<footer><div contenteditable="true" role="textbox" data-tab="10"></div></footer></div></div></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func openFixture(t *testing.T, url string) *waweb.Page {
	t.Helper()
	tab := newTab(t)
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	return waweb.New(tab, url, waweb.DefaultSelectors())
}

func TestBubblesAsDrawn(t *testing.T) {
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			var html []string
			var want []string
			for i, c := range drawnCases {
				html = append(html, b.bubbleHTML(i, i%4, c.drawn, ""))
				want = append(want, c.sent)
			}
			n := len(drawnCases)
			// A long text, cut, with "Read more" inside the text element
			// and after it.
			cut := strings.Repeat("The parcel is on its way. ", 30)
			html = append(html,
				b.bubbleHTML(n, 1, cut+`… <span role="button" class="read-more-button">Read more</span>`, ""),
				b.bubbleHTML(n+1, 1, cut+"…", `<div role="button" class="read-more-button">Read more</div>`))
			want = append(want, longText, longText)
			// Incoming bubbles: the same text, no status (and a false_ id in the older drawing).
			html = append(html, b.bubbleHTML(n+2, -1, drawnCases[1].drawn, ""))
			want = append(want, drawnCases[1].sent)

			ctx := ctxFor(t, 30*time.Second)
			p := openFixture(t, serveChat(t, "+1 555-000-2222", html))
			got, err := waweb.ReadBubbles(ctx, p, want)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d bubbles, drew %d", len(got), len(want))
			}
			for i, g := range got {
				name := "read more"
				if i < n {
					name = drawnCases[i].name
				}
				if i < n && (g.Text == nil || *g.Text != want[i]) {
					t.Errorf("%s: rebuilt %q, want %q", name, deref(g.Text), want[i])
				}
				if !g.Match {
					t.Errorf("%s: does not match its text %q (rebuilt %q)", name, want[i], deref(g.Text))
				}
				if i == n+2 {
					if g.Out || g.Ack != -1 {
						t.Errorf("incoming bubble read as out=%t ack=%d", g.Out, g.Ack)
					}
					continue
				}
				wantAck := min(i%4, 2)
				if i >= n {
					wantAck = 1
				}
				if !g.Out || g.Ack != wantAck {
					t.Errorf("%s: out=%t ack=%d, want outgoing with ack %d", name, g.Out, g.Ack, wantAck)
				}
			}
		})
	}
}

// TestNewBubbleIsTheOneNotNoted: after a click, the new bubble is the
// outgoing one that was not noted, whatever its text shows; an incoming one
// is never taken.
func TestNewBubbleIsTheOneNotNoted(t *testing.T) {
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			sent := "Your code is *4321* 👍🏽"
			html := []string{
				b.bubbleHTML(0, 2, "earlier", ""),
				b.bubbleHTML(1, 1, `Your code is <strong data-app-text-template="*${appText}*">4321</strong> <img alt="👍🏽" src="data:,">`, ""),
				b.bubbleHTML(2, -1, "an answer", ""),
			}
			// A drawing the driver does not know: the emoji as a span with a
			// label, the markers with no template.
			unknown := b.bubbleHTML(3, 0, `<span class="new-wrap">Your code is <b>4321</b> <span role="img" aria-label="👍🏽"></span></span>`, "")
			ctx := ctxFor(t, 30*time.Second)
			p := openFixture(t, serveChat(t, "Ana (shop)", append(html, unknown)))
			got, err := waweb.ReadBubbles(ctx, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(got))
			for i, g := range got {
				ids[i] = g.ID
			}
			// Noted: the first two (outgoing). The known drawing is found with its text.
			nb, err := waweb.NewBubble(ctx, p, sent, []string{ids[0]})
			if err != nil || nb == nil || nb.ID != ids[1] || !nb.Match || !nb.Acked {
				t.Errorf("new bubble after noting the first = %+v, %v; want %s matching, acked", nb, err, ids[1])
			}
			// The unknown drawing is still the new bubble, with Match false.
			nb, err = waweb.NewBubble(ctx, p, sent, ids[:2])
			if err != nil || nb == nil || nb.ID != ids[3] || nb.Match || nb.Acked {
				t.Errorf("new bubble in an unknown drawing = %+v, %v; want %s, no match, pending", nb, err, ids[3])
			}
			// Everything noted: nothing new (the incoming one never counts).
			nb, err = waweb.NewBubble(ctx, p, sent, []string{ids[0], ids[1], ids[3]})
			if err != nil || nb != nil {
				t.Errorf("new bubble with all outgoing noted = %+v, %v; want none", nb, err)
			}
		})
	}
}

// TestForeignChat: the stale-chat check uses what the page shows, in either
// drawing: a jid of another number in an id, or a header naming another
// number; a contact's name in the header says nothing.
func TestForeignChat(t *testing.T) {
	old, d26 := builds[0], builds[1]
	ctx := ctxFor(t, 60*time.Second)
	for _, c := range []struct {
		name, header string
		bubbles      []string
		digits       string
		want         bool
	}{
		{"2026, the header's number", "+1 555-000-2222", []string{d26.bubbleHTML(0, 1, "hi", "")}, "15550002222", false},
		{"2026, another number in the header", "+1 555-000-3333", []string{d26.bubbleHTML(0, 1, "hi", "")}, "15550002222", true},
		{"2026, a contact's name", "Shop 24/7", []string{d26.bubbleHTML(0, 1, "hi", "")}, "15550009999", false},
		{"older, the chat's jid", "Ana", []string{old.bubbleHTML(0, 1, "hi", "")}, "15550002222", false},
		{"older, another jid", "Ana", []string{old.bubbleHTML(0, 1, "hi", "")}, "15550003333", true},
	} {
		p := openFixture(t, serveChat(t, c.header, c.bubbles))
		got, err := waweb.Foreign(ctx, p, c.digits)
		if err != nil || got != c.want {
			t.Errorf("%s: foreign(%s) = %t, %v; want %t", c.name, c.digits, got, err, c.want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<no text element>"
	}
	return *s
}
