package main

import (
	"testing"
	"time"
)

func TestParseConfigEnvTwinsAndFlagsWin(t *testing.T) {
	env := map[string]string{
		"WAPOOL_DATA_DIR":      "/env/data",
		"WAPOOL_LISTEN":        "127.0.0.1:9999",
		"WAPOOL_SEND_INTERVAL": "5s",
	}
	c, err := parseConfig([]string{"--listen", "127.0.0.1:1234"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1234" {
		t.Errorf("flag must win over env: listen = %q", c.Listen)
	}
	if c.DataDir != "/env/data" {
		t.Errorf("env twin ignored: data dir = %q", c.DataDir)
	}
	if c.SendInterval != 5*time.Second {
		t.Errorf("send interval = %v", c.SendInterval)
	}
	if c.TargetURL != "https://web.whatsapp.com" {
		t.Errorf("default target url = %q", c.TargetURL)
	}
}

func TestParseConfigRejectsBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--log-format", "xml"},
		{"--send-interval", "-1s"},
		{"--queue-limit", "0"},
		{"stray"},
	} {
		if _, err := parseConfig(args, func(string) string { return "" }); err == nil {
			t.Errorf("parseConfig(%q) accepted", args)
		}
	}
	if _, err := parseConfig(nil, func(k string) string {
		if k == "WAPOOL_SEND_JITTER" {
			return "soon"
		}
		return ""
	}); err == nil {
		t.Error("a bad env value was accepted")
	}
}

func TestDefaultMaxWarmFromMemory(t *testing.T) {
	for _, tc := range []struct {
		mem  int64
		want int
	}{
		{512 << 20, 1},
		{2 << 30, 3},
		{24 << 30, 78},
	} {
		if got := defaultMaxWarm(tc.mem); got != tc.want {
			t.Errorf("defaultMaxWarm(%d MiB) = %d, want %d", tc.mem>>20, got, tc.want)
		}
	}
	if m := memTotal(); m < 256<<20 {
		t.Errorf("memTotal() = %d: implausible", m)
	}
}
