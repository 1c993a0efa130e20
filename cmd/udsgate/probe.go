package main

import "github.com/spf13/cobra"

// TODO(stub): replaced by the real command.
func newProbeCmd() *cobra.Command {
	return &cobra.Command{Use: "probe", Hidden: true}
}
