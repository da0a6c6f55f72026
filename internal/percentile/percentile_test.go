package percentile

import (
	"slices"
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	v := make([]time.Duration, 20)
	for i := range v {
		v[i] = time.Duration(20-i) * time.Millisecond // 20ms … 1ms, unsorted
	}
	in := slices.Clone(v)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{
		{50, 10 * time.Millisecond},  // rank 10 of 20
		{95, 19 * time.Millisecond},  // rank 19
		{100, 20 * time.Millisecond}, // the largest
		{1, time.Millisecond},        // rank 1
		{0, time.Millisecond},        // out of range: the smallest
	} {
		if got := Of(v, c.p); got != c.want {
			t.Errorf("Of(v, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if !slices.Equal(v, in) {
		t.Error("Of changed its input")
	}
	if got := Of(nil, 50); got != 0 {
		t.Errorf("Of(nil, 50) = %v, want 0", got)
	}
	if got := Of([]time.Duration{time.Second}, 50); got != time.Second {
		t.Errorf("Of of one sample = %v, want it", got)
	}
}
