//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "benchsuite: the benchmark suite runs on Linux only")
	os.Exit(1)
}
