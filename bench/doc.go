// Package bench measures a socket server from the client side: round-trip
// latency, one-way throughput and connection rate, against any address that
// uds.Dial reaches (unix, unixpacket, unixgram, tcp, udp).
//
// Run performs one measurement and Compare runs the same measurement against
// two addresses in alternating rounds, so that noise on the machine hits both
// alike. Latency distributions are recorded in an HDR histogram
// (github.com/HdrHistogram/hdrhistogram-go, three significant digits), never
// by keeping and sorting samples, so a run of any length uses constant memory.
//
// What each mode measures:
//
//   - Latency: Conns connections, each sending a message of Size bytes and
//     waiting for the whole reply (a stream reads until Size bytes came back;
//     seqpacket and datagram sockets send one message and read one message)
//     before sending the next. The server must echo.
//   - Throughput: Conns connections, each writing Size-byte chunks (messages
//     on seqpacket and datagram sockets) for Duration or until Bytes have
//     been written. The server may be a sink or an echo: whatever comes back
//     is read and thrown away concurrently, so an echo never stalls the
//     writer. On stream and seqpacket sockets the client half-closes at the
//     end and the clock stops when the server closes its side, so every byte
//     counted has been taken by the server; on datagram sockets the clock
//     stops at the last write.
//   - Connect: Conns loops, each connecting, optionally doing one round trip
//     of Size bytes, and closing, as fast as it can. A connect refused with
//     EAGAIN (the server's listen backlog is full) is retried after a
//     millisecond and counted in Result.Retries; its time counts.
//
// The package neither prints nor exits. Run returns when every goroutine it
// started has ended and every connection it opened is closed. A server that
// stops answering for Config.Timeout fails the run with an error wrapping
// ErrTimeout; a cancelled context stops it early with what was measured so
// far.
package bench
