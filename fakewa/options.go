package fakewa

import (
	"encoding/json"
	"fmt"
	"time"
)

// Builds of the page (Options.Build).
const (
	// BuildDefault draws the page as facts 8 and 10 say: message ids
	// "true_<jid>_<msgid>", span[data-icon] icons, span.selectable-text.
	BuildDefault = ""
	// Build2026 draws the page as fact 20 says.
	Build2026 = "2026"
)

// Builds lists every build, for tests that run on each.
var Builds = []string{BuildDefault, Build2026}

// BuildName names a build for people and test names: "older" for
// BuildDefault, else the build itself.
func BuildName(build string) string {
	if build == BuildDefault {
		return "older"
	}
	return build
}

// Drawings of a bubble's text (Options.Drawing).
const (
	// DrawingDefault draws a bubble's text as fact 18 says.
	DrawingDefault = ""
	// DrawingUnknown draws it in a way the page contract does not describe
	// (see Options.Drawing).
	DrawingUnknown = "unknown"
)

// Options are the fake's timing knobs, its rules for numbers that are not on
// WhatsApp and for @lid chats, and how it draws the page. The zero value of
// every field but EditorDelay, Build, Drawing and Variant means "the
// default" (see DefaultOptions): New and SetOptions fill zero fields in, so
// a test sets only the knobs it cares about. Such a duration cannot be made
// zero: use 1ns for "practically none". EditorDelay, Build, Drawing and
// Variant are the exceptions: their zero value is their default (off,
// today's build, fact 18's drawing, no variant).
type Options struct {
	// BootDelay is how long a page shows its boot progress (fact 1). Default 1.5s.
	BootDelay time.Duration
	// AckDelay is the time from a send to the server's ack (msg-check, ack 1);
	// delivery (msg-dblcheck, ack 2) follows after another AckDelay. Default 400ms.
	AckDelay time.Duration
	// UploadPerMiB is how long a file (fact 19) takes to upload per MiB
	// (1,048,576 bytes) of its size, and a quarter of it is the least any
	// file takes. The server records a message with a file only once its
	// upload is over (its bubble shows msg-time meanwhile), then AckDelay
	// runs as for a text. Default 50ms: a 16 MiB file uploads in 800ms.
	UploadPerMiB time.Duration
	// FirstQRLifetime is the life of the first QR code of a series (fact 3). Default 60s.
	FirstQRLifetime time.Duration
	// QRLifetime is the life of each later code of a series. Default 20s.
	QRLifetime time.Duration
	// QRRotations is the number of codes after the first one. Default 5;
	// a negative value means none (the series is the first code alone).
	QRRotations int
	// LookupDelay is how long the "Starting chat" popup shows for a chat
	// opened inside the app (fact 14). Default 300ms.
	LookupDelay time.Duration
	// PairingLifetime is the life of a pairing code (fact 15). Default 3m.
	PairingLifetime time.Duration
	// InvalidSuffix: numbers ending with it are not on WhatsApp (facts 9, 14).
	// Default "0000". A suffix no number has (e.g. "-") turns the rule off.
	InvalidSuffix string
	// LogoutPoll is how often a page checks its device token, its conflict
	// state and the hang switch with the server. Default 1s.
	LogoutPoll time.Duration
	// EditorDelay makes the compose box go live late (fact 17). Zero, the
	// default, is off: the editor is live as soon as the chat shows, and New
	// and SetOptions leave a zero EditorDelay zero (a negative one becomes
	// zero). When it is positive, every chat open (in the app, from the chat
	// list, or by deep link) picks its own delay d, uniformly in
	// [EditorDelay/4, EditorDelay] and in whole milliseconds: the chat and
	// its compose box show at once, its messages after d/2, and its editor
	// takes the box over after d. Until then the box is a plain
	// contenteditable (the browser edits it, no send button, Enter sends
	// nothing); when the editor goes live it draws its own content (empty,
	// or a deep link's text) and what was typed before vanishes. The page
	// learns d when it opens the chat, so a change applies to the next open.
	// #main carries d in data-fake-editor-delay-ms, and data-fake-editor-live
	// turns from "false" to "true" when the editor goes live (both only
	// while the knob is on; hooks for tests, not part of the page contract).
	EditorDelay time.Duration
	// LidSuffix: in the default build, the chats of numbers ending with it
	// are named by a @lid (fact 10): their bubbles' data-id is
	// "true_<lid>@lid_<msgid>", where <lid> is LID(number), 15 digits that
	// are not the number's; other chats are "true_<digits>@c.us_<msgid>".
	// Default "77". A suffix no number has (e.g. "-") turns the rule off.
	// The 2026 build names no chat by a jid. It applies to the next chat
	// open.
	LidSuffix string
	// Build is how the page draws itself: BuildDefault ("", the zero value
	// and default) as facts 8 and 10 say, or Build2026 ("2026") as fact 20
	// says: a bubble's data-id is its bare message id (the id
	// GET /_fake/messages reports: 20 uppercase hex characters) and no
	// "@c.us" or "@lid" is anywhere in the page's DOM; #main's header names
	// the chat by its number formatted for people ("+1 555-000-2222") and
	// the chat list's row of the open chat has aria-selected="true" (its
	// rows carry no data-phone); icons are inline svg elements marked only
	// by a <title> child (no data-icon in the main screen); the send button
	// is button[aria-label="Send"] holding the svg titled
	// "wds-ic-send-filled"; an outgoing bubble's status element is a span
	// whose only attribute is its aria-label (" Pending ", " Sent ",
	// " Delivered ") holding an svg (titled "wds-ic-clock",
	// "wds-ic-check" or "wds-ic-double-check", which name the glyph, not
	// the state); the text element is the span[dir] inside
	// div.copyable-text[data-pre-plain-text], without the selectable-text
	// class. Everything else (boot, landing, QR codes, pairing, compose box,
	// dialogs, deep link, chats opened in the app, the late editor,
	// beforeunload) is the same in both builds. A page takes the build
	// when it loads: a change applies to pages loaded after it. New and
	// SetOptions treat any other value as BuildDefault; the control API and
	// cmd/fakewa refuse it.
	Build string
	// Drawing is how a bubble draws its text. DrawingDefault ("", the zero
	// value and default) draws it as fact 18 says, in both builds.
	// DrawingUnknown ("unknown") plays a drawing that a driver written to
	// the contract does not know: inside the build's text element a new
	// span wraps the text; the formats are drawn as strong, em, del and
	// code elements with no data-app-text-template (their markers are
	// lost); each emoji is a span[role="img"] with the emoji in aria-label,
	// drawn by a background image, with no text and no alt; links are no a
	// elements; and every run of other characters (links included) between
	// white space, formats and emoji is its own span preceded by a text
	// node holding one U+200B (ZERO WIDTH SPACE). A text sent is never
	// blank, so it holds an emoji (lost) or a run (which gains a U+200B):
	// the text a driver rebuilds by fact 18 always differs from the text
	// sent. "Code *42* 🎉" rebuilds as "\u200bCode \u200b42 ". The bubble is
	// otherwise as the build draws it (div[data-id], the text element, the
	// status element and its acks). A page learns a change at its next
	// request (a poll, within LogoutPoll; a chat open; a send) and draws
	// the bubbles it adds from then on in the new drawing; the bubble of a
	// message sent shows the drawing in force when the server recorded it
	// before its first ack. Bubbles already drawn keep theirs until their
	// chat opens again. New and SetOptions treat any other value as
	// DrawingDefault; the control API and cmd/fakewa refuse it.
	Drawing string
	// Variant renames, in the open chat, what a WhatsApp build renames, so
	// that a driver on the contract's default selectors misses one element
	// and the selectors override VariantSelectors[Variant] finds it again.
	// VariantNone ("", the zero value and default) draws the chat as the
	// contract says; its footer then holds the attach button of fact 19
	// before the compose box: button[aria-label="Attach"][title="Attach"]
	// holding span[data-icon="plus-rounded"] (default build) or a span
	// holding an svg titled "wds-ic-plus-rounded" (2026 build). A click
	// on it opens the attach menu (see the package doc). Each variant combines
	// with both builds and both drawings, and changes nothing but what it
	// names: sends, Enter, acks, the late editor of fact 17 and the deep
	// link's text work as without it.
	//
	//   - VariantSendIcon ("send-icon"): while the box has text (only
	//     then, fact 8), the send button is a
	//     div[role="button"][aria-label="Send message"] (no button, no
	//     aria-label "Send") holding span[data-icon="wds-ic-send-filled-2"]
	//     (default build) or a span holding an svg titled
	//     "wds-ic-send-filled-2" (2026 build). A click on it, or on what it
	//     holds, sends, as Enter does. The override's send_button puts
	//     footer [role="button"][aria-label="Send message"] and
	//     footer span[data-icon="wds-ic-send-filled-2"] before the default.
	//   - VariantAttachIcon ("attach-icon"): the attach button has no title
	//     and holds span[data-icon="wds-ic-plus-filled"] (default build) or
	//     a span holding an svg titled "wds-ic-plus-filled" (2026 build);
	//     it opens the same menu.
	//     The override's attach_button puts
	//     footer span[data-icon="wds-ic-plus-filled"] and
	//     footer button[aria-label="Attach"] before the default.
	//   - VariantBubbleText ("bubble-text"): a bubble's div.copyable-text
	//     carries its "[HH:MM, M/D/YYYY] You: " in data-pre-plain-text-v2
	//     instead of data-pre-plain-text; the text element inside it
	//     (span.selectable-text[dir] in the default build, span[dir] in the
	//     2026 build), its drawing and the status element are unchanged. The
	//     override's bubble_text puts the default's two selectors with
	//     [data-pre-plain-text-v2] before the default. (It leaves the
	//     driver's bubble_meta_attr alone, which would name
	//     data-pre-plain-text-v2.)
	//   - VariantComposeWrapper ("compose-wrapper"): the chat's footer
	//     element is a div[data-testid="compose-panel"] instead, holding the
	//     same things (the attach button, the compose box and its editor,
	//     the send or voice button): #main holds no footer. The override's
	//     compose, send_button and attach_button put the defaults with
	//     "footer" replaced by div[data-testid="compose-panel"] before the
	//     defaults.
	//
	// Each override keeps the default selectors after its own, so it also
	// matches a chat drawn without the variant. A page takes the variant
	// when it opens a chat (in the app, from the chat list, or by deep link,
	// so also at a load that opens one) and draws that chat, its bubbles
	// and the ones sent there in it: a change applies to the next chat
	// open, and SetOptions with Variant "" then a reload (or another open)
	// draws the chat as the contract says again. New and SetOptions treat
	// any other value as VariantNone; the control API and cmd/fakewa refuse
	// it.
	Variant string
}

// Validate reports an unknown Build, Drawing or Variant, wrapping
// ErrInvalidOption.
func (o Options) Validate() error {
	if o.Build != BuildDefault && o.Build != Build2026 {
		return fmt.Errorf("build %q (want %q or %q): %w", o.Build, BuildDefault, Build2026, ErrInvalidOption)
	}
	if o.Drawing != DrawingDefault && o.Drawing != DrawingUnknown {
		return fmt.Errorf("drawing %q (want %q or %q): %w", o.Drawing, DrawingDefault, DrawingUnknown, ErrInvalidOption)
	}
	if !knownVariant(o.Variant) {
		return fmt.Errorf("variant %q (want %q or one of %q): %w", o.Variant, VariantNone, Variants, ErrInvalidOption)
	}
	return nil
}

// DefaultOptions returns the realistic timings that cmd/fakewa uses.
func DefaultOptions() Options {
	return Options{
		BootDelay:       1500 * time.Millisecond,
		AckDelay:        400 * time.Millisecond,
		UploadPerMiB:    50 * time.Millisecond,
		FirstQRLifetime: 60 * time.Second,
		QRLifetime:      20 * time.Second,
		QRRotations:     5,
		LookupDelay:     300 * time.Millisecond,
		PairingLifetime: 3 * time.Minute,
		InvalidSuffix:   "0000",
		LogoutPoll:      time.Second,
		LidSuffix:       "77",
	}
}

// FastOptions returns the timings tests use: the page behaves the same,
// only its boot, acks, chat lookups and logout polls are shorter. QR
// lifetimes and the pairing lifetime keep their defaults.
func FastOptions() Options {
	o := DefaultOptions()
	o.BootDelay = 300 * time.Millisecond
	o.AckDelay = 150 * time.Millisecond
	o.LookupDelay = 100 * time.Millisecond
	o.LogoutPoll = 300 * time.Millisecond
	return o
}

// WorstCaseOptions returns the slowest timings the page contract allows
// that tests still afford: a boot of seconds (fact 1: "seconds on the real
// page"), acks and chat lookups that take seconds, uploads of a second per
// MiB (fact 19: "seconds per MB on a real network"; at least 250ms), and the
// late editor of fact 17 at 1.2 s. Part of every suite runs on it, so that the driver and
// the send path are built for the page's worst case, not for fakewa's
// defaults.
func WorstCaseOptions() Options {
	o := DefaultOptions()
	o.BootDelay = 4 * time.Second
	o.AckDelay = 2 * time.Second
	o.LookupDelay = 1500 * time.Millisecond
	o.UploadPerMiB = time.Second
	o.EditorDelay = 1200 * time.Millisecond
	return o
}

// withDefaults returns o with every zero (or negative) duration but
// EditorDelay, a zero QRRotations and an empty InvalidSuffix or LidSuffix
// replaced by the default. A negative EditorDelay becomes zero (off); a zero
// one stays. An unknown Build, Drawing or Variant becomes the default.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	for _, f := range []struct{ v, def *time.Duration }{
		{&o.BootDelay, &d.BootDelay}, {&o.AckDelay, &d.AckDelay}, {&o.UploadPerMiB, &d.UploadPerMiB},
		{&o.FirstQRLifetime, &d.FirstQRLifetime}, {&o.QRLifetime, &d.QRLifetime},
		{&o.LookupDelay, &d.LookupDelay}, {&o.PairingLifetime, &d.PairingLifetime},
		{&o.LogoutPoll, &d.LogoutPoll},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if o.QRRotations == 0 {
		o.QRRotations = d.QRRotations
	}
	o.EditorDelay = max(o.EditorDelay, 0) // zero means off: no default replaces it
	if o.InvalidSuffix == "" {
		o.InvalidSuffix = d.InvalidSuffix
	}
	if o.LidSuffix == "" {
		o.LidSuffix = d.LidSuffix
	}
	if o.Build != Build2026 {
		o.Build = BuildDefault
	}
	if o.Drawing != DrawingUnknown {
		o.Drawing = DrawingDefault
	}
	if !knownVariant(o.Variant) {
		o.Variant = VariantNone
	}
	return o
}

// rotations is the number of codes after the first, never negative.
func (o Options) rotations() int { return max(o.QRRotations, 0) }

// jsonDuration is a time.Duration written in JSON as a Go duration string
// ("200ms", "1m30s").
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"200ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = jsonDuration(v)
	return nil
}

// configJSON is the body of POST /_fake/config (every field optional; an
// absent field keeps its value, a zero one returns to the default, which for
// editor_delay is off, for build and drawing today's build and fact 18's
// drawing, and for variant none) and the answer of GET and POST /_fake/config (every
// field present).
type configJSON struct {
	BootDelay       *jsonDuration `json:"boot_delay,omitempty"`
	AckDelay        *jsonDuration `json:"ack_delay,omitempty"`
	UploadPerMiB    *jsonDuration `json:"upload_per_mib,omitempty"`
	FirstQRLifetime *jsonDuration `json:"first_qr_lifetime,omitempty"`
	QRLifetime      *jsonDuration `json:"qr_lifetime,omitempty"`
	QRRotations     *int          `json:"qr_rotations,omitempty"`
	LookupDelay     *jsonDuration `json:"lookup_delay,omitempty"`
	PairingLifetime *jsonDuration `json:"pairing_lifetime,omitempty"`
	InvalidSuffix   *string       `json:"invalid_suffix,omitempty"`
	LogoutPoll      *jsonDuration `json:"logout_poll,omitempty"`
	EditorDelay     *jsonDuration `json:"editor_delay,omitempty"`
	LidSuffix       *string       `json:"lid_suffix,omitempty"`
	Build           *string       `json:"build,omitempty"`
	Drawing         *string       `json:"drawing,omitempty"`
	Variant         *string       `json:"variant,omitempty"`
	Hang            *bool         `json:"hang,omitempty"`
}

// apply copies the fields present in c onto o.
func (c configJSON) apply(o *Options) {
	for _, f := range []struct {
		src *jsonDuration
		dst *time.Duration
	}{
		{c.BootDelay, &o.BootDelay}, {c.AckDelay, &o.AckDelay}, {c.UploadPerMiB, &o.UploadPerMiB},
		{c.FirstQRLifetime, &o.FirstQRLifetime}, {c.QRLifetime, &o.QRLifetime},
		{c.LookupDelay, &o.LookupDelay}, {c.PairingLifetime, &o.PairingLifetime},
		{c.LogoutPoll, &o.LogoutPoll}, {c.EditorDelay, &o.EditorDelay},
	} {
		if f.src != nil {
			*f.dst = time.Duration(*f.src)
		}
	}
	if c.QRRotations != nil {
		o.QRRotations = *c.QRRotations
	}
	for _, f := range []struct{ src, dst *string }{
		{c.InvalidSuffix, &o.InvalidSuffix}, {c.LidSuffix, &o.LidSuffix},
		{c.Build, &o.Build}, {c.Drawing, &o.Drawing}, {c.Variant, &o.Variant},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
}

// toConfigJSON describes o and the hang switch with every field present.
func toConfigJSON(o Options, hang bool) configJSON {
	jd := func(d time.Duration) *jsonDuration { v := jsonDuration(d); return &v }
	return configJSON{
		BootDelay: jd(o.BootDelay), AckDelay: jd(o.AckDelay), UploadPerMiB: jd(o.UploadPerMiB),
		FirstQRLifetime: jd(o.FirstQRLifetime), QRLifetime: jd(o.QRLifetime),
		QRRotations: &o.QRRotations, LookupDelay: jd(o.LookupDelay),
		PairingLifetime: jd(o.PairingLifetime), InvalidSuffix: &o.InvalidSuffix,
		LogoutPoll: jd(o.LogoutPoll), EditorDelay: jd(o.EditorDelay),
		LidSuffix: &o.LidSuffix, Build: &o.Build, Drawing: &o.Drawing, Variant: &o.Variant,
		Hang: &hang,
	}
}
