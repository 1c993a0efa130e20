//go:build !linux && !darwin && !freebsd

package uds

import "runtime"

const (
	hasUnixPacket  = false
	hasAbstract    = false
	maxPathLen     = 103
	modeBeforeBind = false
)

var platform = runtime.GOOS
