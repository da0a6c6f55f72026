package fakewa

import (
	"crypto/rand"
	"strings"
	"time"
)

// pairAlphabet is the alphabet of pairing codes (fact 15): 32 characters.
const pairAlphabet = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"

// newPairCode returns 8 random characters of pairAlphabet.
func newPairCode() string {
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = pairAlphabet[b[i]&31] // 32 characters: no modulo bias
	}
	return string(b)
}

// normalizePairCode accepts "ABCD-EFGH", "abcdefgh" or "A,B,C,D,E,F,G,H".
func normalizePairCode(code string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", ",", "", " ", "").Replace(code))
}

// pairingLocked returns the pairing code the page of sess shows for phone,
// issuing a new one when there is none, it expired or the phone changed.
func (s *Server) pairingLocked(sess *session, phone string, now time.Time) *pairCode {
	if p := sess.pairing; p != nil && p.phone == phone && now.Before(p.expires) {
		return p
	}
	s.endSeriesLocked(sess)
	s.endPairingLocked(sess)
	p := &pairCode{code: newPairCode(), phone: phone, sid: sess.id, shownAt: now, expires: now.Add(s.opts.PairingLifetime)}
	for s.pairCodes[p.code] != nil {
		p.code = newPairCode()
	}
	s.pairCodes[p.code] = p
	sess.pairing, sess.view = p, viewPhone
	return p
}

// validPairLocked finds the pairing code the phone enters and its session.
func (s *Server) validPairLocked(code string, now time.Time) (*pairCode, *session, error) {
	p := s.pairCodes[normalizePairCode(code)]
	if p == nil {
		return nil, nil, ErrUnknownCode
	}
	sess := s.sessions[p.sid]
	if sess == nil || p.superseded || !now.Before(p.expires) || sess.view != viewPhone || sess.account != "" {
		return nil, nil, ErrExpiredCode
	}
	return p, sess, nil
}
