package browserpool_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/wait"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// Browser's watcher, stop ladder and chromedp's handlers must end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testPage is a tiny page on 127.0.0.1 that reads and writes localStorage.
const testPage = `<!doctype html><html><head><title>bp</title></head><body><div id="x">hello</div>
<script>window.stored = () => localStorage.getItem('k') || '';</script></body></html>`

// lastAcceptLanguage is the Accept-Language of the last request to a test
// server.
var lastAcceptLanguage atomic.Value

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastAcceptLanguage.Store(r.Header.Get("Accept-Language"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(testPage))
	}))
	t.Cleanup(ts.Close)
	return ts
}

// testConfig is a Config with the test's Chromium and short timing knobs.
func testConfig(t *testing.T) browserpool.Config {
	t.Helper()
	return browserpool.Config{ExecPath: chromiumtest.Path(t), StopTimeout: 3 * time.Second}
}

// testSpec returns a Spec under dir with a short TMPDIR.
func testSpec(dir, name string) browserpool.Spec {
	return browserpool.Spec{
		ProfileDir: filepath.Join(dir, "profiles", name),
		CacheDir:   filepath.Join(dir, "cache", name),
		TmpDir:     filepath.Join(dir, "tmp", name),
	}
}

// launch starts a browser and registers a Stop for the end of the test.
func launch(t *testing.T, cfg browserpool.Config, spec browserpool.Spec) *browserpool.Browser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := browserpool.Launch(ctx, cfg, spec)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A test that made the ladder reach SIGKILL checked that itself.
		if err := b.Stop(ctx); err != nil && !errors.Is(err, browserpool.ErrStopForced) {
			t.Errorf("Stop in cleanup: %v", err)
		}
	})
	return b
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := wait.Until(timeout, 20*time.Millisecond, cond); err != nil {
		t.Fatalf("%v waiting for %s", err, what)
	}
}

// singletonFiles lists the Singleton* entries present in a profile.
func singletonFiles(t *testing.T, profile string) []string {
	t.Helper()
	var out []string
	for _, n := range []string{"SingletonLock", "SingletonSocket", "SingletonCookie"} {
		if _, err := os.Lstat(filepath.Join(profile, n)); err == nil {
			out = append(out, n)
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return out
}
