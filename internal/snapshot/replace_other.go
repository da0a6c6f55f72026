//go:build !linux

package snapshot

import (
	"errors"
	"io/fs"
	"os"
)

// exchange swaps the dirs at a and b in one step where the system can; here
// it cannot, so it returns an error wrapping errors.ErrUnsupported (or
// fs.ErrNotExist when b does not exist).
func exchange(a, b string) error {
	if _, err := os.Lstat(b); errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return &os.LinkError{Op: "exchange", Old: a, New: b, Err: errors.ErrUnsupported}
}
