package forms

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

func (s *Service) newCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "form",
		Short: "Check the web form definitions",
	}
	cmd.AddCommand(&cobra.Command{
		Use:          "validate [dir|file...]",
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
				st, err := os.Stat(dir)
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						return fmt.Errorf("%s: no such file or directory", dir)
					}
					return err
				}
				var forms []*Form
				if st.IsDir() {
					if names, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(names) == 0 {
						return fmt.Errorf("%s: no *.json form definitions found", dir)
					}
					forms, err = loadDirs([]string{dir}, objs)
				} else {
					forms, err = loadFile(dir, objs)
				}
				var errs schemas.Errors
				if errors.As(err, &errs) {
					for _, e := range errs {
						fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
					}
					return fmt.Errorf("%s: %s", dir, schemas.Plural(len(errs), "problem"))
				}
				if err != nil {
					return err
				}
				n += len(forms)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s, all valid\n", schemas.Plural(n, "form"))
			return nil
		},
	})
	return cmd
}

// loadFile reads and checks one form definition file.
func loadFile(file string, objects []*schemas.Object) ([]*Form, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	f, errs := Parse(file, data)
	if len(errs) == 0 {
		errs = Check(f, objects)
		schemas.Locate(errs, file, data)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return []*Form{f}, nil
}
