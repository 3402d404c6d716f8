package transfer

import "github.com/spf13/cobra"

// ImportCommand is the `relata import` command, for tests that run it in process.
func (s *Service) ImportCommand() *cobra.Command { return s.newImportCommand() }

// SetSerialImport makes imports write on the importer's goroutine (as RELATA_IMPORT_SERIAL=1)
// until the returned function restores the setting.
func SetSerialImport(on bool) func() {
	old := serialImport
	serialImport = on
	return func() { serialImport = old }
}
