package main

import (
	"io"
	"strings"
	"testing"

	"github.com/wapool/wapool/internal/benchtable"
)

// run1 is a whole run in plain text, its numbers made up.
const run1 = `goos: linux
BenchmarkFailover/cold-2         	       1	40000000000 ns/op	         3.10 cold-READY-s	         2.90 cold-min-s	         3.30 cold-max-s	         2.50 wake-READY-s	         2.40 wake-min-s	         2.60 wake-max-s
BenchmarkFailover/ttl=15s/refresh-2 	       1	90000000000 ns/op	         3.00 tenants	         2.60 down-p50-s	         3.10 down-max-s	        11.20 quiet-p50-s	         2.90 send-p50-s	         3.40 send-max-s
BenchmarkFailover/ttl=15s/kill-2 	       1	20000000000 ns/op	         3.00 tenants	        17.80 ready-p50-s	        18.90 ready-max-s	        15.20 taken-p50-s	        15.40 taken-max-s	        15.00 ttl-s	         1.01 ratio-p50	         1.07 ratio-max
BenchmarkFailover/ttl=15s/move-2 	       1	9000000000 ns/op	         2.00 tenants	         4.10 ready-p50-s	         4.90 ready-max-s	         2.00 taken-p50-s	         2.20 taken-max-s	         3.50 exit-s
BenchmarkFailover/ttl=3s/kill-2  	       1	9000000000 ns/op	         3.00 tenants	         7.50 ready-p50-s	         8.00 ready-max-s	         4.10 taken-p50-s	         4.20 taken-max-s	         3.00 ttl-s	         1.36 ratio-p50	         1.45 ratio-max
BenchmarkFailover/ttl=3s/move-2  	       1	9000000000 ns/op	         2.00 tenants	         4.00 ready-p50-s	         4.50 ready-max-s	         2.10 taken-p50-s	         2.30 taken-max-s	         3.40 exit-s
BenchmarkFailover/snapshot-2     	       1	900000000 ns/op	        12.00 tenants	    204800 bytes-p50	    307200 bytes-max	       150 files-p50	   2097152 profile-bytes-p50	   1048576 restored-bytes-p50	        40 save-ms-p50	        55 save-ms-max	        90 restore-ms-p50	       120 restore-ms-max	    200000 plain-bytes-p50	        35 plain-save-ms-p50
PASS
`

func TestTable(t *testing.T) {
	res, err := benchtable.Parse(strings.NewReader(run1), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if missing := table(&out, res); len(missing) != 0 {
		t.Errorf("missing %v", missing)
	}
	got := out.String()
	for _, want := range []string{
		"| TTL 15s, SIGKILL of the node holding the most (3 of 6 tenants): each READY on another node, p50 (max) | 17.8 s (18.9 s) |",
		"| … failover ÷ (TTL + one tenant's cold start, 2.50 s), p50 (max) | 1.01× (1.07×) | ≤ 1.09× (TTL + cold start + 1.5 s) | met |",
		"| … failover ÷ (TTL + one tenant's cold start, 2.50 s), p50 (max) | 1.36× (1.45×) | ≤ 1.27× (TTL + cold start + 1.5 s) | **not met** |",
		"| … the drained node exited after | 3.4 s |",
		"| 2.50 s (2.40–2.60) |",
		"| 3.10 s (2.90–3.30) |",
		"| a snapshot after activity (graceful close, upload, cold start; 3 tenants): the tenant not READY for, p50 (max) | 2.60 s (3.10 s) |",
		"| … it began after the last send, p50; a Send made during it: SENT after, p50 (max) | 11.2 s; 2.90 s (3.40 s) |",
		"| snapshot per tenant (12 tenants): stored in the bucket (sealed), p50 (max) | 200 KiB (300 KiB) |",
		"| … the same profile saved in plaintext (--snapshot-unencrypted): size, upload, p50 | 195 KiB, 35 ms |",
		"| … files in it, p50; their size restored, p50; the profile dir on its node while READY, p50 | 150; 1024 KiB; 2048 KiB |",
		"| … restore (Restore from file://, every file fsynced), p50 (max) | 90 ms (120 ms) |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the table lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 2+2*5+2+2+5 {
		t.Errorf("%d lines, want %d:\n%s", n, 2+2*5+2+2+5, got)
	}
}

func TestTableMissing(t *testing.T) {
	cut := strings.Join(slicesWithout(strings.Split(run1, "\n"), "BenchmarkFailover/ttl=3s/move"), "\n")
	res, err := benchtable.Parse(strings.NewReader(cut), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	missing := table(&out, res)
	if len(missing) != 1 || missing[0] != "ttl=3s/move" {
		t.Errorf("missing %v, want [ttl=3s/move]", missing)
	}
	if !strings.Contains(out.String(), "| … the drained node exited after | — s |") {
		t.Errorf("a missing step is not shown as —:\n%s", out.String())
	}
}

// slicesWithout returns the lines that do not start with prefix.
func slicesWithout(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}
