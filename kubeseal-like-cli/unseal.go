package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

type unsealOptions struct {
	inFile, outFile string
	keyFiles        []string
	format          string
}

func newUnsealCommand(s *streams) *cobra.Command {
	o := &unsealOptions{}
	var recoveryUnseal bool
	cmd := &cobra.Command{
		Use:   "unseal --recovery-private-key FILE...",
		Short: "Recover the Secret of a SealedSecret offline with backed-up private keys",
		Long: `Unseal opens a SealedSecret (kseal.dev or bitnami.com) without a cluster, for
disaster recovery. Keys come from --recovery-private-key files: PEM RSA keys,
age identity files, kseal key Secrets or sealed-secrets key Secret backups
(kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml).
It prints the Secret in plaintext: handle the output with care.`,
		Example: `  kseal unseal --recovery-private-key backup.yaml -f sealed.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(s)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.keyFiles, "recovery-private-key", nil, "private key file (repeat or comma-separate)")
	f.StringVarP(&o.inFile, "file", "f", "", "SealedSecret to unseal (default stdin)")
	f.StringVarP(&o.outFile, "secret-file", "w", "", "write the Secret to this file, atomically (default stdout)")
	f.StringVarP(&o.format, "format", "o", "yaml", "output format: yaml or json")
	f.BoolVar(&recoveryUnseal, "recovery-unseal", true, "accepted for kubeseal compatibility")
	_ = f.MarkHidden("recovery-unseal")
	return cmd
}

func (o *unsealOptions) run(s *streams) error {
	if len(o.keyFiles) == 0 {
		return withHint(errors.New("no private key: unseal needs --recovery-private-key"),
			"back up the key Secrets with `kubectl get secret -n kseal-system -l kseal.dev/sealing-key -o yaml > keys.yaml` and pass that file")
	}
	var dks []*sealing.DecryptionKey
	for _, path := range o.keyFiles {
		data, err := readFileLimit(path, maxKeyFile)
		if err != nil {
			return withHint(err, "check the path given to --recovery-private-key")
		}
		k, err := keysFromFile(path, data)
		if err != nil {
			return err
		}
		dks = append(dks, k...)
	}
	input, err := readInput(s, o.inFile)
	if err != nil {
		return withHint(err, "pass a SealedSecret on stdin or with -f FILE")
	}
	ss, err := sealedsecret.DecodeSealedSecret(input)
	if err != nil {
		return withHint(err, "kseal unseal takes one SealedSecret as YAML or JSON")
	}
	res, err := sealedsecret.Unseal(ss, sealing.NewKeyring(dks...), sealedsecret.UnsealOptions{})
	if err != nil {
		return unsealHint(err)
	}
	out, err := sealedsecret.Encode(o.format, res.Secret)
	if err != nil {
		return err
	}
	if o.outFile == "" || o.outFile == "-" {
		return writeOutput(s, o.outFile, out)
	}
	// The output is plaintext: readable by the owner only, even where it
	// replaces a file others could read.
	return writePrivateFile(o.outFile, out)
}

func keysFromFile(path string, data []byte) ([]*sealing.DecryptionKey, error) {
	k, err := keys.ParsePrivateKeys(path, data)
	if err != nil {
		return nil, withHint(err, "--recovery-private-key takes a PEM private key, an age identity file or key Secret manifests")
	}
	return k, nil
}

func unsealHint(err error) error {
	switch {
	case errors.Is(err, sealing.ErrScopeMismatch):
		return withHint(err, "the SealedSecret was sealed for another namespace, name or scope: seal it again for where it is applied")
	case errors.Is(err, sealing.ErrUnknownKey):
		return withHint(err, "none of the given keys opened it: pass the key Secrets of the cluster it was sealed for (all generations), and check it was not moved to another namespace or renamed")
	case errors.Is(err, sealing.ErrCorrupt):
		return withHint(err, "the ciphertext was changed or cut (a merge conflict or line wrap?): take it again from git history or seal again")
	case errors.Is(err, sealedsecret.ErrTemplate):
		return withHint(err, "fix spec.template.data")
	}
	return fmt.Errorf("%w", err)
}
