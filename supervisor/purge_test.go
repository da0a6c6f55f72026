package supervisor

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wapool/wapool/sessionstore"
)

// purgeObserver keeps the purges' reports.
type purgeObserver struct {
	nopObserver
	mu      sync.Mutex
	reports []sessionstore.PurgeReport
}

func (o *purgeObserver) EventsPurged(r sessionstore.PurgeReport) {
	o.mu.Lock()
	o.reports = append(o.reports, r)
	o.mu.Unlock()
}

// The hourly purge keeps the events a webhook has not delivered and says
// so: a warning naming the webhook and its position, and the report for
// the metrics.
func TestPurgeSaysWhatItKeepsForAWebhook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, err := sessionstore.Open(sessionstore.Options{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		for range 3 {
			if _, err := store.AppendSessionEvent("shop", sessionstore.SessionEvent{From: "READY", To: "HIBERNATED"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.SetConsumerPosition("webhook", 1); err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zapcore.InfoLevel)
		obs := &purgeObserver{}
		cfg := fakeConfig()
		cfg.Store, cfg.TargetURL, cfg.Launcher = store, "http://fake.invalid", &fakeLauncher{wa: newFakeWA()}
		cfg.Log, cfg.Observer, cfg.EventRetention = zap.New(core), obs, 48*time.Hour
		_, stop := runSupervisor(t, cfg)
		time.Sleep(72 * time.Hour) // the hourly purges, on the bubble's clock
		synctest.Wait()
		stop()

		obs.mu.Lock()
		defer obs.mu.Unlock()
		purged := 0
		for _, r := range obs.reports {
			purged += r.Purged
		}
		last := obs.reports[len(obs.reports)-1]
		if purged != 1 || last.Held != 2 || last.Dropped != 0 || len(last.Behind) != 1 || last.Behind[0].Name != "webhook" {
			t.Fatalf("%d purged; last report %+v; want event 1 purged, 2 and 3 held for the webhook", purged, last)
		}
		held := logs.FilterMessageSnippet("a webhook has not delivered them yet").All()
		if len(held) == 0 {
			t.Fatal("no log line says that events are kept for a webhook")
		}
		fields := held[len(held)-1].ContextMap()
		if fields["events"] != int64(2) || !strings.Contains(strings.Join(anyStrings(fields["consumers"]), " "), "webhook at "+store.Cursor(1)) {
			t.Fatalf("log line fields %v", fields)
		}
	})
}

func anyStrings(v any) []string {
	var out []string
	if vs, ok := v.([]any); ok {
		for _, x := range vs {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
