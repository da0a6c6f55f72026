package fakewa

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"time"
)

// The page's own API, /_fakeapi/...: how the page script talks to "its
// server". It is not part of the contract; drivers never call it.

var (
	errUnknownSession = errors.New("unknown session")
	errNotLinked      = errors.New("not linked")
	errNotActive      = errors.New("the account is open in another window")
	errNotOnWhatsApp  = errors.New("not on WhatsApp")
)

// msgIDPattern: the page's message ids, like WhatsApp Web's "3EB0…".
var msgIDPattern = regexp.MustCompile(`^[0-9A-F]{8,40}$`)

// historyLen is how many recent messages an open chat shows.
const historyLen = 50

func ms(d time.Duration) int64 { return d.Milliseconds() }

// sessionLocked finds the session named by ?sid= and marks it seen.
func (s *Server) sessionLocked(r *http.Request, now time.Time) *session {
	sess := s.sessions[r.URL.Query().Get("sid")]
	if sess != nil {
		sess.lastSeen = now
		if sess.view == viewGone { // back from the back/forward cache
			sess.view = viewLanding
			if sess.account != "" {
				sess.view = viewMain
			}
		}
	}
	return sess
}

type pageMessage struct {
	ID         string     `json:"id"`
	To         string     `json:"to"`
	Text       string     `json:"text"`
	Ack        int        `json:"ack"`
	AtMS       int64      `json:"at_ms"`
	CheckInMS  int64      `json:"check_in_ms"`    // until ack 1, 0 once there
	DblCheckMS int64      `json:"dblcheck_in_ms"` // until ack 2, 0 once there
	Media      *pageMedia `json:"media,omitempty"`
}

func toPage(m *message, now time.Time) pageMessage {
	return pageMessage{
		ID: m.id, To: m.to, Text: m.text, Ack: m.ack(now), AtMS: m.at.UnixMilli(),
		CheckInMS: max(0, ms(m.ackAt.Sub(now))), DblCheckMS: max(0, ms(m.dlvAt.Sub(now))),
		Media: m.media.toPage(),
	}
}

// apiBoot starts a page instance: {token} → the session, whether the token
// links it, and the timings the page needs.
func (s *Server) apiBoot(w http.ResponseWriter, r *http.Request) {
	var body struct{ Token string }
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.pruneLocked(now)
	sess := &session{id: randomHex(16), lastSeen: now, view: viewLanding}
	for s.sessions[sess.id] != nil {
		sess.id = randomHex(16)
	}
	s.sessions[sess.id] = sess
	if phone, ok := s.tokens[body.Token]; ok && body.Token != "" {
		sess.account, sess.token, sess.view = phone, body.Token, viewMain
		s.accountLocked(phone).active = sess.id // an earlier page of the account gets the conflict dialog
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sid": sess.id, "linked": sess.account != "", "phone": sess.account,
		"boot_delay_ms": ms(s.opts.BootDelay), "poll_ms": ms(s.opts.LogoutPoll), "hang": s.hang,
		"build": s.opts.Build, "drawing": s.opts.Drawing,
	})
}

// apiPoll is the page's periodic check: linked or not, token still valid,
// active or in conflict, hang switch, how bubbles draw their text.
func (s *Server) apiPoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionLocked(r, s.now())
	if sess == nil {
		writeError(w, http.StatusNotFound, errUnknownSession)
		return
	}
	resp := map[string]any{"hang": s.hang, "poll_ms": ms(s.opts.LogoutPoll), "state": "landing", "drawing": s.opts.Drawing}
	switch {
	case sess.account == "":
	case !s.linkedLocked(sess):
		resp["state"] = "logged_out"
	default:
		resp["state"] = "linked"
		resp["token"] = sess.token
		resp["phone"] = sess.account
		resp["active"] = s.accounts[sess.account].active == sess.id
	}
	writeJSON(w, http.StatusOK, resp)
}

// apiQR returns the QR code to draw now (its text, its modules and the time
// it has left), or exhausted with the last code when the series ran out.
func (s *Server) apiQR(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := s.now()
	sess := s.landingSessionLocked(w, r, now)
	if sess == nil {
		s.mu.Unlock()
		return
	}
	if sess.view != viewLanding {
		s.endPairingLocked(sess)
		s.endSeriesLocked(sess)
		sess.view = viewLanding
	}
	c := s.currentQRLocked(sess, r.URL.Query().Get("reload") == "1", now)
	last := lastQR(sess)
	s.mu.Unlock()
	if c == nil {
		writeJSON(w, http.StatusOK, map[string]any{"exhausted": true, "code": last})
		return
	}
	matrix, err := qrMatrix(c.text)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"code": c.text, "matrix": matrix, "expires_in_ms": max(0, ms(c.expires.Sub(now))),
	})
}

// apiMode switches the landing between the QR code ("qr") and linking with
// a phone number ("phone"): the other one's codes stop being valid.
func (s *Server) apiMode(w http.ResponseWriter, r *http.Request) {
	var body struct{ Mode string }
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.landingSessionLocked(w, r, s.now())
	if sess == nil {
		return
	}
	switch body.Mode {
	case "phone":
		s.endSeriesLocked(sess)
		sess.view = viewPhone
	case "qr":
		s.endPairingLocked(sess)
		s.endSeriesLocked(sess)
		sess.view = viewLanding
	default:
		writeError(w, http.StatusBadRequest, errors.New(`mode is "qr" or "phone"`))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"mode": body.Mode})
}

// apiPairing returns the pairing code for the typed number.
func (s *Server) apiPairing(w http.ResponseWriter, r *http.Request) {
	var body struct{ Phone string }
	if !decode(w, r, &body) {
		return
	}
	phone, err := normalizePhone(body.Phone)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	sess := s.landingSessionLocked(w, r, now)
	if sess == nil {
		return
	}
	p := s.pairingLocked(sess, phone, now)
	writeJSON(w, http.StatusOK, map[string]any{"code": p.code, "phone": p.phone, "expires_in_ms": max(0, ms(p.expires.Sub(now)))})
}

// landingSessionLocked finds a session not linked yet, for the endpoints
// of the landing (the QR code, the pairing code); else it answers 404 or
// 409 and returns nil.
func (s *Server) landingSessionLocked(w http.ResponseWriter, r *http.Request, now time.Time) *session {
	sess := s.sessionLocked(r, now)
	switch {
	case sess == nil:
		writeError(w, http.StatusNotFound, errUnknownSession)
	case sess.account != "":
		writeError(w, http.StatusConflict, errors.New("already linked"))
	default:
		return sess
	}
	return nil
}

// linkedSession finds a linked session for the endpoints of the main screen.
func (s *Server) linkedSessionLocked(w http.ResponseWriter, r *http.Request) *session {
	sess := s.sessionLocked(r, s.now())
	switch {
	case sess == nil:
		writeError(w, http.StatusNotFound, errUnknownSession)
	case !s.linkedLocked(sess):
		writeError(w, http.StatusUnauthorized, errNotLinked)
	default:
		return sess
	}
	return nil
}

// lockLinked takes s.mu and returns the request's linked session and the
// time, still holding the lock; without one it answers the request, lets go of the lock
// and returns nil.
func (s *Server) lockLinked(w http.ResponseWriter, r *http.Request) (sess *session, now time.Time) {
	s.mu.Lock()
	now = s.now()
	if sess = s.linkedSessionLocked(w, r); sess == nil {
		s.mu.Unlock()
	}
	return sess, now
}

// apiTakeover is "Use here" (fact 12): this page becomes the active one.
func (s *Server) apiTakeover(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.lockLinked(w, r)
	if sess == nil {
		return
	}
	defer s.mu.Unlock()
	s.accounts[sess.account].active = sess.id
	sess.view = viewMain
	writeJSON(w, http.StatusOK, map[string]bool{"active": true})
}

// apiChats lists the account's chats, the most recent first.
func (s *Server) apiChats(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.lockLinked(w, r)
	if sess == nil {
		return
	}
	defer s.mu.Unlock()
	type chat struct {
		Phone    string `json:"phone"`
		LastText string `json:"last_text"`
		LastAtMS int64  `json:"last_at_ms"`
	}
	var chats []chat
	seen := map[string]bool{}
	msgs := s.accounts[sess.account].messages
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if !seen[m.to] {
			seen[m.to] = true
			chats = append(chats, chat{m.to, m.listText(), m.at.UnixMilli()})
		}
	}
	if chats == nil {
		chats = []chat{}
	}
	writeJSON(w, http.StatusOK, chats)
}

// apiOpen opens a chat: whether the number is on WhatsApp, the chat's
// recent messages, the jid that names it in the default build (fact 10,
// Options.LidSuffix), how its bubbles draw their text (Options.Drawing),
// the variant the page draws the chat in (Options.Variant) and, while
// Options.EditorDelay is on, this open's delay of its editor (fact 17; 0
// when off) and the knob itself, from which each file preview of the chat
// picks the delay of its caption's editor (fact 19) as the server picks an
// open's. With wait=1 (a chat opened inside the
// app, fact 14) it answers after LookupDelay, while the page shows
// "Starting chat".
func (s *Server) apiOpen(w http.ResponseWriter, r *http.Request) {
	phone := digits(r.URL.Query().Get("phone"))
	if r.URL.Query().Get("wait") == "1" {
		s.mu.Lock()
		d := s.opts.LookupDelay
		s.mu.Unlock()
		if !s.pause(r, d) {
			return
		}
	}
	sess, now := s.lockLinked(w, r)
	if sess == nil {
		return
	}
	defer s.mu.Unlock()
	resp := struct {
		Phone      string        `json:"phone"`
		OnWhatsApp bool          `json:"on_whatsapp"`
		Messages   []pageMessage `json:"messages"`
		EditorMS   int64         `json:"editor_delay_ms"`
		CaptionMax int64         `json:"caption_editor_max_ms"`
		JID        string        `json:"jid,omitempty"`
		Drawing    string        `json:"drawing"`
		Variant    string        `json:"variant"`
	}{Phone: phone, OnWhatsApp: s.onWhatsAppLocked(phone), Messages: []pageMessage{}, Drawing: s.opts.Drawing, Variant: s.opts.Variant}
	if resp.OnWhatsApp {
		resp.EditorMS = editorDelayMS(s.opts.EditorDelay)
		resp.CaptionMax = ms(s.opts.EditorDelay)
		resp.JID = s.jidLocked(phone)
		msgs := s.accounts[sess.account].messages
		for i := len(msgs) - 1; i >= 0 && len(resp.Messages) < historyLen; i-- {
			if msgs[i].to == phone {
				resp.Messages = append(resp.Messages, toPage(msgs[i], now))
			}
		}
		slices.Reverse(resp.Messages)
	}
	writeJSON(w, http.StatusOK, resp)
}

// editorDelayMS picks the editor delay of one chat open, in milliseconds:
// uniformly in [limit/4, limit], at least 1 while limit > 0; 0 when the knob
// is off (limit <= 0).
func editorDelayMS(limit time.Duration) int64 {
	if limit <= 0 {
		return 0
	}
	lo := max(1, ms(limit/4))
	hi := max(lo, ms(limit))
	return lo + rand.Int64N(hi-lo+1)
}

// apiSend records a message the page sends (ack 0) and tells the page when
// the acks come and how bubbles draw their text now (Options.Drawing).
func (s *Server) apiSend(w http.ResponseWriter, r *http.Request) {
	var body struct{ ID, To, Text string }
	if !decode(w, r, &body) {
		return
	}
	sess, now := s.lockLinked(w, r)
	if sess == nil {
		return
	}
	defer s.mu.Unlock()
	switch {
	case !msgIDPattern.MatchString(body.ID):
		writeError(w, http.StatusBadRequest, errors.New("bad message id"))
		return
	case body.Text == "":
		writeError(w, http.StatusBadRequest, errors.New("empty text"))
		return
	case body.To != digits(body.To):
		writeError(w, http.StatusBadRequest, errNotOnWhatsApp)
		return
	}
	s.recordLocked(w, sess, &message{id: body.ID, to: body.To, text: body.Text}, now)
}

// recordLocked records m, a message the page sends (ack 0, its acks due
// after AckDelay), and answers with it and how bubbles draw their text now
// (Options.Drawing). A retry of a recorded id is not a second message. A
// page that is not the account's active one gets 409, a number not on
// WhatsApp 400.
func (s *Server) recordLocked(w http.ResponseWriter, sess *session, m *message, now time.Time) {
	acct := s.accounts[sess.account]
	switch {
	case acct.active != sess.id:
		writeError(w, http.StatusConflict, errNotActive)
		return
	case !s.onWhatsAppLocked(m.to):
		writeError(w, http.StatusBadRequest, errNotOnWhatsApp)
		return
	}
	if old := acct.byID[m.id]; old != nil {
		m = old
	} else {
		m.at, m.ackAt, m.dlvAt = now, now.Add(s.opts.AckDelay), now.Add(2*s.opts.AckDelay)
		acct.messages = append(acct.messages, m)
		acct.byID[m.id] = m
	}
	writeJSON(w, http.StatusOK, struct {
		pageMessage
		Drawing string `json:"drawing"`
	}{toPage(m, now), s.opts.Drawing})
}

// pause waits d, or until the server closes; it returns false when the
// request ended first (the page left).
func (s *Server) pause(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
	case <-r.Context().Done():
		return false
	}
	return true
}

// hangWait bounds one request of a hung page's loop.
const hangWait = time.Second

// apiHang answers "on" or "off". While the switch is on it first waits up to
// hangWait for it to turn off, so the hung page's loop of synchronous
// requests costs no CPU.
func (s *Server) apiHang(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	on, changed := s.hang, s.hangChanged
	if on {
		s.hangWaiters++
	}
	s.mu.Unlock()
	if on {
		t := time.NewTimer(hangWait)
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
		case <-s.done:
		}
		t.Stop()
		s.mu.Lock()
		s.hangWaiters--
		on = s.hang
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "text/plain")
	if on {
		w.Write([]byte("on"))
		return
	}
	w.Write([]byte("off"))
}

// apiBye: the page is going away (pagehide); its codes stop being shown.
func (s *Server) apiBye(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess := s.sessions[r.URL.Query().Get("sid")]; sess != nil {
		sess.view = viewGone
	}
	w.WriteHeader(http.StatusNoContent)
}
