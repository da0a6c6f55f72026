package main

import (
	"encoding/base64"
	"testing"
)

// --max-media-bytes: 16 MiB by default, from 1 byte to 1 GiB; the gRPC and
// HTTP request limits hold a file of that size and the rest of a request.
func TestMaxMediaBytes(t *testing.T) {
	c, err := parseConfig(nil, envOf(nil))
	if err != nil || c.MaxMediaBytes != 16<<20 {
		t.Fatalf("default --max-media-bytes = %d, %v; want 16 MiB", c.MaxMediaBytes, err)
	}
	if c, err := parseConfig(nil, envOf(map[string]string{"WAPOOL_MAX_MEDIA_BYTES": "1048576"})); err != nil || c.MaxMediaBytes != 1<<20 {
		t.Fatalf("WAPOOL_MAX_MEDIA_BYTES=1048576: %d, %v", c.MaxMediaBytes, err)
	}
	for _, bad := range []string{"0", "-1", "1073741825"} {
		if _, err := parseConfig([]string{"--max-media-bytes", bad}, envOf(nil)); err == nil {
			t.Errorf("--max-media-bytes %s accepted", bad)
		}
	}
	for _, n := range []int64{1, 16 << 20, 1 << 30} {
		if g := grpcMaxRequest(n); int64(g) < n+maxRequestBytes {
			t.Errorf("gRPC limit %d for files of %d bytes: no room for the rest of the request", g, n)
		}
		if h := httpMaxRequest(n); h < int64(base64.StdEncoding.EncodedLen(int(n)))+maxRequestBytes {
			t.Errorf("HTTP limit %d for files of %d bytes: no room for the base64 and the rest", h, n)
		}
	}
}
