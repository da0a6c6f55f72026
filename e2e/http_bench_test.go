package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/percentile"
	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// BenchmarkHTTPvsGRPC measures what HTTP/JSON (--http-addr, grpc-gateway)
// adds over gRPC, on one real daemon (built without -race), a real browser
// on fakewa (fast timings), both on loopback, the calls of the two
// protocols alternating (which goes first alternates too) so that they see
// the same daemon:
//
//   - Status of a READY tenant;
//   - Send with WAIT_ACCEPTED: the message stored durably (an fsync), the
//     API's own path;
//   - Send with WAIT_SENT: through the browser, the chat open.
//
// Each client keeps its connection (HTTP/1.1 keep-alive, one gRPC channel)
// and decodes the answer into the proto message.
//
// Run it once: go test -run '^$' -bench HTTPvsGRPC -benchtime 1x ./e2e/
func BenchmarkHTTPvsGRPC(b *testing.B) {
	const (
		statuses = 400
		accepted = 150
		sent     = 20
		tenant   = "bench"
	)
	bin := wapooldtest.Build(b, b.TempDir())
	chrome := chromiumtest.Path(b)
	f := fakewa.New(fakewa.FastOptions())
	fs := httptest.NewServer(f)
	defer func() { f.Close(); fs.Close() }()
	data := b.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d, err := wapooldtest.Start(ctx, wapooldtest.Options{Bin: bin, Args: []string{"--data-dir", data, "--target-url", fs.URL,
		"--chromium", chrome, "--send-interval", "0", "--send-jitter", "0", "--metrics-addr", "", "--queue-limit", "10000",
		"--http-addr", "127.0.0.1:0"}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if _, err := d.Stop(30 * time.Second); err != nil {
			b.Error(err)
		}
		d.Close()
		wapooldtest.WaitNoBrowsers(data, 10*time.Second)
	}()
	base := "http://" + loggedHTTPAddr(b, d)
	if _, err := d.Link(ctx, tenant, func(code string) error { return f.Scan(code, accountA) }); err != nil {
		b.Fatal(err)
	}
	c := d.Client()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	httpDo := func(method, path string, body []byte, out proto.Message) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		rb, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s %s: %d %s %v", method, path, resp.StatusCode, rb, err)
		}
		if err := protojson.Unmarshal(rb, out); err != nil {
			b.Fatal(err)
		}
	}
	sendBody := func(i int, wait string) []byte {
		j, _ := json.Marshal(map[string]any{"to": contact1, "text": fmt.Sprintf("bench %d", i), "wait": wait})
		return j
	}
	waitOf := map[string]wapoolv1.Wait{"WAIT_SENT": wapoolv1.Wait_WAIT_SENT, "WAIT_ACCEPTED": wapoolv1.Wait_WAIT_ACCEPTED}

	type arm struct{ grpc, http []time.Duration }
	// measure runs n pairs, alternating which protocol goes first.
	measure := func(n int, grpcCall, httpCall func(i int)) arm {
		var a arm
		for i := range n {
			g := func() { t0 := time.Now(); grpcCall(i); a.grpc = append(a.grpc, time.Since(t0)) }
			h := func() { t0 := time.Now(); httpCall(i); a.http = append(a.http, time.Since(t0)) }
			if i%2 == 0 {
				g()
				h()
			} else {
				h()
				g()
			}
		}
		return a
	}
	status := measure(statuses, func(int) {
		resp, err := c.Status(ctx, &wapoolv1.StatusRequest{TenantId: tenant})
		if err != nil || resp.GetSession().GetState() != wapoolv1.SessionState_SESSION_STATE_READY {
			b.Fatalf("Status: %v %v", resp, err)
		}
	}, func(int) {
		var resp wapoolv1.StatusResponse
		httpDo("GET", "/v1/tenants/"+tenant, nil, &resp)
		if resp.GetSession().GetState() != wapoolv1.SessionState_SESSION_STATE_READY {
			b.Fatalf("Status over HTTP: %v", &resp)
		}
	})
	send := func(n int, wait string, want wapoolv1.MessageState) arm {
		return measure(n, func(i int) {
			resp, err := c.Send(ctx, &wapoolv1.SendRequest{TenantId: tenant, To: contact1, Text: fmt.Sprintf("bench g%d", i), Wait: waitOf[wait]})
			if err != nil || (want == wapoolv1.MessageState_MESSAGE_STATE_SENT && resp.GetMessage().GetState() != want) {
				b.Fatalf("Send: %v %v", resp, err)
			}
		}, func(i int) {
			var resp wapoolv1.SendResponse
			httpDo("POST", "/v1/tenants/"+tenant+"/messages", sendBody(i, wait), &resp)
			if want == wapoolv1.MessageState_MESSAGE_STATE_SENT && resp.GetMessage().GetState() != want {
				b.Fatalf("Send over HTTP: %v", &resp)
			}
		})
	}
	sendSent := send(sent, "WAIT_SENT", wapoolv1.MessageState_MESSAGE_STATE_SENT) // opens the chat first
	sendAccepted := send(accepted, "WAIT_ACCEPTED", wapoolv1.MessageState_MESSAGE_STATE_QUEUED)

	var t strings.Builder
	fmt.Fprintf(&t, "\n| call | gRPC p50 / p95 | HTTP/JSON p50 / p95 | HTTP/JSON adds, p50 / p95 |\n|---|---:|---:|---:|\n")
	row := func(name, key string, n int, a arm) {
		g50, g95 := percentile.Of(a.grpc, 50), percentile.Of(a.grpc, 95)
		h50, h95 := percentile.Of(a.http, 50), percentile.Of(a.http, 95)
		fmt.Fprintf(&t, "| %s (%d each) | %.2f / %.2f ms | %.2f / %.2f ms | %+.2f / %+.2f ms |\n", name, n, ms(g50), ms(g95), ms(h50), ms(h95), ms(h50-g50), ms(h95-g95))
		b.ReportMetric(ms(g50), key+"-grpc-p50-ms")
		b.ReportMetric(ms(h50), key+"-http-p50-ms")
	}
	row("Status", "status", statuses, status)
	row("Send WAIT_ACCEPTED", "send-accepted", accepted, sendAccepted)
	row("Send WAIT_SENT", "send-sent", sent, sendSent)
	b.Log(t.String())
}

// loggedHTTPAddr finds the --http-addr address d logged.
func loggedHTTPAddr(tb testing.TB, d *wapooldtest.Daemon) string {
	tb.Helper()
	for range 200 {
		for _, line := range strings.Split(d.Log(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "http serving" {
				return rec.Addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatal("no http address in the log")
	return ""
}
