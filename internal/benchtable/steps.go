package benchtable

import (
	"fmt"
	"testing"
)

// Steps runs the sub-benchmarks of a benchmark that measures each step
// once per run (`-benchtime 1x`), in order: a step that fails makes the
// later ones skip, since they build on it (a fleet of linked tenants, a
// cluster). Embed it in the state the steps share; the benchmark's
// goroutine alone uses it.
type Steps struct {
	broken error // the first step that failed
}

// Step runs f as one measurement.
func (s *Steps) Step(b *testing.B, f func(*testing.B) error) {
	if s.broken != nil {
		b.Skipf("skipped: %v", s.broken)
	}
	if b.N > 1 {
		b.Fatal("one measurement per run: use -benchtime 1x")
	}
	if err := f(b); err != nil {
		s.broken = fmt.Errorf("%s: %w", b.Name(), err)
		b.Fatal(err)
	}
}
