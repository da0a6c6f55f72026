package waweb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
)

// Selectors holds every CSS selector, attribute name and visible text the
// driver relies on. DefaultSelectors gives the values of the page contract
// (DESIGN.md, facts 1-20); LoadSelectors lets an operator change any of them
// from a JSON file without a release. The JSON names are the snake_case tags.
//
// A CSS selector field is used with document.querySelector(All); a "Text"
// field is compared with an element's visible text after collapsing white
// space and turning typographic apostrophes into "'"; an "Attr" field names an
// attribute.
type Selectors struct {
	// App is the application root (fact 1).
	App string `json:"app"`
	// Progress shows while the app boots (fact 1).
	Progress string `json:"progress"`
	// Landing is the not-linked screen (fact 2).
	Landing string `json:"landing"`
	// QRCanvas is the QR code drawing inside Landing (fact 2).
	QRCanvas string `json:"qr_canvas"`
	// QRRef is the closest ancestor of QRCanvas that carries the QR text (fact 2).
	QRRef string `json:"qr_ref"`
	// QRRefAttr is the attribute of QRRef holding the QR text (fact 2).
	QRRefAttr string `json:"qr_ref_attr"`
	// QRReloadButton replaces the canvas once the codes ran out (fact 3).
	QRReloadButton string `json:"qr_reload_button"`
	// PaneSide is the chat list: present once linked (fact 4).
	PaneSide string `json:"pane_side"`
	// Main is the open chat (fact 10).
	Main string `json:"main"`
	// Compose is the message box of the open chat (fact 7).
	Compose string `json:"compose"`
	// SendButton matches the send button or an element inside it (facts 8
	// and 20); the driver clicks its closest "button" or [role="button"]
	// ancestor, or the element itself.
	SendButton string `json:"send_button"`
	// AttachButton is the open chat's attach button, or an element inside
	// it (fact 19); the driver clicks its closest "button" or
	// [role="button"] ancestor, or the element itself. Sends of text do not
	// use it; the doctor checks it.
	AttachButton string `json:"attach_button"`
	// FileInputMedia is the attach menu's input for photos and videos
	// (fact 19): a picture is set on it. FileInputDocument is its input for
	// documents (accept="*"): any other file, or a picture sent as a file.
	// The first match in the document is used; the menu shows them once the
	// attach button is clicked.
	FileInputMedia    string `json:"file_input_media"`
	FileInputDocument string `json:"file_input_document"`
	// PreviewCaption is the caption box of a file's preview (fact 19): a
	// Lexical editor outside footer. An element that Compose matches is
	// never taken for it.
	PreviewCaption string `json:"preview_caption"`
	// PreviewSendButton is the preview's send button, or an element inside
	// it (fact 19); the driver clicks its closest "button" or
	// [role="button"] ancestor, or the element itself. A preview is open
	// while both PreviewCaption and PreviewSendButton match.
	PreviewSendButton string `json:"preview_send_button"`
	// PreviewCloseButton is the preview's close button, clicked when Escape
	// did not discard the preview (fact 19).
	PreviewCloseButton string `json:"preview_close_button"`
	// Dialog is a modal dialog: invalid number (facts 9, 14), conflict (fact 12).
	Dialog string `json:"dialog"`
	// Clickable matches buttons found by their text.
	Clickable string `json:"clickable"`
	// OKText is the text of the button that closes the invalid-number dialog;
	// when no button has it, the dialog's first button is clicked.
	OKText string `json:"ok_text"`
	// Bubble is a message bubble (fact 10).
	Bubble string `json:"bubble"`
	// BubbleIDAttr holds "<fromMe>_<jid>_<msgid>" (fact 10), or a bare
	// message id (fact 20). The driver relies only on ids being unique and
	// stable, and on "true_"/"false_" where they show.
	BubbleIDAttr string `json:"bubble_id_attr"`
	// MsgTime, MsgCheck and MsgDblCheck are the pending, sent (server ack)
	// and delivered (or read) status elements inside an outgoing bubble: an
	// icon (fact 10) or a state label (fact 20). A bubble with a bare id is
	// outgoing when one of them shows.
	MsgTime     string `json:"msg_time"`
	MsgCheck    string `json:"msg_check"`
	MsgDblCheck string `json:"msg_dblcheck"`
	// BubbleText is the text element of a bubble (facts 10 and 20); its
	// first match inside a bubble is read.
	BubbleText string `json:"bubble_text"`
	// TextTemplateAttr is the attribute of an element that draws formatted
	// text, holding its markers around "${appText}" (fact 18).
	TextTemplateAttr string `json:"text_template_attr"`
	// ChatHeader is the open chat's header inside Main, which names the chat
	// (fact 20): a number formatted for people, or a contact's name.
	ChatHeader string `json:"chat_header"`
	// ReadMoreText is the link a long bubble shows instead of the end of its
	// text; such a bubble matches a text it is a prefix of (20+ characters).
	ReadMoreText string `json:"read_more_text"`
	// BubbleMetaAttr is the attribute, on an ancestor of BubbleText, that reads
	// "[HH:MM, M/D/YYYY] Sender: " (fact 10).
	BubbleMetaAttr string `json:"bubble_meta_attr"`
	// PhoneLoginTexts are the texts of the "link with a phone number" button,
	// tried in order (fact 15).
	PhoneLoginTexts []string `json:"phone_login_texts"`
	// PhoneInput is the phone number field (fact 15).
	PhoneInput string `json:"phone_input"`
	// NextText is the text of the button after the phone number (fact 15).
	NextText string `json:"next_text"`
	// LinkCode carries the pairing code, its characters joined by commas (fact 15).
	LinkCode string `json:"link_code"`
	// LinkCodeAttr is the attribute of LinkCode holding the code (fact 15).
	LinkCodeAttr string `json:"link_code_attr"`
	// QRLoginText goes back from the pairing code to the QR code (fact 15).
	QRLoginText string `json:"qr_login_text"`
	// UseHereText is the button of the conflict dialog (fact 12).
	UseHereText string `json:"use_here_text"`
	// InvalidTexts are substrings of a Dialog saying the recipient is not on
	// WhatsApp (facts 9, 14).
	InvalidTexts []string `json:"invalid_texts"`
	// UpdateBrowserPattern is a regular expression, in the syntax common to
	// JavaScript and Go, matched case-insensitively against the body text of
	// a page that is not the app: the "update Chrome" page (fact 13).
	UpdateBrowserPattern string `json:"update_browser_pattern"`
	// LogoutURLMarker is part of the URL the page goes to after a remote
	// logout (fact 5).
	LogoutURLMarker string `json:"logout_url_marker"`
	// LinkedPhoneKeys are the localStorage keys holding the linked account's
	// wid ("<digits>:<device>@c.us" or "<digits>@c.us", maybe JSON-quoted),
	// tried in order.
	LinkedPhoneKeys []string `json:"linked_phone_keys"`
	// ChatLink is the href of the anchor the driver clicks to open a chat in
	// the app (fact 14). "{origin}" is the target URL's scheme and host,
	// "{phone}" the recipient's digits. Empty turns the in-app opening off:
	// every new chat then opens by DeepLink.
	ChatLink string `json:"chat_link"`
	// DeepLink is the URL that loads the app on a chat (fact 6). "{base}" is
	// the target URL without a trailing slash, "{phone}" the digits. The
	// driver never puts the text in it.
	DeepLink string `json:"deep_link"`
}

// DefaultSelectors returns the selectors of the page contract.
func DefaultSelectors() Selectors {
	return Selectors{
		App:            "#app",
		Progress:       "#app progress",
		Landing:        ".landing-wrapper",
		QRCanvas:       "canvas[aria-label]",
		QRRef:          "[data-ref]",
		QRRefAttr:      "data-ref",
		QRReloadButton: "[data-ref] button",
		PaneSide:       "#pane-side",
		Main:           "#main",
		Compose:        `footer div[contenteditable="true"][role="textbox"]`,
		SendButton: `footer button span[data-icon="send"], footer span[data-icon="wds-ic-send-filled"], ` +
			`footer button[aria-label="Send"], footer [role="button"][aria-label="Send"]`,
		AttachButton: `footer span[data-icon="plus-rounded"], footer span[data-icon="plus"], footer span[data-icon="attach-menu-plus"], ` +
			`footer span[data-icon="clip"], footer [title="Attach"]`,
		FileInputMedia:    `input[type="file"][accept="image/*,video/mp4,video/3gpp,video/quicktime"]`,
		FileInputDocument: `input[type="file"][accept="*"]`,
		PreviewCaption:    `div[contenteditable="true"][role="textbox"]:not(footer *):not(#side *):not([data-tab="3"])`,
		PreviewSendButton: `span[data-icon="send"]:not(footer *), span[data-icon="wds-ic-send-filled"]:not(footer *), ` +
			`button[aria-label="Send"]:not(footer *), [role="button"][aria-label="Send"]:not(footer *)`,
		PreviewCloseButton:   `span[data-icon="x"], span[data-icon="wds-ic-close"], button[aria-label="Close"], [role="button"][aria-label="Close"]`,
		Dialog:               `div[role="dialog"]`,
		Clickable:            `button, [role="button"], a`,
		OKText:               "OK",
		Bubble:               "div[data-id]",
		BubbleIDAttr:         "data-id",
		MsgTime:              `span[data-icon="msg-time"], [aria-label=" Pending "]`,
		MsgCheck:             `span[data-icon="msg-check"], [aria-label=" Sent "]`,
		MsgDblCheck:          `span[data-icon="msg-dblcheck"], [aria-label=" Delivered "], [aria-label=" Read "]`,
		BubbleText:           "div.copyable-text[data-pre-plain-text] span.selectable-text, div.copyable-text[data-pre-plain-text] span[dir]",
		TextTemplateAttr:     "data-app-text-template",
		ChatHeader:           "header",
		BubbleMetaAttr:       "data-pre-plain-text",
		ReadMoreText:         "Read more",
		PhoneLoginTexts:      []string{"Log in with phone number", "Link with phone number"},
		PhoneInput:           `input[aria-label="Type your phone number."]`,
		NextText:             "Next",
		LinkCode:             "[data-link-code]",
		LinkCodeAttr:         "data-link-code",
		QRLoginText:          "Log in with QR code",
		UseHereText:          "Use here",
		InvalidTexts:         []string{"Phone number shared via url is invalid.", "isn't on WhatsApp"},
		UpdateBrowserPattern: `update\s+(google\s+)?chrome|works with google chrome`,
		LogoutURLMarker:      "post_logout=1",
		LinkedPhoneKeys:      []string{"last-wid-md", "last-wid"},
		ChatLink:             "{origin}/send?phone={phone}",
		DeepLink:             "{base}/send?phone={phone}",
	}
}

// LoadSelectors reads a JSON object from path over DefaultSelectors: a field
// the file omits keeps its default, a field the file names replaces it (a list
// as a whole). An unknown field, trailing data or an invalid value is an error.
func LoadSelectors(path string) (Selectors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Selectors{}, fmt.Errorf("selectors: %w", err)
	}
	s, err := ParseSelectors(b)
	if err != nil {
		return Selectors{}, fmt.Errorf("selectors %q: %w", path, err)
	}
	return s, nil
}

// ParseSelectors is LoadSelectors for JSON already in memory.
func ParseSelectors(data []byte) (Selectors, error) {
	s := DefaultSelectors()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Selectors{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Selectors{}, errors.New("trailing data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Selectors{}, err
	}
	return s, nil
}

// Validate reports the first field that cannot work: an empty selector or
// text (ChatLink alone may be empty), an empty list, a pattern that does not
// compile, or a link template without "{phone}".
func (s Selectors) Validate() error {
	req := map[string]string{
		"app": s.App, "progress": s.Progress, "landing": s.Landing, "qr_canvas": s.QRCanvas,
		"qr_ref": s.QRRef, "qr_ref_attr": s.QRRefAttr, "qr_reload_button": s.QRReloadButton,
		"pane_side": s.PaneSide, "main": s.Main, "compose": s.Compose, "send_button": s.SendButton, "attach_button": s.AttachButton,
		"file_input_media": s.FileInputMedia, "file_input_document": s.FileInputDocument,
		"preview_caption": s.PreviewCaption, "preview_send_button": s.PreviewSendButton,
		"preview_close_button": s.PreviewCloseButton, "dialog": s.Dialog,
		"clickable": s.Clickable, "ok_text": s.OKText, "bubble": s.Bubble,
		"bubble_id_attr": s.BubbleIDAttr, "msg_time": s.MsgTime, "msg_check": s.MsgCheck,
		"msg_dblcheck": s.MsgDblCheck, "bubble_text": s.BubbleText, "bubble_meta_attr": s.BubbleMetaAttr,
		"read_more_text": s.ReadMoreText, "text_template_attr": s.TextTemplateAttr, "chat_header": s.ChatHeader,
		"phone_input": s.PhoneInput, "next_text": s.NextText, "link_code": s.LinkCode,
		"link_code_attr": s.LinkCodeAttr, "qr_login_text": s.QRLoginText, "use_here_text": s.UseHereText,
		"update_browser_pattern": s.UpdateBrowserPattern, "logout_url_marker": s.LogoutURLMarker,
		"deep_link": s.DeepLink,
	}
	for _, name := range slices.Sorted(maps.Keys(req)) {
		if strings.TrimSpace(req[name]) == "" {
			return fmt.Errorf("selectors: %s is empty", name)
		}
	}
	lists := map[string][]string{
		"phone_login_texts": s.PhoneLoginTexts, "invalid_texts": s.InvalidTexts,
		"linked_phone_keys": s.LinkedPhoneKeys,
	}
	for _, name := range slices.Sorted(maps.Keys(lists)) {
		if len(lists[name]) == 0 {
			return fmt.Errorf("selectors: %s is empty", name)
		}
		for _, v := range lists[name] {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("selectors: %s holds an empty entry", name)
			}
		}
	}
	if _, err := regexp.Compile("(?i)" + s.UpdateBrowserPattern); err != nil {
		return fmt.Errorf("selectors: update_browser_pattern: %w", err)
	}
	if s.ChatLink != "" && !strings.Contains(s.ChatLink, "{phone}") {
		return errors.New("selectors: chat_link lacks {phone}")
	}
	if !strings.Contains(s.DeepLink, "{phone}") {
		return errors.New("selectors: deep_link lacks {phone}")
	}
	return nil
}

// SelectorSet holds the Selectors in force for any number of pages (see
// NewShared); Store replaces them for all of them at once, as an operator's
// reload (SIGHUP) does: a running browser is not restarted, and each page
// operation reads the selectors anew. Safe for concurrent use.
type SelectorSet struct {
	cur atomic.Pointer[selState]
}

type selState struct {
	sel  Selectors
	json string // sel as the page scripts read it
}

// NewSelectorSet returns a set holding sel, which must be valid.
func NewSelectorSet(sel Selectors) (*SelectorSet, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	return newSelectorSet(sel), nil
}

func newSelectorSet(sel Selectors) *SelectorSet {
	s := &SelectorSet{}
	s.put(sel)
	return s
}

func (s *SelectorSet) put(sel Selectors) {
	b, err := json.Marshal(sel)
	if err != nil { // cannot happen: Selectors holds strings only
		panic(err)
	}
	s.cur.Store(&selState{sel: sel, json: string(b)})
}

func (s *SelectorSet) load() *selState { return s.cur.Load() }

// Load returns the selectors in force.
func (s *SelectorSet) Load() Selectors { return s.cur.Load().sel }

// Store replaces the selectors after validating them; an invalid value is
// refused and the old one stays in force.
func (s *SelectorSet) Store(sel Selectors) error {
	if err := sel.Validate(); err != nil {
		return err
	}
	s.put(sel)
	return nil
}
