package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/internal/version"
)

func newVersionCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the kseal version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(s.out, version.Get().Line("kseal"))
			return err
		},
	}
}
