package bench

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what one run (or one side of a comparison) measured.
type Result struct {
	Address string        `json:"address"`
	Mode    Mode          `json:"mode"`
	Size    int           `json:"size"`
	Conns   int           `json:"conns"`
	Elapsed time.Duration `json:"elapsed_ns"` // measured time, without warm-up or dialing

	// Ops counts round trips (latency), writes (throughput) or connections
	// (connect), all completed within the measured time.
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`

	// Bytes is what the client wrote in the measured time; BytesRead what it
	// read back (an echo's replies; zero from a sink).
	Bytes       int64   `json:"bytes"`
	BytesRead   int64   `json:"bytes_read"`
	BytesPerSec float64 `json:"bytes_per_sec"` // Bytes over Elapsed

	// Retries counts connects refused with EAGAIN and retried (connect mode).
	Retries int64 `json:"retries"`

	// Latency is the distribution of one round trip (latency) or of one
	// whole connection: connect, round trip, close (connect). It is nil in
	// throughput mode.
	Latency *Distribution `json:"latency,omitempty"`

	hist *hdr.Histogram
}

// Distribution summarizes latencies. The percentiles come from an HDR
// histogram with three significant digits (each is within 0.1% of the true
// value); Max is exact.
type Distribution struct {
	Count int64         `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p99_9_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Percentile returns the latency at percentile q (0 to 100; 99.9 for
// p99.9), or 0 in throughput mode or when nothing was recorded.
func (r *Result) Percentile(q float64) time.Duration {
	if r == nil || r.hist == nil || r.hist.TotalCount() == 0 {
		return 0
	}
	// The histogram answers with the top of the value's bucket, which may
	// lie above the largest latency actually seen.
	return min(time.Duration(r.hist.ValueAtPercentile(q)), r.Latency.Max)
}

// Histogram bounds in nanoseconds. A latency over an hour is recorded as an
// hour in the histogram; Max stays exact.
const (
	histLowest  = 1
	histHighest = int64(time.Hour)
	histDigits  = 3
	batchSize   = 256
)

// recorder is the histogram shared by the workers of a run. Workers batch
// their samples (see batch), so the lock is taken once per batchSize samples
// and one histogram serves any number of connections.
type recorder struct {
	mu   sync.Mutex
	hist *hdr.Histogram
	max  int64
}

func newRecorder() *recorder {
	return &recorder{hist: hdr.New(histLowest, histHighest, histDigits)}
}

func (r *recorder) add(samples []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range samples {
		if v > r.max {
			r.max = v
		}
		if v < histLowest {
			v = histLowest
		} else if v > histHighest {
			v = histHighest
		}
		// Cannot fail: v is within the histogram's range.
		_ = r.hist.RecordValue(v)
	}
}

// batch collects one worker's samples for its recorder.
type batch struct {
	rec *recorder
	n   int
	buf [batchSize]int64
}

func (b *batch) add(d time.Duration) {
	b.buf[b.n] = int64(d)
	b.n++
	if b.n == len(b.buf) {
		b.flush()
	}
}

func (b *batch) flush() {
	if b.n > 0 {
		b.rec.add(b.buf[:b.n])
		b.n = 0
	}
}

// tally accumulates the measurements of one address over one or more rounds.
type tally struct {
	rec                            *recorder // nil in throughput mode
	ops, bytes, bytesRead, retries int64
	elapsed                        time.Duration
}

func newTally(m Mode) *tally {
	t := &tally{}
	if m != Throughput {
		t.rec = newRecorder()
	}
	return t
}

func (t *tally) result(address string, cfg Config) *Result {
	r := &Result{
		Address:   address,
		Mode:      cfg.Mode,
		Size:      cfg.Size,
		Conns:     cfg.Conns,
		Elapsed:   t.elapsed,
		Ops:       t.ops,
		Bytes:     t.bytes,
		BytesRead: t.bytesRead,
		Retries:   t.retries,
	}
	if secs := t.elapsed.Seconds(); secs > 0 {
		r.OpsPerSec = float64(t.ops) / secs
		r.BytesPerSec = float64(t.bytes) / secs
	}
	if t.rec != nil {
		h := t.rec.hist
		r.hist = h
		r.Latency = &Distribution{Count: h.TotalCount(), Max: time.Duration(t.rec.max)}
		if h.TotalCount() > 0 {
			r.Latency.Mean = time.Duration(h.Mean())
			r.Latency.P50 = r.Percentile(50)
			r.Latency.P90 = r.Percentile(90)
			r.Latency.P99 = r.Percentile(99)
			r.Latency.P999 = r.Percentile(99.9)
		}
	}
	return r
}
