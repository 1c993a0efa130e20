package bench

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Mode is what a run measures.
type Mode string

// The modes of a run; see the package doc for what each measures.
const (
	Latency    Mode = "latency"
	Throughput Mode = "throughput"
	Connect    Mode = "connect"
)

// Defaults applied by Run and Compare to zero fields of a Config.
const (
	DefaultLatencySize    = 4        // bytes per round trip
	DefaultThroughputSize = 64 << 10 // bytes per write
	DefaultDuration       = 5 * time.Second
	DefaultTimeout        = 10 * time.Second
	DefaultProgressEvery  = 250 * time.Millisecond
	MaxSize               = 64 << 20 // largest Size accepted, to keep buffers sane
	MaxConns              = 100000   // largest Conns accepted
)

// ErrInvalidConfig is wrapped by every error about a Config itself (an
// unknown mode, a negative size): an error in the input, not in the system.
var ErrInvalidConfig = errors.New("invalid benchmark configuration")

// ErrTimeout is wrapped by the error of a run in which the server left a
// round trip, a write or a connect unanswered for Config.Timeout.
var ErrTimeout = errors.New("no answer from the server in time")

// ParseMode returns the Mode named s ("latency", "throughput", "connect").
// Any other name is an error wrapping ErrInvalidConfig.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Latency, Throughput, Connect:
		return m, nil
	}
	return "", fmt.Errorf("%w: unknown mode %q (want latency, throughput or connect)", ErrInvalidConfig, s)
}

// Config says what to measure. Its zero value, apart from Mode which must be
// set, gives the defaults: 4-byte round trips (latency), 64 KiB writes
// (throughput) or connect-and-close with no data (connect), on one
// connection, for five seconds.
type Config struct {
	Mode Mode

	// Size is the message size in bytes: of each round trip (latency), each
	// write (throughput), or the one round trip done on each connection
	// (connect; 0 means connect and close with no data). Zero gives the
	// mode's default.
	Size int

	// Conns is the number of connections (latency, throughput) or parallel
	// connect loops (connect). Zero means one.
	Conns int

	// Duration is how long to measure. Zero means DefaultDuration. In
	// throughput mode with Bytes set, Duration is ignored.
	Duration time.Duration

	// Bytes, in throughput mode, makes the run write this many bytes in all
	// (split evenly across the connections) instead of running for Duration.
	Bytes int64

	// Warmup is spent doing the same operations before the clock starts;
	// they are not counted (latency and connect modes; throughput ignores
	// it). Zero means no warm-up.
	Warmup time.Duration

	// Timeout is how long a single round trip, write, connect or final
	// close may take before the run fails with ErrTimeout. Zero means
	// DefaultTimeout.
	Timeout time.Duration

	// Progress, if set, is called about every ProgressEvery while the run
	// goes on, from one goroutine at a time, and never after Run or Compare
	// has returned. It must return quickly.
	Progress func(Progress)

	// ProgressEvery is the interval between Progress calls. Zero means
	// DefaultProgressEvery.
	ProgressEvery time.Duration
}

// Progress is a snapshot of a run in progress.
type Progress struct {
	Address string        // the address being measured
	Round   int           // Compare: the round, from 1; Run: 1
	Rounds  int           // Compare: the number of rounds; Run: 1
	Elapsed time.Duration // measured time so far for this address
	Ops     int64         // round trips, writes or connections so far
	Bytes   int64         // bytes written so far (throughput)
	Retries int64         // connects retried after EAGAIN so far (connect)
	Rate    float64       // ops per second, or bytes per second in throughput mode
}

// withDefaults returns c with zero fields set to their defaults, or an error
// wrapping ErrInvalidConfig.
func (c Config) withDefaults() (Config, error) {
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return c, err
	}
	if c.Size == 0 {
		switch c.Mode {
		case Latency:
			c.Size = DefaultLatencySize
		case Throughput:
			c.Size = DefaultThroughputSize
		}
	}
	if c.Conns == 0 {
		c.Conns = 1
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = DefaultProgressEvery
	}
	switch {
	case c.Size < 0, c.Size > MaxSize:
		return c, fmt.Errorf("%w: size %d is negative or over the maximum of %d bytes", ErrInvalidConfig, c.Size, MaxSize)
	case c.Conns < 0, c.Conns > MaxConns:
		return c, fmt.Errorf("%w: %d connections is negative or over the maximum of %d", ErrInvalidConfig, c.Conns, MaxConns)
	case c.Duration < 0:
		return c, fmt.Errorf("%w: negative duration %v", ErrInvalidConfig, c.Duration)
	case c.Bytes < 0:
		return c, fmt.Errorf("%w: negative byte count %d", ErrInvalidConfig, c.Bytes)
	case c.Bytes > 0 && c.Mode != Throughput:
		return c, fmt.Errorf("%w: a byte count is only for throughput mode", ErrInvalidConfig)
	case c.Warmup < 0, c.Timeout < 0, c.ProgressEvery < 0:
		return c, fmt.Errorf("%w: negative warm-up, timeout or progress interval", ErrInvalidConfig)
	}
	return c, nil
}

// ParseSize reads a byte count: a whole number with an optional unit, B,
// K or KiB (1024), M or MiB, G or GiB ("4", "64KiB", "1G"). Anything else,
// or a negative number, is an error wrapping ErrInvalidConfig.
func ParseSize(s string) (int64, error) {
	num := strings.TrimRightFunc(s, unicode.IsLetter)
	unit := strings.ToLower(s[len(num):])
	shift, ok := map[string]uint{"": 0, "b": 0, "k": 10, "kib": 10, "m": 20, "mib": 20, "g": 30, "gib": 30}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%w: size %q: want a number of bytes such as 4, 64KiB or 1GiB", ErrInvalidConfig, s)
	}
	return n << shift, nil
}
