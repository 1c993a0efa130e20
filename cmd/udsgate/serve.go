package main

import "github.com/spf13/cobra"

// TODO(stub): replaced by the real command.
func newServeCmd() *cobra.Command {
	return &cobra.Command{Use: "serve", Hidden: true}
}
