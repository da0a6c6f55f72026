package main

import (
	"os"
	"path/filepath"
	"testing"
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
