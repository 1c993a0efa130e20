package main

import "github.com/spf13/cobra"

// TODO(stub): replaced by the real command.
func newDialCmd() *cobra.Command {
	return &cobra.Command{Use: "dial", Hidden: true}
}
