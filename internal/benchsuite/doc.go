// Command benchsuite is udsgate's benchmark suite. scripts/bench.sh builds
// udsgate, the reference relay (tools/relay) and this program, and runs it;
// it writes docs/benchmarks.md and its charts.
//
// In one run on one machine, with real processes, it measures:
//
//   - the echo round trip over unix, unixpacket, unixgram, tcp and udp;
//   - the gate (udsgate serve) against the direct path, the reference relay
//     in splice and copy mode, and socat when it is installed, all in front
//     of the same Go echo and sink backends: 4-byte round trip, bulk
//     throughput into a sink, and connection rate (connect, one round trip,
//     close) with 1 and with 8 concurrent clients;
//   - resident memory and descriptors per idle connection through the gate
//     and the relays, at 10,000 connections.
//
// It runs on Linux only. Measurements of several paths alternate in rounds
// (bench.Alternate), so that noise on the machine hits every row alike. The
// backends are this binary re-executed as "benchsuite backend echo|sink
// ADDRESS".
package main
