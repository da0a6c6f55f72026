package main

import (
	"testing"
	"time"
)

func TestEventRetentionFlags(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	c, err := parseConfig(nil, none)
	if err != nil || c.EventRetention != 7*24*time.Hour || c.EventRetentionUndelivered != 30*24*time.Hour {
		t.Fatalf("defaults: --event-retention %v, --event-retention-undelivered %v, %v; want 168h and 720h", c.EventRetention, c.EventRetentionUndelivered, err)
	}
	env := func(k string) (string, bool) { return "48h", k == "WAPOOL_EVENT_RETENTION" }
	if c, err := parseConfig([]string{"--event-retention-undelivered", "96h"}, env); err != nil || c.EventRetention != 48*time.Hour || c.EventRetentionUndelivered != 96*time.Hour {
		t.Errorf("WAPOOL_EVENT_RETENTION=48h --event-retention-undelivered 96h: %v, %v, %v", c.EventRetention, c.EventRetentionUndelivered, err)
	}
	for _, args := range [][]string{
		{"--event-retention", "0"},
		{"--event-retention", "-1h"},
		{"--event-retention", "1000h"}, // longer than the undelivered cap's default
		{"--event-retention-undelivered", "24h"},
	} {
		if _, err := parseConfig(args, none); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
