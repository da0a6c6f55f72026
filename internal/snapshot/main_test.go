package snapshot

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks the package doc's word that a Store starts no goroutine:
// none of Save, Restore (zstd runs synchronously), Newest or Delete may
// leave one behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
