package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/wait"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

type fake struct {
	*fakewa.Server
	url string
}

func startFake(t *testing.T, opts fakewa.Options) *fake {
	t.Helper()
	f := fakewa.New(opts)
	ts := httptest.NewServer(f)
	t.Cleanup(func() { f.Close(); ts.Close() })
	return &fake{Server: f, url: ts.URL}
}

// startStack starts fakewa and a wapoold on it with pacing off.
func startStack(t *testing.T, extra ...string) (*fake, *daemon) {
	t.Helper()
	return startStackWith(t, fakewa.FastOptions(), extra...)
}

// lateEditor is fakewa's fast timings with the worst case of fact 17: every
// chat's editor goes live late, after a delay that varies per chat open.
func lateEditor() fakewa.Options {
	o := fakewa.FastOptions()
	o.EditorDelay = 900 * time.Millisecond
	return o
}

// startStackWith starts fakewa with opts and a wapoold on it with pacing off.
func startStackWith(t *testing.T, opts fakewa.Options, extra ...string) (*fake, *daemon) {
	t.Helper()
	chrome := chromiumtest.Path(t)
	f := startFake(t, opts)
	args := append([]string{"--target-url", f.url, "--chromium", chrome, "--send-interval", "0", "--send-jitter", "0"}, extra...)
	return f, startDaemon(t, daemonOpts{args: args})
}

func (d *daemon) client() wapoolv1.SessionServiceClient {
	return wapoolv1.NewSessionServiceClient(d.conn)
}

// link runs Link for tenant, scans the first QR code with phone through
// fakewa's control API and returns the events seen.
func link(t *testing.T, d *daemon, f *fake, tenant, phone string) []*wapoolv1.LinkResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	events, err := d.Link(ctx, tenant, func(code string) error {
		if !slices.ContainsFunc(f.QRCodes(), func(s fakewa.ShownQR) bool { return s.Code == code }) {
			return fmt.Errorf("Link streamed %q, which fakewa does not show", code)
		}
		return f.Scan(code, phone)
	})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// waitFor polls cond every 50ms until it holds or the timeout ends.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if err := wait.Until(timeout, 50*time.Millisecond, cond); err != nil {
		t.Fatalf("%v waiting for %s", err, what)
	}
}

func sessionStatus(t *testing.T, d *daemon, tenant string) *wapoolv1.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := d.client().Status(ctx, &wapoolv1.StatusRequest{TenantId: tenant})
	if err != nil {
		t.Fatalf("status %s: %v", tenant, err)
	}
	return resp.Session
}

func waitState(t *testing.T, d *daemon, tenant string, want wapoolv1.SessionState, timeout time.Duration) *wapoolv1.Session {
	t.Helper()
	var s *wapoolv1.Session
	waitFor(t, tenant+" "+want.String(), timeout, func() bool {
		s = sessionStatus(t, d, tenant)
		return s.State == want
	})
	return s
}

func send(ctx context.Context, d *daemon, tenant, to, text string) (*wapoolv1.Message, error) {
	resp, err := d.client().Send(ctx, &wapoolv1.SendRequest{TenantId: tenant, To: to, Text: text})
	if err != nil {
		return nil, err
	}
	return resp.Message, nil
}

// received returns the texts fakewa received from account to recipient to.
func received(f *fake, account, to string) []string {
	var out []string
	for _, m := range f.Messages(account) {
		if to == "" || strings.TrimPrefix(m.To, "+") == to {
			out = append(out, m.Text)
		}
	}
	return out
}
