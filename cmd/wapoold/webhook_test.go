package main

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
)

func TestWebhookFlagsAndTwins(t *testing.T) {
	env := map[string]string{
		"WAPOOL_WEBHOOK_URL":         "https://hooks.example/wapool",
		"WAPOOL_WEBHOOK_SECRET_FILE": "/run/secrets/webhook",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := parseConfig(nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookURL != "https://hooks.example/wapool" || c.WebhookSecretFile != "/run/secrets/webhook" {
		t.Errorf("twins: %q %q", c.WebhookURL, c.WebhookSecretFile)
	}
	c, err = parseConfig([]string{"--webhook-url", "http://127.0.0.1:9/h"}, lookup)
	if err != nil || c.WebhookURL != "http://127.0.0.1:9/h" {
		t.Errorf("the flag must win: %q, %v", c.WebhookURL, err)
	}
	none := func(string) (string, bool) { return "", false }
	for _, args := range [][]string{
		{"--webhook-url", "https://hooks.example/x"},
		{"--webhook-secret-file", "/s"},
	} {
		if _, err := parseConfig(args, none); err == nil {
			t.Errorf("parseConfig(%q) accepted one without the other", args)
		}
	}
	if c, err := parseConfig(nil, none); err != nil || c.WebhookURL != "" {
		t.Errorf("default: webhook %q, %v; want none", c.WebhookURL, err)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(good, []byte("  s3cret\n"), 0o600)
	os.WriteFile(empty, []byte("\n \n"), 0o600)
	if b, err := readSecret(good); err != nil || string(b) != "s3cret" {
		t.Errorf("readSecret = %q, %v", b, err)
	}
	for _, p := range []string{empty, filepath.Join(dir, "missing")} {
		if _, err := readSecret(p); err == nil {
			t.Errorf("readSecret(%s) accepted", filepath.Base(p))
		}
	}
}

// In cluster mode the webhook runs only while this node leads the duty,
// and stops when another node takes it over.
func TestRunWhileLeading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var leading atomic.Bool
		var running, runs atomic.Int32
		run := func(ctx context.Context) error {
			runs.Add(1)
			running.Add(1)
			defer running.Add(-1)
			<-ctx.Done()
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			runWhileLeading(ctx, leading.Load, run, zap.NewNop())
		}()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if running.Load() != 0 {
			t.Fatal("the webhook runs on a node that does not lead")
		}
		leading.Store(true)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if running.Load() != 1 {
			t.Fatalf("%d webhook runs while leading, want 1", running.Load())
		}
		leading.Store(false)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if running.Load() != 0 {
			t.Fatal("the webhook still runs after the lead moved")
		}
		leading.Store(true)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		if running.Load() != 0 || runs.Load() != 2 {
			t.Errorf("after the stop: %d running, %d runs in all; want 0 and 2", running.Load(), runs.Load())
		}
	})
}
