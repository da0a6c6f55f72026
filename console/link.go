package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/redact"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// linkEvent is one line of a link stream (POST /t/{id}/link), JSON.
type linkEvent struct {
	// Type: "waiting" (the attempt started; the tenant's browser may still
	// be booting), "qr", "pairing", "linked" or "error" (the last line).
	Type string `json:"type"`
	// Code: for "qr" the QR code's text (the page's data-ref), for
	// "pairing" the code as people read it, "ABCD-EFGH".
	Code string `json:"code,omitempty"`
	// PNG is the QR code as an image (base64 in JSON): what the page's canvas
	// shows, or, when that screenshot failed, the code drawn here.
	PNG        []byte `json:"png,omitempty"`
	Seq        uint32 `json:"seq,omitempty"`          // 1, 2, … as the page rotates its code
	ValidForMS int64  `json:"valid_for_ms,omitempty"` // how long the code stays valid
	// Phone (masked) and AlreadyLinked, for "linked".
	Phone         string `json:"phone,omitempty"`
	AlreadyLinked bool   `json:"already_linked,omitempty"`
	// Error and Status (an HTTP status), for "error".
	Error  string `json:"error,omitempty"`
	Status int    `json:"status,omitempty"`
}

// link runs one link attempt for as long as the request lasts, streaming its
// events as NDJSON. The form's phone field, when set, asks for a pairing
// code instead of a QR code. Errors found before the attempt starts (a bad
// tenant id or phone) answer with their HTTP status; later ones arrive as
// an "error" line.
func (c *Console) link(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := parseForm(r); err != nil {
		writeLinkError(w, http.StatusBadRequest, err)
		return
	}
	phone := strings.TrimSpace(r.PostForm.Get("phone"))
	if err := sessionstore.ValidateTenantID(id); err != nil {
		writeLinkError(w, http.StatusBadRequest, err)
		return
	}
	if err := c.check(r, id, true); err != nil {
		writeLinkError(w, httpStatus(err), err)
		return
	}
	if phone != "" {
		if _, err := supervisor.NormalizePhone(phone); err != nil {
			writeLinkError(w, http.StatusBadRequest, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy must not hold the codes back
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(ev linkEvent) error {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send(linkEvent{Type: "waiting"}) != nil {
		return
	}
	c.log.Info("link started", zap.String("tenant", id), zap.Bool("pairing", phone != ""), zap.String("remote", r.RemoteAddr))
	err := c.sup.Link(r.Context(), id, phone, func(ev supervisor.LinkEvent) error {
		return send(c.linkEventOf(ev))
	})
	if err != nil && r.Context().Err() == nil {
		c.log.Info("link ended", zap.String("tenant", id), zap.Error(err))
		_ = send(linkEvent{Type: "error", Error: errorText(err), Status: httpStatus(err)})
	}
}

func (c *Console) linkEventOf(ev supervisor.LinkEvent) linkEvent {
	switch {
	case ev.QR != nil:
		png := ev.QR.PNG
		if len(png) == 0 {
			var err error
			if png, err = qrcode.Encode(ev.QR.Code, qrcode.Low, 320); err != nil {
				c.log.Warn("drawing a QR code", zap.Error(err))
			}
		}
		return linkEvent{Type: "qr", Code: ev.QR.Code, PNG: png, Seq: ev.QR.Sequence, ValidForMS: ev.QR.ValidFor.Milliseconds()}
	case ev.Pairing != nil:
		return linkEvent{Type: "pairing", Code: pairingText(ev.Pairing.Code), Seq: ev.Pairing.Sequence, ValidForMS: ev.Pairing.ValidFor.Milliseconds()}
	case ev.Linked != nil:
		l := linkEvent{Type: "linked", AlreadyLinked: ev.Linked.AlreadyLinked}
		if ev.Linked.Phone != "" {
			l.Phone = redact.Phone(ev.Linked.Phone)
		}
		return l
	}
	return linkEvent{Type: "error", Error: "unknown link event", Status: http.StatusInternalServerError}
}

// pairingText shows an 8-character pairing code as people read it:
// "ABCD-EFGH".
func pairingText(code string) string {
	code = strings.ReplaceAll(code, "-", "")
	if len(code) == 8 {
		return code[:4] + "-" + code[4:]
	}
	return code
}

func writeLinkError(w http.ResponseWriter, code int, err error) {
	if errors.Is(err, errFormTooBig) {
		code = http.StatusRequestEntityTooLarge
	}
	b, _ := json.Marshal(linkEvent{Type: "error", Error: errorText(err), Status: code})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
