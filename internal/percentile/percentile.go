// Package percentile computes the percentiles the benchmarks report, by
// nearest rank: the p-th percentile of n samples is the sample of rank
// ⌈p/100·n⌉ in ascending order, always one of the samples.
package percentile

import (
	"math"
	"slices"
	"time"
)

// Of returns the nearest-rank p-th percentile of v, for 0 < p ≤ 100 (a p
// out of that range gives the smallest or the largest sample); 0 when v
// is empty. v need not be sorted and is left as it is.
func Of(v []time.Duration, p float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	i := int(math.Ceil(float64(len(s))*p/100)) - 1
	return s[min(max(i, 0), len(s)-1)]
}
