package uds

const (
	platform      = "linux"
	hasUnixPacket = true
	hasAbstract   = true
	// maxPathLen is sizeof(sun_path) less the terminating NUL: unix(7).
	maxPathLen = 107
	// modeBeforeBind: unix_bind in net/unix/af_unix.c gives the new file
	// the socket inode's mode masked by the umask, so fchmod before bind
	// narrows the file from its first moment.
	modeBeforeBind = true
)
