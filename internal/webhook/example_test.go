package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wapool/wapool/internal/webhook"
)

// A receiver checks each POST with its own secret before trusting it: the
// timestamp within 5 minutes (else a replay), and one of the signatures its
// own. A 401 pauses wapool's delivery (nothing is lost); a 2xx acknowledges.
func ExampleVerify() {
	secret := []byte("the receiver's secret")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "not from wapool", http.StatusUnauthorized)
			return
		}
		// Handle the event, de-duplicated by r.Header.Get(webhook.EventIDHeader).
		w.WriteHeader(http.StatusNoContent)
	})

	// A request as wapool makes it, during a rotation: two signatures.
	body := `{"cursor":"3f9a0c21-000000000000002a"}`
	ts := fmt.Sprint(time.Now().Unix())
	for _, sig := range []string{
		webhook.Sign([]byte("the old secret"), ts, []byte(body)) + "," + webhook.Sign(secret, ts, []byte(body)),
		webhook.Sign([]byte("someone else's"), ts, []byte(body)),
	} {
		req := httptest.NewRequest(http.MethodPost, "/wapool/events", strings.NewReader(body))
		req.Header.Set(webhook.TimestampHeader, ts)
		req.Header.Set(webhook.SignatureHeader, sig)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// 204
	// 401
}
