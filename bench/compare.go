package bench

import (
	"context"
	"fmt"
	"time"
)

// DefaultRounds is the number of rounds per address Compare runs when asked
// for zero.
const DefaultRounds = 5

// Comparison is the outcome of Compare: the same measurement of two
// addresses, and how B stands to A.
type Comparison struct {
	A      *Result `json:"a"`
	B      *Result `json:"b"`
	Rounds int     `json:"rounds"`

	// RateRatio is B's rate over A's: round trips, connections or bytes per
	// second. Above 1 means B is faster.
	RateRatio float64 `json:"rate_ratio"`

	// P50Ratio and P99Ratio are B's latency percentiles over A's (latency
	// and connect modes; 0 in throughput mode). Above 1 means B is slower.
	P50Ratio float64 `json:"p50_ratio,omitempty"`
	P99Ratio float64 `json:"p99_ratio,omitempty"`
}

// Compare measures a and b as cfg says, alternating between them in rounds
// (a, b, a, b, ...) so that noise on the machine hits both alike: each round
// measures one address for cfg.Duration/rounds, or writes cfg.Bytes/rounds in
// throughput mode with a byte count. Zero rounds means DefaultRounds. Each
// round opens fresh connections; cfg.Warmup is spent before each round. The
// results add up all rounds of an address; Progress reports say which
// address and round is running.
//
// Errors are those of Run; a cancelled ctx returns both partial results with
// ctx.Err().
func Compare(ctx context.Context, a, b string, cfg Config, rounds int) (*Comparison, error) {
	if rounds == 0 {
		rounds = DefaultRounds
	}
	if rounds < 0 {
		return nil, fmt.Errorf("%w: %d rounds", ErrInvalidConfig, rounds)
	}
	addrA, cfgA, err := prepare(a, cfg)
	if err != nil {
		return nil, err
	}
	addrB, _, err := prepare(b, cfg)
	if err != nil {
		return nil, err
	}
	per := cfgA
	per.Duration = cfgA.Duration / time.Duration(rounds)
	if cfgA.Bytes > 0 {
		per.Bytes = cfgA.Bytes / int64(rounds)
	}
	if per.Duration <= 0 || (cfgA.Bytes > 0 && per.Bytes < int64(per.Conns)) {
		return nil, fmt.Errorf("%w: too little to split into %d rounds", ErrInvalidConfig, rounds)
	}
	ta, tb := newTally(cfg.Mode), newTally(cfg.Mode)
	var errA, errB error
	for i := 1; i <= rounds && errA == nil && errB == nil; i++ {
		errA = runRound(ctx, addrA, per, ta, progressInfo{address: a, round: i, rounds: rounds})
		if errA == nil {
			errB = runRound(ctx, addrB, per, tb, progressInfo{address: b, round: i, rounds: rounds})
		}
	}
	ra, errA := finish(ctx, a, cfgA, ta, errA)
	rb, errB := finish(ctx, b, cfgA, tb, errB)
	if ra == nil || rb == nil {
		if errA != nil {
			return nil, errA
		}
		return nil, errB
	}
	c := &Comparison{A: ra, B: rb, Rounds: rounds}
	rateA, rateB := ra.OpsPerSec, rb.OpsPerSec
	if cfgA.Mode == Throughput {
		rateA, rateB = ra.BytesPerSec, rb.BytesPerSec
	}
	c.RateRatio = ratio(rateB, rateA)
	if ra.Latency != nil && rb.Latency != nil {
		c.P50Ratio = ratio(float64(rb.Latency.P50), float64(ra.Latency.P50))
		c.P99Ratio = ratio(float64(rb.Latency.P99), float64(ra.Latency.P99))
	}
	if errA != nil {
		return c, errA
	}
	return c, errB
}

func ratio(x, y float64) float64 {
	if y == 0 {
		return 0
	}
	return x / y
}
