package main

import (
	"strings"
	"testing"
)

// Cluster mode refuses to start without a snapshot key unless plaintext
// snapshots are asked for; the key flags mean nothing on a single node.
func TestClusterSnapshotKeyRequired(t *testing.T) {
	cluster := []string{"--store", "postgres://wapool@db.internal/wapool", "--profile-store", "file:///var/lib/wapool-bucket", "--node-id", "n1", "--listen", "10.0.0.1:7440", "--insecure"}
	for _, tc := range []struct {
		args []string
		want string // "" = accepted
	}{
		{cluster, "--snapshot-key-file"},
		{append(cluster, "--snapshot-unencrypted"), ""},
		{append(cluster, "--snapshot-key-file", "/etc/wapool/snapshot-keys"), ""},
		{append(cluster, "--snapshot-key-file", "/etc/wapool/snapshot-keys", "--snapshot-unencrypted"), "exclude"},
		{[]string{"--snapshot-key-file", "/etc/wapool/snapshot-keys"}, "cluster mode"},
		{[]string{"--snapshot-unencrypted"}, "cluster mode"},
	} {
		_, err := parseConfig(tc.args, envOf(nil))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("parseConfig(%q) = %v, want accepted", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("parseConfig(%q) = %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
}
