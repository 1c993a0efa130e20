// Package inspect answers the questions people ask about Unix domain
// sockets: is anything listening on this file or is it stale, of which type,
// who owns it, may I connect, which process listens (Probe); and which
// sockets are listening on this machine (List).
//
// Probing only looks: it reads file metadata and /proc (on Linux), and
// connects to a socket file only in ways its server does not notice, except
// when /proc cannot tell the type (see Probe). Nothing on disk changes except
// through Clean, which removes a path only when it is a socket file that a
// connect(2) has just proved stale, and never a symlink or anything that is
// not a socket.
//
// The listener's pid and command come from /proc/net/unix and the
// processes' descriptors in /proc/PID/fd, so they are known on Linux only,
// and only for the processes whose descriptors the caller may read; the
// others are left blank rather than guessed. List needs /proc/net/unix and
// fails with ErrUnsupported elsewhere.
//
// The package returns data and never prints; WriteProbe, WriteList and their
// JSON forms format results for a terminal or a script.
package inspect
