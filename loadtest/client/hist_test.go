package client

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestBucketsCoverValues(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		if lo, hi := bucketLow(i), bucketHigh(i); v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
	}
	for i := 1; i < numBuckets; i++ {
		if bucketLow(i) != bucketHigh(i-1)+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, bucketLow(i), bucketHigh(i-1))
		}
	}
}

// TestQuantilesMatchSort compares quantiles against sorting the raw values: within one bucket (1.6 %).
func TestQuantilesMatchSort(t *testing.T) {
	r := NewRecorder()
	vals := make([]int64, 100000)
	for i := range vals {
		vals[i] = int64(rand.ExpFloat64() * 1e6)
		r.Record(vals[i])
	}
	slices.Sort(vals)
	h := r.Snapshot()
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
		want := vals[max(int(math.Ceil(q*float64(len(vals))))-1, 0)]
		got := h.Quantile(q)
		if got < want || float64(got-want) > float64(want)/64+1 {
			t.Errorf("q%.3f = %d, want %d (within 1/64)", q, got, want)
		}
	}
	if h.Min != vals[0] || h.Max != vals[len(vals)-1] || h.Count != int64(len(vals)) || !h.Valid() {
		t.Fatalf("min %d max %d count %d valid %v", h.Min, h.Max, h.Count, h.Valid())
	}
}

func TestMergeAndJSON(t *testing.T) {
	a, b, all := NewRecorder(), NewRecorder(), NewRecorder()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10000 {
				v := int64(g*100000 + i*7)
				all.Record(v)
				if i%2 == 0 {
					a.Record(v)
				} else {
					b.Record(v)
				}
			}
		})
	}
	wg.Wait()
	m := a.Snapshot()
	raw, err := json.Marshal(b.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var hb Histogram
	if err := json.Unmarshal(raw, &hb); err != nil {
		t.Fatal(err)
	}
	m.Merge(&hb)
	want := all.Snapshot()
	if !m.Valid() || m.Count != want.Count || m.Sum != want.Sum || m.Min != want.Min || m.Max != want.Max {
		t.Fatalf("merged %+v, want count %d sum %d min %d max %d", m, want.Count, want.Sum, want.Min, want.Max)
	}
	if !slices.Equal(m.Bins, want.Bins) {
		t.Fatal("merged bins differ from recording everything in one")
	}
	var empty Histogram
	empty.Merge(m)
	if empty.Quantile(0.5) != m.Quantile(0.5) {
		t.Fatal("merge into empty changed the median")
	}
}

func TestStampRoundTrip(t *testing.T) {
	for _, op := range []Opcode{OpText, OpBinary} {
		m := NewMessage(op, 64, NewKey())
		m.Stamp(1764259200123456789, 987654)
		raw := m.Bytes()
		p := append([]byte(nil), raw[len(raw)-64:]...)
		key := [4]byte(raw[2:6])
		for i := range p {
			p[i] ^= key[i%4]
		}
		ts, seq, ok := ReadStamp(op, p)
		if !ok || ts != 1764259200123456789 || seq != 987654 {
			t.Fatalf("%v: stamp %d %d %v", op, ts, seq, ok)
		}
	}
}
