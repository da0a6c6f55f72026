package waweb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wapool/wapool/internal/redact"
)

// Check is one probe of the page contract on the live page.
type Check struct {
	// Name is the Selectors key (JSON name) the check relies on, such as
	// "compose" or "send_button", or the fact's name where no single
	// selector applies ("page_state", "drawing").
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Selector is the selector in force for Name; "" for a fact.
	Selector string `json:"selector"`
	// Detail says what was seen. For a failing selector it holds the DOM
	// skeleton where the element should be: tags and attributes, with the
	// values of attributes that can hold message text, names or numbers
	// left out and digits masked. Never message text, names or numbers.
	Detail string `json:"detail"`
}

// Diagnosis is what Diagnose found.
type Diagnosis struct {
	State State
	// Drawing names the drawing the page uses: "older" (true_<jid>_ ids,
	// data-icon ticks), "2026" (bare ids, svg icons, state labels: fact 20),
	// or "" when no bubble shows.
	Drawing string
	Checks  []Check
}

// OK reports whether every check passed.
func (d Diagnosis) OK() bool {
	for _, c := range d.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Failed returns the first failing check, if any.
func (d Diagnosis) Failed() (Check, bool) {
	for _, c := range d.Checks {
		if !c.OK {
			return c, true
		}
	}
	return Check{}, false
}

type diagResult struct {
	State   string  `json:"state"`
	Drawing string  `json:"drawing"`
	Checks  []Check `json:"checks"`
}

// Diagnose runs the contract's probes on the page as it is. The plain form
// is read-only: it classifies the page (facts 1-5, 12, 13) and checks the
// selectors of the screen it shows (the landing's QR, the chat list, and
// in an open chat its compose box, header and bubbles: facts 7, 10, 18,
// 20). With deep, it also opens the chat with self (the tenant's own
// number, "message yourself", fact 14), checks that the editor takes input
// (fact 17) and that the send button shows while the box holds text (fact
// 8), and empties the box; then it checks fact 19: the attach button
// opens the menu with both file inputs, a small text file set on the
// documents input opens a preview with a caption box and a send button,
// and the preview is discarded (Escape, else its close button): nothing is
// ever sent. Checks name what failed;
// the error is for a page that does not answer.
func (p *Page) Diagnose(ctx context.Context, deep bool, self string) (Diagnosis, error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	r, err := eval[diagResult](cctx, p, jsDiagnose, nil)
	if err != nil {
		return Diagnosis{}, fmt.Errorf("diagnose: %w", err)
	}
	d := Diagnosis{State: parseState(r.State), Drawing: r.Drawing, Checks: r.Checks}
	if !deep || d.State != StateMain {
		return d, nil
	}
	return p.diagnoseDeep(cctx, d, self)
}

// probeText is what the deep check types into the box, and empties.
const probeText = "wapool doctor: typing check, never sent"

func (p *Page) diagnoseDeep(ctx context.Context, d Diagnosis, self string) (Diagnosis, error) {
	sel := p.sel()
	add := func(c Check) { d.Checks = append(d.Checks, c) }
	if self == "" {
		add(Check{Name: "linked_phone_keys", Selector: fmt.Sprint(sel.LinkedPhoneKeys), Detail: "the page names no linked account: its own chat cannot be opened"})
		return d, nil
	}
	if err := p.openChat(ctx, self); err != nil {
		c := Check{Name: "chat_link", Selector: sel.ChatLink, Detail: fmt.Sprintf("opening the tenant's own chat (%s) failed: %v", redact.Phone(self), err)}
		if ce, ok := asContract(err); ok {
			c.Name, c.Selector = ce.Check, p.selectorOf(ce.Check)
		}
		c.Detail += p.skeletonFor(ctx, c.Name)
		add(c)
		return d, nil
	}
	add(Check{Name: "chat_link", OK: true, Selector: sel.ChatLink, Detail: fmt.Sprintf("the tenant's own chat opened (%s)", p.LastOpen())})
	// Fact 17: the editor takes input (entered again while it drops it);
	// fact 8: the send button shows while the box holds text.
	defer func() {
		if err := p.clearCompose(ctx); err != nil {
			add(Check{Name: "compose", Selector: sel.Compose, Detail: "the box could not be emptied after the check: " + err.Error()})
		}
	}()
	deadline := time.Now().Add(p.limits.ChatOpen)
	for {
		if err := p.fillCompose(ctx, probeText); err != nil {
			add(Check{Name: "compose", Selector: sel.Compose, Detail: "the editor did not take input: " + err.Error() + p.skeletonFor(ctx, "compose")})
			return d, nil
		}
		r, ok, err := waitJS[draftResult](ctx, p, jsDraft, map[string]any{"text": probeText}, min(p.limits.Control, max(time.Until(deadline), 0)))
		if err != nil {
			return d, fmt.Errorf("diagnose: %w", err)
		}
		switch {
		case ok && r.R == "ready":
			add(Check{Name: "compose", OK: true, Selector: sel.Compose, Detail: "the editor takes input (fact 17)"})
			add(Check{Name: "send_button", OK: true, Selector: sel.SendButton, Detail: "shows while the box holds text (fact 8)"})
			if err := p.clearCompose(ctx); err != nil {
				return d, nil // the deferred call says so
			}
			return d, p.diagnoseAttach(ctx, add)
		case time.Now().After(deadline) && ok && r.R == "lost":
			add(Check{Name: "compose", Selector: sel.Compose, Detail: fmt.Sprintf("the editor never kept the text in %v (fact 17)", p.limits.ChatOpen) + p.skeletonFor(ctx, "compose")})
			return d, nil
		case time.Now().After(deadline):
			add(Check{Name: "compose", OK: true, Selector: sel.Compose, Detail: "the editor takes input (fact 17)"})
			add(Check{Name: "send_button", Selector: sel.SendButton, Detail: "no send button while the box holds text (fact 8)" + p.skeletonFor(ctx, "send_button")})
			return d, nil
		}
	}
}

// selectorOf gives the selector of a Selectors key (its JSON name), "" for
// a fact or a list.
func (p *Page) selectorOf(key string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(p.sels.load().json), &m); err != nil {
		return ""
	}
	v, _ := m[key].(string)
	return v
}

// skeletonFor gives the DOM skeleton where key's element should be, as a
// suffix for a detail ("" when the page does not answer).
func (p *Page) skeletonFor(ctx context.Context, key string) string {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := eval[string](sctx, p, jsSkeleton, key)
	if err != nil || s == "" {
		return ""
	}
	return "; around it: " + s
}

// probeFile is the content of the file the deep check attaches, and
// discards.
const probeFile = "wapool doctor: attach check, never sent\n"

// diagnoseAttach checks fact 19 in the open chat, sending nothing: the
// attach menu's two inputs, the preview a file opens, and its discarding.
// The error is for a page that does not answer.
func (p *Page) diagnoseAttach(ctx context.Context, add func(Check)) error {
	ok := func(key, detail string) { add(Check{Name: key, OK: true, Selector: p.selectorOf(key), Detail: detail}) }
	fail := func(key, detail string) {
		add(Check{Name: key, Selector: p.selectorOf(key), Detail: detail + p.skeletonFor(ctx, key)})
	}
	failed := func(err error) error {
		if ce, isCE := asContract(err); isCE {
			fail(ce.Check, ce.Detail)
			return nil
		}
		return fmt.Errorf("diagnose: %w", err)
	}
	dir, err := os.MkdirTemp("", "wapool-doctor-")
	if err != nil {
		return fmt.Errorf("diagnose: %w", err)
	}
	defer os.RemoveAll(dir)
	f := File{Path: filepath.Join(dir, "wapool-doctor.txt"), MimeType: "text/plain", Size: int64(len(probeFile)), Document: true}
	if err := os.WriteFile(f.Path, []byte(probeFile), 0o644); err != nil {
		return fmt.Errorf("diagnose: %w", err)
	}

	// The menu's photos input, then (the menu still open) the documents
	// input, on which the file is set.
	if err := p.attachMenu(ctx, File{}); err != nil {
		if ce, isCE := asContract(err); isCE && ce.Check == "file_input_media" {
			ok("attach_button", "opens the attach menu (fact 19)")
		}
		_ = press(ctx, keyEscape) // the menu, when it opened
		return failed(err)
	}
	ok("attach_button", "opens the attach menu (fact 19)")
	ok("file_input_media", "the menu's input for photos and videos shows")
	if err := p.attach(ctx, f); err != nil {
		_ = press(ctx, keyEscape) // the menu, when it stayed open
		if errors.Is(err, errFileRefused) {
			fail("preview_caption", err.Error())
			return nil
		}
		return failed(err)
	}
	ok("file_input_document", "the menu's input for documents takes a file")
	ok("preview_caption", "a file set opens its preview with a caption box")
	open, err := eval[bool](ctx, p, jsPreviewOpen, nil)
	if err != nil {
		return fmt.Errorf("diagnose: %w", err)
	}
	if !open {
		fail("preview_send_button", "the file's preview shows no send button near its caption box")
		if _, err := eval[int](ctx, p, jsFocusCompose, map[string]any{"file": true}); err == nil {
			_ = press(ctx, keyEscape) // discard it all the same
		}
		return nil
	}
	ok("preview_send_button", "the preview has a send button")
	if err := p.closePreview(ctx); err != nil {
		return failed(err)
	}
	ok("preview_close_button", "the preview was discarded, nothing sent")
	return nil
}
