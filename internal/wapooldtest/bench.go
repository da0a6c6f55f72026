package wapooldtest

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Fake serves fakewa with opts on a loopback port for the test or
// benchmark tb and returns it with its address. Its clean-up closes it,
// then fails tb when a Chrome is still running on a profile under root
// (and kills it): register it before the daemons, whose clean-ups then run
// first.
func Fake(tb testing.TB, opts fakewa.Options, root string) (*fakewa.Server, string) {
	tb.Helper()
	fake := fakewa.New(opts)
	ts := httptest.NewServer(fake)
	tb.Cleanup(func() {
		fake.Close() // wakes its waiting requests
		ts.Close()
		if left := WaitNoBrowsers(root, 10*time.Second); left != nil {
			tb.Errorf("Chrome left running under %s: %v (killed now)", root, left)
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			WaitNoBrowsers(root, 10*time.Second)
		}
	})
	return fake, ts.URL
}

// Sessions returns every tenant's session by id (ListSessions).
func (d *Daemon) Sessions(ctx context.Context) (map[string]*wapoolv1.Session, error) {
	resp, err := d.Client().ListSessions(ctx, &wapoolv1.ListSessionsRequest{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*wapoolv1.Session, len(resp.GetSessions()))
	for _, s := range resp.GetSessions() {
		out[s.GetTenantId()] = s
	}
	return out, nil
}

// Build builds cmd/wapoold (without -race: benchmarks measure the daemon
// as shipped) into dir and returns the binary's path.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "wapoold")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/wapool/wapool/cmd/wapoold").CombinedOutput(); err != nil {
		tb.Fatalf("build wapoold: %v\n%s", err, out)
	}
	return bin
}
