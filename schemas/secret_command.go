package schemas

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

// NewSecretCommand returns `relata secret set|list|delete NAME`, which manages the secrets
// definitions reference by name (a webhook's "secret": {"ref": "NAME"}). Values are read from
// standard input and never printed.
func NewSecretCommand(app core.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Store, list and delete the secrets definitions reference by name (values are write-only)",
	}
	ready := func() error {
		if err := app.RunAllMigrations(); err != nil {
			return fmt.Errorf("run migrations: %w", err)
		}
		return nil
	}
	set := &cobra.Command{
		Use:          "set NAME",
		Short:        "Store the value read from standard input as secret NAME, replacing any value it had",
		Example:      "  printf %s \"$HOOK_SECRET\" | relata secret set crm-hook",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := CheckSecretName(args[0]); err != nil {
				return err
			}
			data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), MaxSecretLen+2))
			if err != nil {
				return fmt.Errorf("read the secret from standard input: %w", err)
			}
			value := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
			if value == "" {
				return errors.New("no secret on standard input (pipe the value in: printf %s \"$VALUE\" | relata secret set NAME)")
			}
			if err := ready(); err != nil {
				return err
			}
			if err := SetSecret(app, args[0], value); err != nil {
				return err
			}
			how := "in clear: set --encryptionEnv to encrypt secrets at rest"
			if encryptionKey(app) != "" {
				how = "encrypted"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored secret %s (%d bytes, %s)\n", args[0], len(value), how)
			return nil
		},
	}
	list := &cobra.Command{
		Use:          "list",
		Short:        "List the stored secrets by name (never their values)",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ready(); err != nil {
				return err
			}
			list, err := Secrets(app)
			if err != nil {
				return err
			}
			for _, s := range list {
				state := "clear"
				if s.Encrypted {
					state = "encrypted"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\n", s.Name, state, s.Updated)
			}
			return nil
		},
	}
	del := &cobra.Command{
		Use:          "delete NAME",
		Short:        "Delete secret NAME",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ready(); err != nil {
				return err
			}
			if err := DeleteSecret(app, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted secret %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(set, list, del)
	return cmd
}
