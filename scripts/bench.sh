#!/bin/sh
# bench.sh runs udsgate's benchmark suite (internal/benchsuite) and writes
# docs/benchmarks.md and its charts (docs/*.png).
#
# It builds udsgate, the suite and the reference relay (tools/relay/relay.c,
# when a C compiler is present; the relay rows are skipped otherwise), then
# measures, in one run on this machine: the echo round trip per transport,
# and the gate against the direct path, the relay and socat (when installed;
# apt-get install socat), and memory per idle connection. It takes a few
# minutes. Arguments go to the suite: scripts/bench.sh -quick for a short
# smoke run, scripts/bench.sh -write=false to print the tables only, -help
# for the rest. Run it as root (or with a raised ulimit -Hn) for the 10,000
# idle connections.
set -eu

cd "$(dirname "$0")/.."
build=$(mktemp -d "${TMPDIR:-/tmp}/udsgate-bench.XXXXXX")
trap 'rm -rf "$build"' EXIT INT TERM

echo "bench.sh: building udsgate and the suite" >&2
go build -o "$build/udsgate" ./cmd/udsgate
go build -o "$build/benchsuite" ./internal/benchsuite

relay=
if command -v cc >/dev/null 2>&1; then
	cc -O2 -Wall -Wextra -o "$build/relay" tools/relay/relay.c
	relay="$build/relay"
else
	echo "bench.sh: no C compiler (cc): the reference relay rows are skipped (apt-get install gcc)" >&2
fi
if ! command -v socat >/dev/null 2>&1; then
	echo "bench.sh: socat is not installed: its row is skipped; to include it: apt-get install socat" >&2
fi

"$build/benchsuite" -udsgate "$build/udsgate" -relay "$relay" -out docs "$@"
