package fakewa

import (
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// view is what a page instance shows, as far as the server knows.
type view int

const (
	viewLanding view = iota // the QR code (or its reload button)
	viewPhone               // link with a phone number: the form or a pairing code
	viewMain                // linked: the main screen (or the conflict dialog)
	viewGone                // the page said goodbye (pagehide)
)

// sessionTTL: a session not seen for this long is forgotten (its codes too).
const sessionTTL = 10 * time.Minute

// session is one page instance: one load of / or /send in a browser tab.
type session struct {
	id       string
	lastSeen time.Time
	view     view
	account  string // phone once linked, "" before
	token    string // the device token the page holds, "" before it is linked

	keys      string    // ",noiseKey,identityKey,advSecret" of this device
	series    []*qrCode // the QR codes of the current series, in order; nil before the first
	exhausted bool      // the series ran out: the page shows its reload button
	pairing   *pairCode // the pairing code shown now, if any
}

// qrCode is one code of a QR series.
type qrCode struct {
	text       string
	sid        string
	shownAt    time.Time
	expires    time.Time
	superseded bool // its page moved on (next code, new series, other screen)
}

// pairCode is one pairing code (fact 15).
type pairCode struct {
	code       string // 8 characters, no dash
	phone      string // the number typed on the page
	sid        string
	shownAt    time.Time
	expires    time.Time
	superseded bool
}

// account is one WhatsApp account (a phone) with its sent messages.
type account struct {
	phone    string
	active   string // session id of the page that uses the account now (fact 12)
	messages []*message
	byID     map[string]*message
}

// message is an outgoing message as the server recorded it.
type message struct {
	id, to, text string // text: a file's caption, maybe empty
	media        *Media // the file (fact 19), nil for a text
	at           time.Time
	ackAt, dlvAt time.Time // when it becomes ack 1 (server) and ack 2 (delivered)
}

// ack is the message's ack level at now: 0 pending, 1 server, 2 delivered.
func (m *message) ack(now time.Time) int {
	switch {
	case !now.Before(m.dlvAt):
		return 2
	case !now.Before(m.ackAt):
		return 1
	}
	return 0
}

func (m *message) public(now time.Time) Message {
	var media *Media
	if m.media != nil {
		c := *m.media
		media = &c
	}
	return Message{ID: m.id, To: m.to, Text: m.text, Ack: m.ack(now), At: m.at, Media: media}
}

// listText is what the chat list shows for m: its text, or for a file
// without a caption a label of the file.
func (m *message) listText() string {
	if m.text == "" && m.media != nil {
		return m.media.label()
	}
	return m.text
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// digits keeps the digits of a phone number ("+1 555-000" → "1555000").
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// normalizePhone returns the digits of a phone number written with an
// optional "+", spaces, dashes, dots or brackets, or ErrInvalidPhone.
func normalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.Trim(s, "+0123456789 -.()") != "" {
		return "", ErrInvalidPhone
	}
	d := digits(s)
	if len(d) < 6 || len(d) > 15 {
		return "", ErrInvalidPhone
	}
	return d, nil
}

// liveLocked reports whether the page of sess still answers: it said no
// goodbye and polled recently.
func (s *Server) liveLocked(sess *session, now time.Time) bool {
	window := 3*s.opts.LogoutPoll + 2*time.Second
	return sess.view != viewGone && now.Sub(sess.lastSeen) <= window
}

// onWhatsAppLocked applies the invalid-number rule.
func (s *Server) onWhatsAppLocked(phone string) bool {
	return phone != "" && !strings.HasSuffix(phone, s.opts.InvalidSuffix)
}

// LID returns the lid that names the chat of phone (a number; "+", spaces
// and dashes are ignored) when Options.LidSuffix makes it a @lid chat: 15
// digits derived from the number (FNV-1a), the same on every fake and never
// the number's own digits.
func LID(phone string) string {
	d := digits(phone)
	h := fnv.New64a()
	h.Write([]byte("lid:" + d))
	const lo, span = 100_000_000_000_000, 900_000_000_000_000 // 15 digits
	lid := strconv.FormatUint(lo+h.Sum64()%span, 10)
	if lid == d {
		lid = strconv.FormatUint(lo+(h.Sum64()+1)%span, 10)
	}
	return lid
}

// jidLocked is the jid that names the chat of phone in the default build:
// "<lid>@lid" when phone ends with Options.LidSuffix, else "<phone>@c.us".
func (s *Server) jidLocked(phone string) string {
	if strings.HasSuffix(phone, s.opts.LidSuffix) {
		return LID(phone) + "@lid"
	}
	return phone + "@c.us"
}

func (s *Server) accountLocked(phone string) *account {
	a := s.accounts[phone]
	if a == nil {
		a = &account{phone: phone, byID: map[string]*message{}}
		s.accounts[phone] = a
	}
	return a
}

// linkedLocked reports whether sess holds a valid device token.
func (s *Server) linkedLocked(sess *session) bool {
	return sess.token != "" && s.tokens[sess.token] == sess.account
}

// linkLocked links the page of sess to phone, as a scan or an entered
// pairing code does: a new device token, and the page becomes the account's
// active one.
func (s *Server) linkLocked(sess *session, phone string) {
	s.endSeriesLocked(sess)
	s.endPairingLocked(sess)
	tok := randomHex(20)
	s.tokens[tok] = phone
	sess.account, sess.token, sess.view = phone, tok, viewMain
	s.accountLocked(phone).active = sess.id
}

// endSeriesLocked supersedes the codes of the session's QR series.
func (s *Server) endSeriesLocked(sess *session) {
	for _, c := range sess.series {
		c.superseded = true
	}
	sess.series, sess.exhausted = nil, false
}

func (s *Server) endPairingLocked(sess *session) {
	if sess.pairing != nil {
		sess.pairing.superseded = true
		sess.pairing = nil
	}
}

// pruneLocked forgets sessions not seen for sessionTTL, and codes whose
// session is forgotten or that are long dead.
func (s *Server) pruneLocked(now time.Time) {
	for id, sess := range s.sessions {
		if now.Sub(sess.lastSeen) > sessionTTL {
			delete(s.sessions, id)
		}
	}
	for k, c := range s.qrCodes {
		if s.sessions[c.sid] == nil || now.Sub(c.expires) > sessionTTL {
			delete(s.qrCodes, k)
		}
	}
	for k, c := range s.pairCodes {
		if s.sessions[c.sid] == nil || now.Sub(c.expires) > sessionTTL {
			delete(s.pairCodes, k)
		}
	}
}
