package console

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// A message's file shows by its name, size and kind; a text's cell is
// empty. Its bytes are not the console's to show (it never has them), nor
// is its caption.
func TestMessageFileShownByNameAndSize(t *testing.T) {
	fake := newFake()
	now := time.Now()
	fake.messages["shop-1"] = append([]supervisor.Message{
		{ID: "0000000000000003cccccccc", TenantID: "shop-1", To: "15550004444", Text: secret, State: supervisor.MessageQueued, CreatedAt: now,
			Media: &sessionstore.Media{Filename: "invoice 1042.pdf", MimeType: "application/pdf", Size: 2_100_000, SHA256: strings.Repeat("ab", 32), AsDocument: true}},
		{ID: "0000000000000004dddddddd", TenantID: "shop-1", To: "15550004444", State: supervisor.MessageSent, CreatedAt: now,
			Media: &sessionstore.Media{Filename: "parcel.jpg", MimeType: "image/jpeg", Size: 840, SHA256: strings.Repeat("cd", 32)}},
	}, fake.messages["shop-1"]...)
	ts := serve(t, fake, Options{})
	c := newClient(t, ts.URL)
	_, page := c.get("/t/shop-1")
	for _, want := range []string{"<td>invoice 1042.pdf, 2.1 MB, document</td>", "<td>parcel.jpg, 840 bytes, picture</td>", "<th>File</th>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the tenant page lacks %q", want)
		}
	}
	var st struct {
		Messages []messageView `json:"messages"`
	}
	_, raw := c.get("/api/tenants/shop-1")
	if err := json.Unmarshal([]byte(raw), &st); err != nil || len(st.Messages) != 4 {
		t.Fatalf("GET /api/tenants/shop-1: %v\n%s", err, raw)
	}
	if got := []string{st.Messages[0].File, st.Messages[1].File, st.Messages[2].File}; got[0] != "invoice 1042.pdf, 2.1 MB, document" || got[1] != "parcel.jpg, 840 bytes, picture" || got[2] != "" {
		t.Errorf("files in the API: %q", got)
	}
	for _, body := range []string{page, raw} {
		for _, leak := range []string{secret, "15550004444", strings.Repeat("ab", 32)} {
			if strings.Contains(body, leak) {
				t.Errorf("the console shows %q", leak)
			}
		}
	}
}
