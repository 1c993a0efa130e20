package peercred

// streamNetworks are the connection-oriented Unix socket types here: macOS has
// no unixpacket.
var streamNetworks = []string{"unix"}
