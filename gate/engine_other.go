//go:build !linux

package gate

import "errors"

// hasEngine: only Linux has the epoll and splice engine; elsewhere stream
// gates use the goroutine path (serveStreams).
const hasEngine = false

func (g *Gate) serveEngine() error { return errors.New("gate: no engine on this platform") }
