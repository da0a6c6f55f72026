package snapshot

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exchange swaps the dirs at a and b in one step. It returns an error
// wrapping fs.ErrNotExist when b does not exist, and one wrapping
// errors.ErrUnsupported when the file system cannot swap.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		return &os.LinkError{Op: "renameat2 exchange", Old: a, New: b, Err: errors.ErrUnsupported}
	default:
		return &os.LinkError{Op: "renameat2 exchange", Old: a, New: b, Err: err}
	}
}
