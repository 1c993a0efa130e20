package uds

const (
	platform      = "freebsd"
	hasUnixPacket = true
	hasAbstract   = false
	// maxPathLen is sizeof(sun_path) (104) less the terminating NUL.
	maxPathLen = 103
	// modeBeforeBind: the BSD bind gives the file ACCESSPERMS masked by the
	// umask and ignores the socket's own mode.
	modeBeforeBind = false
)
