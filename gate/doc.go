// Package gate runs one gate: a listening socket in front of a local
// service that lets in only the peers a policy allows, by the kernel's word
// on who they are.
//
// Every connection takes one path: accept, ask the kernel for the peer's
// credentials (package peercred), decide (package policy), write an audit
// line, then either refuse (the deny message, then close; the backend is
// never contacted) or bridge to the backend both ways until both sides are
// done, passing a half-close on, and write a second audit line with the
// bytes each way and the duration. Datagram gates (unixgram) take the same
// path per message, with the credentials that arrive with each datagram.
//
// On Linux, stream gates in front of a socket backend move bytes in an
// epoll loop: small transfers through one buffer per loop, bulk with
// splice(2) through pooled pipes. No goroutine, buffer or pipe is held by
// an idle connection, only its two descriptors. Elsewhere, and for the
// built-in backends, each connection is served by goroutines.
//
// The Gate owns its listener: Close, or the end of Serve, closes it, which
// removes the socket file (see package uds), and closes every connection.
package gate
