package client

import (
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
	"time"
)

// The histogram is log-bucketed like HdrHistogram: values below 128 have a bucket each; above, every
// power of two is split into 64 buckets, so a bucket is at most 1/64 (1.6 %) of its values wide.
const (
	subBits    = 7
	subCount   = 1 << subBits // 128
	subHalf    = subCount / 2 // 64
	numBuckets = (64-subBits)*subHalf + subCount
)

// bucketOf is the bucket index of v >= 0.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits
	return shift*subHalf + int(v>>shift)
}

// bucketLow is the smallest value of bucket i.
func bucketLow(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := i/subHalf - 1
	return uint64(i-shift*subHalf) << shift
}

// bucketHigh is the largest value of bucket i.
func bucketHigh(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := i/subHalf - 1
	return bucketLow(i) + 1<<shift - 1
}

// Recorder records values (nanoseconds, or any non-negative int64) from many goroutines at once:
// every Record is a few atomic adds, no lock, no allocation.
type Recorder struct {
	counts [numBuckets]atomic.Int64
	n, sum atomic.Int64
	min    atomic.Int64
	max    atomic.Int64
}

// NewRecorder returns an empty Recorder (about 30 KB).
func NewRecorder() *Recorder {
	r := &Recorder{}
	r.min.Store(math.MaxInt64)
	return r
}

// Record adds one value; negative values count as 0.
func (r *Recorder) Record(v int64) {
	v = max(v, 0)
	r.counts[bucketOf(uint64(v))].Add(1)
	r.n.Add(1)
	r.sum.Add(v)
	for m := r.min.Load(); v < m && !r.min.CompareAndSwap(m, v); m = r.min.Load() {
	}
	for m := r.max.Load(); v > m && !r.max.CompareAndSwap(m, v); m = r.max.Load() {
	}
}

// RecordSince records the time since the wall-clock UnixNano ts.
func (r *Recorder) RecordSince(ts int64) { r.Record(time.Now().UnixNano() - ts) }

// Snapshot copies the recorded values into a Histogram (not atomic as a whole: values recorded while it
// runs may be partly included).
func (r *Recorder) Snapshot() *Histogram {
	h := &Histogram{Count: r.n.Load(), Sum: r.sum.Load(), Min: r.min.Load(), Max: r.max.Load()}
	if h.Count == 0 {
		h.Min = 0
	}
	for i := range r.counts {
		if n := r.counts[i].Load(); n != 0 {
			h.Bins = append(h.Bins, Bin{I: i, N: n})
		}
	}
	return h
}

// Reset forgets everything recorded.
func (r *Recorder) Reset() {
	for i := range r.counts {
		r.counts[i].Store(0)
	}
	r.n.Store(0)
	r.sum.Store(0)
	r.min.Store(math.MaxInt64)
	r.max.Store(0)
}

// Bin is one non-empty bucket of a Histogram.
type Bin struct {
	I int   `json:"i"` // bucket index
	N int64 `json:"n"` // values in it
}

// Histogram is a plain, mergeable, JSON-friendly snapshot of a Recorder. Bins are sparse, sorted by I.
type Histogram struct {
	Count int64 `json:"count"`
	Sum   int64 `json:"sum"`
	Min   int64 `json:"min"`
	Max   int64 `json:"max"`
	Bins  []Bin `json:"bins,omitempty"`
}

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.Count == 0 {
		return
	}
	if h.Count == 0 || o.Min < h.Min {
		h.Min = o.Min
	}
	h.Max = max(h.Max, o.Max)
	h.Count += o.Count
	h.Sum += o.Sum
	bins := make([]Bin, 0, len(h.Bins)+len(o.Bins))
	i, j := 0, 0
	for i < len(h.Bins) || j < len(o.Bins) {
		switch {
		case j == len(o.Bins) || i < len(h.Bins) && h.Bins[i].I < o.Bins[j].I:
			bins = append(bins, h.Bins[i])
			i++
		case i == len(h.Bins) || o.Bins[j].I < h.Bins[i].I:
			bins = append(bins, o.Bins[j])
			j++
		default:
			bins = append(bins, Bin{I: h.Bins[i].I, N: h.Bins[i].N + o.Bins[j].N})
			i, j = i+1, j+1
		}
	}
	h.Bins = bins
}

// Quantile is the value at quantile q in [0, 1]: the highest value of the bucket that holds the
// q-th value (at most Max), as HdrHistogram reports it. 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) int64 {
	if h == nil || h.Count == 0 {
		return 0
	}
	if q >= 1 {
		return h.Max
	}
	rank := max(int64(math.Ceil(q*float64(h.Count))), 1)
	var seen int64
	for _, b := range h.Bins {
		seen += b.N
		if seen >= rank {
			return min(int64(bucketHigh(b.I)), h.Max)
		}
	}
	return h.Max
}

// Mean is the average value.
func (h *Histogram) Mean() float64 {
	if h == nil || h.Count == 0 {
		return 0
	}
	return float64(h.Sum) / float64(h.Count)
}

// Valid reports whether Bins are sorted and add up to Count.
func (h *Histogram) Valid() bool {
	var n int64
	for _, b := range h.Bins {
		n += b.N
	}
	return n == h.Count && slices.IsSortedFunc(h.Bins, func(a, b Bin) int { return a.I - b.I })
}
