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

// The secret file holds one secret per line; two while a secret rotates
// (both sign). Blank lines and the white space around a secret do not count.
func TestReadSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	for _, c := range []struct {
		content string
		want    []string
	}{
		{"  s3cret\n", []string{"s3cret"}},
		{"s3cret", []string{"s3cret"}},
		{"old-secret\nnew-secret\n", []string{"old-secret", "new-secret"}},
		{"\n old-secret \r\n\n\tnew-secret\n\n", []string{"old-secret", "new-secret"}},
	} {
		got, err := readSecrets(write("good", c.content))
		if err != nil || len(got) != len(c.want) {
			t.Errorf("readSecrets(%q) = %q, %v; want %q", c.content, got, err, c.want)
			continue
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Errorf("readSecrets(%q) = %q; want %q", c.content, got, c.want)
			}
		}
	}
	for name, content := range map[string]string{"empty": "\n \n", "three": "a\nb\nc\n"} {
		if _, err := readSecrets(write(name, content)); err == nil {
			t.Errorf("readSecrets(%s) accepted", name)
		}
	}
	if _, err := readSecrets(filepath.Join(dir, "missing")); err == nil {
		t.Error("readSecrets(missing) accepted")
	}
}

func TestWebhookMaxAttempts(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	if c, err := parseConfig(nil, none); err != nil || c.WebhookMaxAttempts != 10 {
		t.Errorf("default --webhook-max-attempts %d, %v; want 10", c.WebhookMaxAttempts, err)
	}
	env := func(k string) (string, bool) { return "4", k == "WAPOOL_WEBHOOK_MAX_ATTEMPTS" }
	if c, err := parseConfig(nil, env); err != nil || c.WebhookMaxAttempts != 4 {
		t.Errorf("WAPOOL_WEBHOOK_MAX_ATTEMPTS=4: %d, %v", c.WebhookMaxAttempts, err)
	}
	if _, err := parseConfig([]string{"--webhook-max-attempts", "0"}, none); err == nil {
		t.Error("--webhook-max-attempts 0 accepted")
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
