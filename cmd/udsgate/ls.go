package main

import "github.com/spf13/cobra"

// TODO(stub): replaced by the real command.
func newLsCmd() *cobra.Command {
	return &cobra.Command{Use: "ls", Hidden: true}
}
