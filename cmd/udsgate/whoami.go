package main

import "github.com/spf13/cobra"

// TODO(stub): replaced by the real command.
func newWhoamiCmd() *cobra.Command {
	return &cobra.Command{Use: "whoami", Hidden: true}
}
