package forms

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

func (s *Service) newCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "form",
		Short: "Check the web form definitions",
	}
	cmd.AddCommand(&cobra.Command{
		Use:          "validate [dir...]",
		Short:        "Check form definitions against the object definitions and report every problem",
		Example:      "  relata form validate examples/sales/forms",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs := args
			if len(dirs) == 0 {
				dirs = s.cfg.Dirs
			}
			if len(dirs) == 0 {
				return errors.New("no form directory: name one, or set --formsDir")
			}
			objs, err := s.reg.Definitions()
			if err != nil {
				return err
			}
			n := 0
			for _, dir := range dirs {
				if _, err := os.Stat(dir); err != nil {
					return err
				}
				forms, err := loadDirs([]string{dir}, objs)
				var errs schemas.Errors
				if errors.As(err, &errs) {
					for _, e := range errs {
						fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
					}
					return fmt.Errorf("%s: %d problems", dir, len(errs))
				}
				if err != nil {
					return err
				}
				n += len(forms)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d forms, all valid\n", n)
			return nil
		},
	})
	return cmd
}
