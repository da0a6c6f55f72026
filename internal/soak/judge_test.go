package main

import (
	"math/rand/v2"
	"testing"
)

func TestJudge(t *testing.T) {
	// Four accepted messages; the first and third carry the same text.
	acc := []sentMsg{{"same", "true_1@c.us_A", nil}, {"b", "true_1@c.us_B", nil}, {"same", "true_1@c.us_C", nil}, {"d", "true_1@c.us_D", nil}}
	arr := func(ids ...string) []arrival {
		text := map[string]string{"A": "same", "B": "b", "C": "same", "D": "d", "X": "x", "E": "same"}
		var out []arrival
		for _, id := range ids {
			out = append(out, arrival{id: id, text: text[id]})
		}
		return out
	}
	clean := verdict{Accepted: 4, Delivered: 4}
	for _, tc := range []struct {
		name     string
		accepted []sentMsg
		arrived  []arrival
		want     verdict
	}{
		{"all once in order", acc, arr("A", "B", "C", "D"), clean},
		{"a duplicate of the repeated text", acc, arr("A", "B", "C", "E", "D"), verdict{Accepted: 4, Delivered: 4, Duplicates: 1}},
		{"a late duplicate is not disorder", acc, arr("A", "B", "C", "D", "E"), verdict{Accepted: 4, Delivered: 4, Duplicates: 1}},
		{"one lost", []sentMsg{acc[0], acc[1], acc[2], {"d", "", nil}}, arr("A", "B", "C"), verdict{Accepted: 4, Delivered: 3, Lost: 1}},
		{"nothing arrived", []sentMsg{{"same", "", nil}, {"b", "", nil}, {"same", "", nil}, {"d", "", nil}}, nil, verdict{Accepted: 4, Lost: 4}},
		{"swapped", acc, arr("A", "C", "B", "D"), verdict{Accepted: 4, Delivered: 4, OutOfOrder: 1}},
		{"unknown text", acc, arr("A", "B", "X", "C", "D"), verdict{Accepted: 4, Delivered: 4, Unexpected: 1}},
		// Issue 12's lost message: the third is answered SENT with the
		// first one's bubble and never went out.
		{"SENT with an earlier bubble", []sentMsg{acc[0], acc[1], {"same", "true_1@c.us_A", nil}, acc[3]}, arr("A", "B", "D"),
			verdict{Accepted: 4, Delivered: 3, Lost: 1, Misattributed: 1}},
		{"SENT with a bubble of another text", []sentMsg{acc[0], {"b", "true_1@c.us_D", nil}, acc[2], acc[3]}, arr("A", "B", "C", "D"),
			verdict{Accepted: 4, Delivered: 4, Misattributed: 1}},
		// Fact 20's bare ids and @lid chats name the same bubbles.
		{"bare and @lid ids", []sentMsg{{"same", "A", nil}, {"b", "true_123456789012345@lid_B", nil}, acc[2], {"d", "D", nil}}, arr("A", "B", "C", "D"), clean},
		{"a bare id of another message", []sentMsg{{"same", "A", nil}, acc[1], {"same", "A", nil}, acc[3]}, arr("A", "B", "D"),
			verdict{Accepted: 4, Delivered: 3, Lost: 1, Misattributed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := judge(tc.accepted, tc.arrived)
			if got != tc.want {
				t.Fatalf("judge = %+v, want %+v", got, tc.want)
			}
			if got.ok() != (tc.want == clean) {
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
