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
	c, err := parseConfig([]string{"--listen", "127.0.0.1:1234"}, envOf(env))
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
		if _, err := parseConfig(args, envOf(nil)); err == nil {
			t.Errorf("parseConfig(%q) accepted", args)
		}
	}
	if _, err := parseConfig(nil, envOf(map[string]string{"WAPOOL_SEND_JITTER": "soon"})); err == nil {
		t.Error("a bad env value was accepted")
	}
	if _, err := parseConfig(nil, envOf(map[string]string{"WAPOOL_SEND_JITTER": ""})); err == nil {
		t.Error("an empty twin of a duration flag was accepted")
	}
}

// envOf is a lookupEnv over a map.
func envOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// TestParseConfigEmptyTwinTurnsOff: a twin set to empty applies, so it can
// turn a default off; an unset twin leaves the default.
func TestParseConfigEmptyTwinTurnsOff(t *testing.T) {
	c, err := parseConfig(nil, envOf(map[string]string{"WAPOOL_METRICS_ADDR": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "" {
		t.Errorf("WAPOOL_METRICS_ADDR= left metrics on %q", c.MetricsAddr)
	}
	if c, err = parseConfig(nil, envOf(nil)); err != nil || c.MetricsAddr != "127.0.0.1:9464" {
		t.Errorf("no twin: metrics %q, %v; want the default", c.MetricsAddr, err)
	}
}

// TestStopBudgetFits: the supervisor's stop (a send's grace, then the
// browsers' ladder) and the calls' drain fit inside --stop-timeout.
func TestStopBudgetFits(t *testing.T) {
	for _, total := range []time.Duration{5 * time.Second, 20 * time.Second, time.Minute} {
		sup := supervisorStop(total)
		grace, ladder := sup*3/10, sup/2 // supervisor.Config's shares
		if drain := total / 10; drain+grace+ladder >= total {
			t.Errorf("--stop-timeout %v: drain %v + grace %v + browsers %v do not fit", total, drain, grace, ladder)
		}
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
