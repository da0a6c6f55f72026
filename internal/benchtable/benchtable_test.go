package benchtable

import (
	"io"
	"strings"
	"testing"
)

// A -json run: a progress line between the name and the result, and a
// result split over two output events.
const jsonRun = `{"Action":"start","Package":"p"}
{"Action":"output","Package":"p","Output":"goos: linux\n"}
{"Action":"output","Package":"p","Test":"BenchmarkIdleCost/memory_N=10","Output":"=== RUN   BenchmarkIdleCost/memory_N=10\n"}
{"Action":"output","Package":"p","Test":"BenchmarkIdleCost/memory_N=10","Output":"BenchmarkIdleCost/memory_N=10\n"}
{"Action":"output","Package":"p","Test":"BenchmarkIdleCost/memory_N=10","Output":"idlebench: resting 20s\n"}
{"Action":"output","Package":"p","Test":"BenchmarkIdleCost/memory_N=10","Output":"BenchmarkIdleCost/memory_N=10-2         \t       1\t60235483453 ns/op\t        14.23 MemAvail-MiB/tenant\t      -600.9 others-MiB\n"}
{"Action":"output","Package":"p","Test":"BenchmarkSend/open-chat","Output":"BenchmarkSend/open-chat-2            \t"}
{"Action":"output","Package":"p","Test":"BenchmarkSend/open-chat","Output":"       1\t10856314458 ns/op\t         1.997 ratio-vs-floor\t         2.5e+02 wapool-p50-ms\n"}
{"Action":"pass","Package":"p","Elapsed":1}
`

// Plain text: the result on the name line.
const textRun = `goos: linux
BenchmarkCycles-2   	       1	90000000000 ns/op	        0 orphans	        23.00 fds-after
PASS
`

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]map[string]float64
	}{
		{"json", jsonRun, map[string]map[string]float64{
			"IdleCost/memory_N=10": {"ns/op": 60235483453, "MemAvail-MiB/tenant": 14.23, "others-MiB": -600.9},
			"Send/open-chat":       {"ns/op": 10856314458, "ratio-vs-floor": 1.997, "wapool-p50-ms": 250},
		}},
		{"text", textRun, map[string]map[string]float64{
			"Cycles": {"ns/op": 9e10, "orphans": 0, "fds-after": 23},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var echo strings.Builder
			res, err := Parse(strings.NewReader(tc.in), &echo)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(tc.want) {
				t.Errorf("got %d benchmarks %v, want %d", len(res), res, len(tc.want))
			}
			for name, units := range tc.want {
				for unit, want := range units {
					if got, ok := res.Get(name, unit); !ok || got != want {
						t.Errorf("%s %s = %v (%v), want %v", name, unit, got, ok, want)
					}
				}
			}
			if !strings.Contains(echo.String(), "goos: linux\n") {
				t.Errorf("the text was not echoed: %q", echo.String())
			}
		})
	}
}

func TestFmtMissingVerdict(t *testing.T) {
	res, err := Parse(strings.NewReader(textRun), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Fmt("Cycles", "fds-after", "%.0f"); got != "23" {
		t.Errorf("Fmt = %q", got)
	}
	if got := res.Fmt("Cycles", "nope", "%.0f"); got != "—" {
		t.Errorf("Fmt of a missing metric = %q", got)
	}
	if got := res.Missing("Cycles", "Send/old"); len(got) != 1 || got[0] != "Send/old" {
		t.Errorf("Missing = %v", got)
	}
	if Verdict(true, true) != "met" || Verdict(true, false) != "**not met**" || Verdict(false, true) != "not measured" {
		t.Error("Verdict")
	}
}
