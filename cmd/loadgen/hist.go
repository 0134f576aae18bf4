package main

import (
	"math"
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram: exact below 128 ns, then 64
// buckets per power of two (under 1.6% error). It is not safe for
// concurrent use: each client keeps its own and they are merged at the end.
type hist struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      uint64 // ns
	min, max uint64
}

const histBuckets = 128 + (64-7)*64

func bucketOf(v uint64) int {
	if v < 128 {
		return int(v)
	}
	s := bits.Len64(v) - 7
	return 128 + (s-1)*64 + int((v>>s)&63)
}

// bucketMid is the middle of bucket i's range.
func bucketMid(i int) uint64 {
	if i < 128 {
		return uint64(i)
	}
	s := (i-128)/64 + 1
	sub := uint64((i - 128) % 64)
	lo := (64 + sub) << s
	return lo + (uint64(1)<<s)/2
}

func (h *hist) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the q-quantile (0 < q <= 1), clamped to [min, max].
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := min(max(bucketMid(i), h.min), h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}
