package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sops"
)

type sopsScopeOptions struct {
	namespace, name, scope string
}

func newSopsScopeCommand(s *streams) *cobra.Command {
	o := &sopsScopeOptions{}
	cmd := &cobra.Command{
		Use:   "sops-scope",
		Short: "Print the kseal.dev/scope line that binds a SOPS document to where a SopsSecret may use it",
		Long: `A SopsSecret's document must name, in its top-level key kseal.dev/scope, where
it may be used; the controller refuses it anywhere else, so a document copied
into another namespace opens nowhere. sops-scope prints that line for a
namespace and name (strict), a namespace (namespace-wide) or any namespace
(cluster-wide). Add it before encrypting, or to an encrypted file with
sops set (which keeps the MAC right).`,
		Example: `  kseal sops-scope -n tenant-a --name db          # kseal.dev/scope: tenant-a/db
  sops set db.enc.yaml '["kseal.dev/scope"]' '"tenant-a/db"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(s)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace of the SopsSecret")
	f.StringVar(&o.name, "name", "", "name of the SopsSecret (strict scope)")
	f.StringVar(&o.scope, "scope", "strict", "strict, namespace-wide or cluster-wide")
	return cmd
}

func (o *sopsScopeOptions) run(s *streams) error {
	sc, err := scope.Parse(o.scope)
	if err != nil {
		return withHint(err, "--scope takes strict, namespace-wide or cluster-wide")
	}
	var value string
	switch {
	case sc == scope.ClusterWide:
		value = `"*"`
	case o.namespace == "":
		return withHint(errors.New("--namespace is required"), "or use --scope cluster-wide")
	case sc == scope.NamespaceWide:
		value = o.namespace + "/*"
	case o.name == "":
		return withHint(errors.New("--scope strict needs --name"), "or use --scope namespace-wide")
	default:
		value = o.namespace + "/" + o.name
	}
	check := value
	if sc == scope.ClusterWide {
		check = "*"
	}
	name := o.name
	if name == "" {
		name = "x"
	}
	if err := sops.CheckScope(check, o.namespace, name); err != nil {
		return withHint(err, "--namespace and --name must be Kubernetes names")
	}
	_, err = fmt.Fprintf(s.out, "%s: %s\n", sops.ScopeKey, value)
	return err
}
