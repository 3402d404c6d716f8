package transfer

import "github.com/spf13/cobra"

// ImportCommand is the `relata import` command, for tests that run it in process.
func (s *Service) ImportCommand() *cobra.Command { return s.newImportCommand() }
