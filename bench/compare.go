package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/udsgate/udsgate/uds"
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
// Errors are those of Alternate.
func Compare(ctx context.Context, a, b string, cfg Config, rounds int) (*Comparison, error) {
	if rounds == 0 {
		rounds = DefaultRounds
	}
	rs, err := Alternate(ctx, []string{a, b}, cfg, rounds)
	if rs == nil {
		return nil, err
	}
	ra, rb := rs[0], rs[1]
	c := &Comparison{A: ra, B: rb, Rounds: rounds}
	rateA, rateB := ra.OpsPerSec, rb.OpsPerSec
	if ra.Mode == Throughput {
		rateA, rateB = ra.BytesPerSec, rb.BytesPerSec
	}
	c.RateRatio = ratio(rateB, rateA)
	if ra.Latency != nil && rb.Latency != nil {
		c.P50Ratio = ratio(float64(rb.Latency.P50), float64(ra.Latency.P50))
		c.P99Ratio = ratio(float64(rb.Latency.P99), float64(ra.Latency.P99))
	}
	return c, err
}

// Alternate measures each address as cfg says, in rounds: round 1 measures
// every address in the order given, then round 2, and so on, so that noise
// on the machine hits all alike. Each round measures one address for
// cfg.Duration/rounds, or writes cfg.Bytes/rounds in throughput mode with a
// byte count, on fresh connections, after cfg.Warmup. The results, one per
// address in the order given, add up all rounds of that address.
//
// Errors are those of Run, for the first address that failed; nothing is
// returned then. A cancelled ctx returns the partial results with ctx.Err().
// Fewer than one round, or a duration or byte count too small to split, is
// an error wrapping ErrInvalidConfig.
func Alternate(ctx context.Context, addrs []string, cfg Config, rounds int) ([]*Result, error) {
	if rounds < 1 {
		return nil, fmt.Errorf("%w: %d rounds", ErrInvalidConfig, rounds)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	parsed := make([]uds.Addr, len(addrs))
	for i, a := range addrs {
		if parsed[i], err = uds.ParseAddr(a); err != nil {
			return nil, err
		}
	}
	per := cfg
	per.Duration = cfg.Duration / time.Duration(rounds)
	if cfg.Bytes > 0 {
		per.Bytes = cfg.Bytes / int64(rounds)
	}
	if per.Duration <= 0 || (cfg.Bytes > 0 && per.Bytes < int64(per.Conns)) {
		return nil, fmt.Errorf("%w: too little to split into %d rounds", ErrInvalidConfig, rounds)
	}
	tallies := make([]*tally, len(addrs))
	for i := range tallies {
		tallies[i] = newTally(cfg.Mode)
	}
	failed, err := -1, error(nil)
	for round := 1; round <= rounds && err == nil; round++ {
		for i, a := range parsed {
			info := progressInfo{address: addrs[i], round: round, rounds: rounds}
			if err = runRound(ctx, a, per, tallies[i], info); err != nil {
				failed = i
				break
			}
		}
	}
	if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
		_, err = finish(ctx, addrs[failed], cfg, tallies[failed], err)
		return nil, err
	}
	results := make([]*Result, len(addrs))
	for i, t := range tallies {
		results[i] = t.result(addrs[i], cfg)
	}
	return results, err
}

func ratio(x, y float64) float64 {
	if y == 0 {
		return 0
	}
	return x / y
}
