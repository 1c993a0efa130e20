package peercred

// streamNetworks are the connection-oriented Unix socket types here.
var streamNetworks = []string{"unix", "unixpacket"}
