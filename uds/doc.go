// Package uds listens on and dials Unix domain sockets the way a careful
// daemon must, and network sockets through the same addresses.
//
// Addresses are strings with a network prefix: "unix:/run/x.sock" (stream),
// "unixpacket:/run/x.sock" (sequenced packets), "unixgram:/run/x.sock"
// (datagrams), "unix:@name" for the Linux abstract namespace, and
// "tcp:host:port" or "udp:host:port". A bare "/path" or "./path" means unix:.
// See ParseAddr.
//
// Listening on a path that already exists is safe: a socket nobody listens on
// (connecting is refused) is stale and is replaced; a live one is never
// taken over (ErrInUse); anything that is not a socket is never touched
// (ErrNotSocket). The check, the removal and the bind are serialized between
// processes by flock(2) on the socket's directory, so two daemons starting at
// once cannot remove each other's live socket; no lock file is created.
//
// The socket file gets the mode, owner and group of the ListenConfig with no
// moment in which anyone outside them can connect (on Linux; see
// ListenConfig.Mode for other platforms). When Listen fails, nothing on disk
// has changed, except that a stale socket at the path may have been removed.
//
// The Listener or PacketConn that created a socket file removes it on Close,
// for datagram sockets too, and only if the path still names the very file it
// created (same device and inode): a listener never removes a successor's
// socket.
package uds
