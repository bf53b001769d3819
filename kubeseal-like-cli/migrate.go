package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/internal/migrate"
)

type migrateOptions struct {
	check bool
}

// errMigrate is returned when a file would change (--check) or a document
// holds something kseal would refuse; the report already says which.
var errMigrate = errors.New("migrate: see the report above")

func newMigrateCommand(s *streams) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate [--check] PATH...",
		Short: "Convert Bitnami SealedSecrets and External Secrets Operator manifests to kseal.dev/v1alpha1",
		Long: `Migrate rewrites, in place, the apiVersion of every bitnami.com/v1alpha1
SealedSecret and every external-secrets.io ExternalSecret, SecretStore,
ClusterSecretStore, ClusterExternalSecret (v1, v1beta1), PushSecret and
ClusterPushSecret (v1alpha1) in the given files and directories (*.yaml, *.yml, recursively) to
kseal.dev/v1alpha1. Nothing else changes: comments, order, quoting and every
other document stay byte for byte. Each file is replaced atomically.

It reports, by file and document, anything kseal would refuse (an unsupported
provider, a field kseal does not implement) and kinds it leaves as they are,
and then exits 1. With --check it writes nothing and exits 1 when a file would
change or something would be refused: use it in CI.`,
		Example: `  kseal migrate deploy/
  kseal migrate --check deploy/ apps/shop/secrets.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(s, args)
		},
	}
	cmd.Flags().BoolVar(&o.check, "check", false, "write nothing; exit 1 if a file would change or something would be refused")
	return cmd
}

func (o *migrateOptions) run(s *streams, paths []string) error {
	files, err := migrateFiles(paths)
	if err != nil {
		return withHint(err, "kseal migrate takes YAML files and directories")
	}
	var changed, problems int
	for _, f := range files {
		c, p, err := o.file(s, f)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		changed += c
		problems += p
	}
	verb := "converted"
	if o.check {
		verb = "would convert"
	}
	fmt.Fprintf(s.out, "%s %d file(s); %d problem(s)\n", verb, changed, problems)
	if problems > 0 || (o.check && changed > 0) {
		return errMigrate
	}
	return nil
}

// file converts one file; it returns 1 when the file changed (or would),
// and the number of problems reported.
func (o *migrateOptions) file(s *streams, path string) (int, int, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, 0, err
	}
	if !fi.Mode().IsRegular() {
		fmt.Fprintf(s.out, "%s: not a regular file (a symbolic link?): convert the file it points to\n", path)
		return 0, 1, nil
	}
	if fi.Size() > migrate.MaxInput {
		fmt.Fprintf(s.out, "%s: larger than %d MiB: not read\n", path, migrate.MaxInput>>20)
		return 0, 1, nil
	}
	in, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	res := migrate.Rewrite(in)
	for _, p := range res.Problems {
		fmt.Fprintf(s.out, "%s: %s\n", path, p)
	}
	if !res.Changed() {
		return 0, len(res.Problems), nil
	}
	if o.check {
		fmt.Fprintf(s.out, "%s: would convert %d document(s)\n", path, res.Converted)
		return 1, len(res.Problems), nil
	}
	if err := writeFileAtomic(path, res.Output, fi.Mode().Perm()); err != nil {
		return 0, 0, err
	}
	fmt.Fprintf(s.out, "%s: converted %d document(s)\n", path, res.Converted)
	return 1, len(res.Problems), nil
}

// migrateFiles expands paths: files as given, directories to their *.yaml
// and *.yml files (recursively, skipping hidden directories such as .git),
// in lexical order.
func migrateFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			ext := filepath.Ext(path)
			if !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
