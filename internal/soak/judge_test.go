package main

import (
	"math/rand/v2"
	"testing"
)

func TestJudge(t *testing.T) {
	acc := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		name    string
		arrived []string
		want    verdict
	}{
		{"all once in order", []string{"a", "b", "c", "d"}, verdict{Accepted: 4, Delivered: 4}},
		{"a duplicate", []string{"a", "b", "b", "c", "d"}, verdict{Accepted: 4, Delivered: 4, Duplicates: 1}},
		{"a late duplicate is not disorder", []string{"a", "b", "c", "d", "a"}, verdict{Accepted: 4, Delivered: 4, Duplicates: 1}},
		{"one lost", []string{"a", "c", "d"}, verdict{Accepted: 4, Delivered: 3, Lost: 1}},
		{"nothing arrived", nil, verdict{Accepted: 4, Lost: 4}},
		{"swapped", []string{"a", "c", "b", "d"}, verdict{Accepted: 4, Delivered: 4, OutOfOrder: 1}},
		{"last first", []string{"d", "a", "b", "c"}, verdict{Accepted: 4, Delivered: 4, OutOfOrder: 3}},
		{"unknown text", []string{"a", "b", "x", "c", "d"}, verdict{Accepted: 4, Delivered: 4, Unexpected: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := judge(acc, tc.arrived)
			if got != tc.want {
				t.Fatalf("judge(%q) = %+v, want %+v", tc.arrived, got, tc.want)
			}
			if got.ok() != (tc.want == verdict{Accepted: 4, Delivered: 4}) {
				t.Fatalf("ok() = %v for %+v", got.ok(), got)
			}
		})
	}
}

// TestChooseKindMeetsMinimums: whatever the random draws, the kills reach
// minKillsPerKind of each kind.
func TestChooseKindMeetsMinimums(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 0))
		const kills = minKills
		b, d := 0, 0
		for k := 1; k <= kills; k++ {
			if chooseKind(rng, kills-k+1, b, d) == killBrowser {
				b++
			} else {
				d++
			}
		}
		if b < minKillsPerKind || d < minKillsPerKind || b+d != kills {
			t.Fatalf("seed %d: %d browser and %d daemon kills", seed, b, d)
		}
	}
}
