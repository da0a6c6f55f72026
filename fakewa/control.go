package fakewa

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"
)

// ShownQR is a QR code a page shows now (GET /_fake/qr).
type ShownQR struct {
	Code        string    `json:"code"`
	DisplayedAt time.Time `json:"displayed_at"`
}

// Message is a message an account sent (GET /_fake/messages). Ack is 0 when
// the server has just recorded it, 1 once acked (msg-check), 2 once
// delivered (msg-dblcheck). A message with a file (fact 19) has Media, and
// its Text is the caption (maybe empty); a message with a file is recorded
// once its upload is over (Options.UploadPerMiB).
type Message struct {
	ID    string    `json:"id"`
	To    string    `json:"to"`
	Text  string    `json:"text"`
	Ack   int       `json:"ack"`
	At    time.Time `json:"at"`
	Media *Media    `json:"media,omitempty"`
}

// Pairing is a pairing code a page shows now, with the number typed there
// (GET /_fake/pairing). Code has no dash.
type Pairing struct {
	Code  string `json:"code"`
	Phone string `json:"phone"`
}

// QRCodes returns the QR codes that live pages show now, oldest first.
func (s *Server) QRCodes() []ShownQR {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := []ShownQR{}
	for _, sess := range s.sessions {
		if sess.view != viewLanding || sess.account != "" || sess.exhausted || len(sess.series) == 0 || !s.liveLocked(sess, now) {
			continue
		}
		if c := sess.series[len(sess.series)-1]; !c.superseded && now.Before(c.expires) {
			out = append(out, ShownQR{Code: c.text, DisplayedAt: c.shownAt})
		}
	}
	slices.SortFunc(out, func(a, b ShownQR) int { return a.DisplayedAt.Compare(b.DisplayedAt) })
	return out
}

// Scan is the phone scanning code: it links the page showing it to phone.
// It returns ErrUnknownCode, ErrExpiredCode or ErrInvalidPhone.
func (s *Server) Scan(code, phone string) error {
	p, err := normalizePhone(phone)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.validQRLocked(code, s.now())
	if err != nil {
		return err
	}
	s.linkLocked(sess, p)
	return nil
}

// Pair is the phone entering a pairing code ("ABCD-EFGH", dash optional):
// it links the page showing it to the number typed there. It returns
// ErrUnknownCode or ErrExpiredCode.
func (s *Server) Pair(code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, sess, err := s.validPairLocked(code, s.now())
	if err != nil {
		return err
	}
	s.linkLocked(sess, p.phone)
	return nil
}

// PairingCodes returns the pairing codes that live pages show now.
func (s *Server) PairingCodes() []Pairing {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	type shown struct {
		p  Pairing
		at time.Time
	}
	var all []shown
	for _, sess := range s.sessions {
		p := sess.pairing
		if sess.view != viewPhone || p == nil || p.superseded || !now.Before(p.expires) || !s.liveLocked(sess, now) {
			continue
		}
		all = append(all, shown{Pairing{Code: p.code, Phone: p.phone}, p.shownAt})
	}
	slices.SortFunc(all, func(a, b shown) int { return a.at.Compare(b.at) })
	out := []Pairing{}
	for _, a := range all {
		out = append(out, a.p)
	}
	return out
}

// Messages returns the messages account (a phone; "+", spaces and dashes
// are ignored) sent, in the order the server recorded them.
func (s *Server) Messages(account string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := []Message{}
	if a := s.accounts[digits(account)]; a != nil {
		for _, m := range a.messages {
			out = append(out, m.public(now))
		}
	}
	return out
}

// Logout is a remote logout: every device token of phone stops working, and
// the account's pages go to /?post_logout=1 and the landing at their next
// poll (within Options.LogoutPoll). The messages stay.
func (s *Server) Logout(phone string) {
	p := digits(phone)
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, owner := range s.tokens {
		if owner == p {
			delete(s.tokens, tok)
		}
	}
	if a := s.accounts[p]; a != nil {
		a.active = ""
	}
}

// SetHang turns the hang switch on or off. While it is on, every page stops
// answering: at its next poll (or at boot) its script blocks the renderer's
// main thread in a loop of synchronous requests to the server that each wait
// up to a second while the switch stays on, so CDP's Runtime.evaluate gets no
// answer; turning it off lets the pages go on where they were.
func (s *Server) SetHang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setHangLocked(on)
}

func (s *Server) setHangLocked(on bool) {
	if s.hang == on {
		return
	}
	s.hang = on
	close(s.hangChanged)
	s.hangChanged = make(chan struct{})
}

// SetOptions changes the options at run time: f edits a copy, whose zero
// fields then take their defaults (a zero EditorDelay stays zero: off).
// Pages pick the change up at their next request (boot, poll, QR rotation,
// chat open, send).
func (s *Server) SetOptions(f func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts
	f(&o)
	s.opts = o.withDefaults()
}

// Options returns the options in force.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// --- HTTP ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// statusOf maps the control API's errors to HTTP.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrUnknownCode):
		return http.StatusNotFound
	case errors.Is(err, ErrExpiredCode):
		return http.StatusGone
	}
	return http.StatusBadRequest
}

// decode reads a JSON body into v, refusing unknown fields. When it
// cannot, it answers 400 with the reason and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func (s *Server) ctlQR(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.QRCodes())
}

func (s *Server) ctlScan(w http.ResponseWriter, r *http.Request) {
	var body struct{ Code, Phone string }
	if !decode(w, r, &body) {
		return
	}
	if err := s.Scan(body.Code, body.Phone); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"phone": digits(body.Phone)})
}

func (s *Server) ctlMessages(w http.ResponseWriter, r *http.Request) {
	acct := r.URL.Query().Get("account")
	if digits(acct) == "" {
		writeError(w, http.StatusBadRequest, errors.New("account=<phone> is required"))
		return
	}
	writeJSON(w, http.StatusOK, s.Messages(acct))
}

func (s *Server) ctlPairing(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.PairingCodes())
}

func (s *Server) ctlPair(w http.ResponseWriter, r *http.Request) {
	var body struct{ Code string }
	if !decode(w, r, &body) {
		return
	}
	if err := s.Pair(body.Code); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": normalizePairCode(body.Code)})
}

func (s *Server) ctlLogout(w http.ResponseWriter, r *http.Request) {
	var body struct{ Phone string }
	if !decode(w, r, &body) {
		return
	}
	if digits(body.Phone) == "" {
		writeError(w, http.StatusBadRequest, ErrInvalidPhone)
		return
	}
	s.Logout(body.Phone)
	writeJSON(w, http.StatusOK, map[string]string{"phone": digits(body.Phone)})
}

// ctlConfig answers GET and POST /_fake/config with the knobs in force;
// a POST first applies the fields present in its body.
func (s *Server) ctlConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var c configJSON
		if !decode(w, r, &c) {
			return
		}
		s.mu.Lock()
		o := s.opts
		c.apply(&o)
		if err := o.Validate(); err != nil {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, err)
			return
		}
		s.opts = o.withDefaults()
		if c.Hang != nil {
			s.setHangLocked(*c.Hang)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	c := toConfigJSON(s.opts, s.hang)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, c)
}
