package main

import "github.com/spf13/cobra"

// TODO(stub): replaced by the real command.
func newBenchCmd() *cobra.Command {
	return &cobra.Command{Use: "bench", Hidden: true}
}
