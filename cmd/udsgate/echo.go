package main

import "github.com/spf13/cobra"

// TODO(stub): replaced by the real command.
func newEchoCmd() *cobra.Command {
	return &cobra.Command{Use: "echo", Hidden: true}
}
