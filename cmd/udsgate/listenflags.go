package main

import (
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/udsgate/udsgate/uds"
)

// listenFlags are the socket-file options of the commands that listen:
// --mode, --owner and --group.
type listenFlags struct {
	mode, owner, group string
}

func (f *listenFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.mode, "mode", "", "permission bits of the socket file, in octal (e.g. 0660)")
	fs.StringVar(&f.owner, "owner", "", "user that owns the socket file, by name or uid")
	fs.StringVar(&f.group, "group", "", "group that owns the socket file, by name or gid")
}

// config returns the flags as a uds.ListenConfig; a malformed mode is a
// usage error. Names are resolved when listening.
func (f *listenFlags) config() (uds.ListenConfig, error) {
	lc := uds.ListenConfig{Owner: f.owner, Group: f.group}
	if f.mode != "" {
		m, err := strconv.ParseUint(f.mode, 8, 32)
		if err != nil || m > 0o777 {
			return lc, usageErrorf("--mode %q: want octal permission bits such as 0660", f.mode)
		}
		if m == 0 {
			return lc, usageErrorf("--mode %q: nobody, not even the owner, could connect", f.mode)
		}
		lc.Mode = os.FileMode(m)
	}
	return lc, nil
}
