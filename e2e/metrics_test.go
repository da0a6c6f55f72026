package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// metricsAddr finds the metrics address the daemon logged.
func (d *daemon) metricsAddr(t *testing.T) string {
	t.Helper()
	var addr string
	waitFor(t, "the metrics address in the log", 10*time.Second, func() bool {
		for _, line := range strings.Split(d.log(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics serving" {
				addr = rec.Addr
				return true
			}
		}
		return false
	})
	return addr
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metric returns the value of the sample line that starts with name{labels}.
func metric(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest
		}
	}
	return ""
}

// TestMetricsMoveAfterASend: the Prometheus endpoint shows sessions by
// state, browser starts, the Send latency and the gRPC calls, and they move.
func TestMetricsMoveAfterASend(t *testing.T) {
	f, d := startStack(t, "--metrics-addr", "127.0.0.1:0")
	addr := d.metricsAddr(t)
	link(t, d, f, "m1", accountA)
	before := scrape(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := send(ctx, d, "m1", contact1, "counted"); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, addr)
	checks := []struct{ series, before, after string }{
		{`wapool_send_duration_seconds_count{state="SENT"}`, "", "1"},
		{`grpc_server_handled_total{grpc_code="OK",grpc_method="Send",grpc_service="wapool.v1.SessionService",grpc_type="unary"}`, "0", "1"},
		{`wapool_sessions{state="READY"}`, "1", "1"},
		{`wapool_browser_starts_total{tenant="m1"}`, "1", "1"},
		{`wapool_queue_depth{tenant="m1"}`, "0", "0"},
	}
	for _, c := range checks {
		if got := metric(before, c.series); got != c.before {
			t.Errorf("before the send %s = %q, want %q", c.series, got, c.before)
		}
		if got := metric(after, c.series); got != c.after {
			t.Errorf("after the send %s = %q, want %q", c.series, got, c.after)
		}
	}
	for _, name := range []string{"wapool_outbox_messages", "wapool_browser_memory_bytes", "wapool_browser_crashes_total"} {
		if !strings.Contains(after, "# TYPE "+name) && !strings.Contains(after, name+"{") && !strings.Contains(after, name+" ") {
			t.Errorf("metric %s missing", name)
		}
	}
}
