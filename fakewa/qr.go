package fakewa

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// newDeviceKeys returns ",noiseKey,identityKey,advSecret": three base64
// 32-byte keys that stay the same for every code a page shows, as a device's
// keys do; only the ref changes between codes.
func newDeviceKeys() string {
	var b strings.Builder
	for range 3 {
		k := make([]byte, 32)
		rand.Read(k)
		b.WriteByte(',')
		b.WriteString(base64.StdEncoding.EncodeToString(k))
	}
	return b.String()
}

// newRef returns a server ref like WhatsApp's: "2@" and random base64.
func newRef() string {
	r := make([]byte, 48)
	rand.Read(r)
	return "2@" + base64.StdEncoding.EncodeToString(r)
}

// currentQRLocked returns the code the page of sess should show now,
// starting a series (or a new one when reload) and rotating an expired code.
// It returns nil when the series has run out (fact 3: the reload button).
func (s *Server) currentQRLocked(sess *session, reload bool, now time.Time) *qrCode {
	if reload || (sess.series == nil && !sess.exhausted) {
		s.endSeriesLocked(sess)
		return s.nextQRLocked(sess, s.opts.FirstQRLifetime, now)
	}
	if sess.exhausted {
		return nil
	}
	cur := sess.series[len(sess.series)-1]
	if now.Before(cur.expires) {
		return cur
	}
	cur.superseded = true
	if len(sess.series) > s.opts.rotations() {
		sess.exhausted = true
		return nil
	}
	return s.nextQRLocked(sess, s.opts.QRLifetime, now)
}

func (s *Server) nextQRLocked(sess *session, life time.Duration, now time.Time) *qrCode {
	if sess.keys == "" {
		sess.keys = newDeviceKeys()
	}
	c := &qrCode{text: newRef() + sess.keys, sid: sess.id, shownAt: now, expires: now.Add(life)}
	sess.series = append(sess.series, c)
	sess.exhausted = false
	s.qrCodes[c.text] = c
	return c
}

// lastQR is the last code of the session's series ("" if none): the
// data-ref a page keeps under its reload button.
func lastQR(sess *session) string {
	if len(sess.series) == 0 {
		return ""
	}
	return sess.series[len(sess.series)-1].text
}

// qrMatrix returns the modules of the QR code of text, quiet zone included,
// one string of '0' (light) and '1' (dark) per row.
func qrMatrix(text string) ([]string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	bm := q.Bitmap()
	rows := make([]string, len(bm))
	for i, row := range bm {
		b := make([]byte, len(row))
		for j, dark := range row {
			b[j] = '0'
			if dark {
				b[j] = '1'
			}
		}
		rows[i] = string(b)
	}
	return rows, nil
}

// validQRLocked finds the session whose page shows code now.
func (s *Server) validQRLocked(code string, now time.Time) (*session, error) {
	c := s.qrCodes[code]
	if c == nil {
		return nil, ErrUnknownCode
	}
	sess := s.sessions[c.sid]
	if sess == nil || c.superseded || !now.Before(c.expires) || sess.view != viewLanding || sess.account != "" {
		return nil, ErrExpiredCode
	}
	return sess, nil
}
