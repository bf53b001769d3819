package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/rekey"
)

// sopsRekeyFlags say where reencrypt finds the key generations it moves
// SOPS documents between.
type sopsRekeyFlags struct {
	// files are --age-key-file paths: key Secret manifests (a backup of
	// the controller's keys) or identity files.
	files []string
	// fromCluster reads the controller's key Secrets with the kubeconfig.
	fromCluster bool
	// rotateDataKey makes a new data key for each SOPS document.
	rotateDataKey bool
}

func (f *sopsRekeyFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringArrayVar(&f.files, "age-key-file", nil, "key Secret manifest (a backup of the controller's key Secrets) or age identity file, to re-encrypt SOPS documents; repeat for several (also $"+EnvAgeKey+")")
	fs.BoolVar(&f.fromCluster, "from-cluster", false, "read the controller's key Secrets (label kseal.dev/sealing-key=active in --controller-namespace) through the kubeconfig, to re-encrypt SOPS documents")
	fs.BoolVar(&f.rotateDataKey, "rotate-data-key", false, "give each SOPS document a new data key: every value is encrypted again and the MAC rewritten (all its keys must be age keys)")
}

// hintSopsKeys says how to give reencrypt the key generations.
const hintSopsKeys = "to re-encrypt SOPS documents, pass --from-cluster (reads the controller's key Secrets with the kubeconfig) or --age-key-file with a backup of the key Secrets"

// errNoSopsKeys: a SOPS document was found and no key generation given.
var errNoSopsKeys = errors.New("SOPS document: no key generation given, left as it is")

// sopsRekeyer re-encrypts SOPS documents to the newest key generation. It
// loads the generations once, when the first SOPS document needs them.
type sopsRekeyer struct {
	flags      *sopsRekeyFlags
	controller *controllerFlags
	getenv     func(string) string

	once sync.Once
	dec  *sops.Decryptor
	opts rekey.Options
	err  error
}

// rekey moves one document (data, in format f) to the newest generation's
// SOPS recipient; see rekey.Rekey.
func (r *sopsRekeyer) rekey(ctx context.Context, name string, data []byte, f sops.Format) ([]byte, bool, error) {
	r.once.Do(func() {
		if r.err = r.load(ctx); r.err != nil && !errors.Is(r.err, errNoSopsKeys) {
			r.err = &setupError{r.err}
		}
	})
	if r.err != nil {
		return nil, false, r.err
	}
	return rekey.Rekey(r.dec, name, data, f, r.opts)
}

// load reads the key generations (and any other identities given), and
// sets the recipient to move to (the newest generation's SOPS recipient)
// and those to replace (the older generations').
func (r *sopsRekeyer) load(ctx context.Context) error {
	if !r.flags.fromCluster && len(r.flags.files) == 0 {
		return errNoSopsKeys
	}
	var gens []*keys.Generation
	var ids []age.Identity
	addSecrets := func(where string, secrets []corev1.Secret) error {
		for i := range secrets {
			s := &secrets[i]
			if len(s.Data[keys.SecretKeyTLSKey]) > 0 {
				g, err := keys.FromSecret(s)
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				if g.SopsIdentity() != nil {
					gens = append(gens, g)
				}
				continue
			}
			got, err := secretIdentities(s) // a Flux sops-age Secret
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			ids = append(ids, got...)
		}
		return nil
	}
	for _, path := range r.flags.files {
		data, err := readFileLimit(path, maxKeyFile)
		if err != nil {
			return err
		}
		if !looksLikeKeyManifest(data) {
			got, err := sops.ParseIdentities(path, data)
			if err != nil {
				return withHint(err, "--age-key-file takes a key Secret manifest or an age identity file")
			}
			ids = append(ids, got...)
			continue
		}
		secrets, err := manifestSecrets(path, data)
		if err != nil {
			return withHint(err, "--age-key-file takes a key Secret manifest or an age identity file")
		}
		if err := addSecrets(path, secrets); err != nil {
			return err
		}
	}
	if v := strings.TrimSpace(r.getenv(EnvAgeKey)); v != "" {
		got, err := sops.ParseIdentities("$"+EnvAgeKey, []byte(v))
		if err != nil {
			return withHint(err, "$%s holds age identities, one per line", EnvAgeKey)
		}
		ids = append(ids, got...)
	}
	if r.flags.fromCluster {
		secrets, err := keySecretsFromCluster(ctx, r.controller)
		if err != nil {
			return err
		}
		if err := addSecrets("--from-cluster", secrets); err != nil {
			return err
		}
	}
	return r.setGenerations(gens, ids)
}

// setGenerations makes the Decryptor and the options from the generations
// and the other identities given.
func (r *sopsRekeyer) setGenerations(gens []*keys.Generation, ids []age.Identity) error {
	keys.SortNewestFirst(gens)
	var newest *keys.Generation
	for _, g := range gens {
		if g.Certificate != nil {
			newest = g
			break
		}
	}
	if newest == nil {
		return withHint(errors.New("no key generation found to re-encrypt SOPS documents to (identity files name no generation)"),
			"pass --from-cluster, or --age-key-file with the key Secrets (kubectl -n kseal-system get secret -l kseal.dev/sealing-key=active -o yaml)")
	}
	r.opts = rekey.Options{To: newest.SopsIdentity().Recipient().String(), RotateDataKey: r.flags.rotateDataKey}
	for _, g := range gens {
		ids = append(ids, g.SopsIdentity())
		if rec := g.SopsIdentity().Recipient().String(); rec != r.opts.To {
			r.opts.Replace = append(r.opts.Replace, rec)
		}
	}
	var err error
	r.dec, err = sops.New(ids, sops.Options{})
	return err
}

// setupError is a failure to load the key generations: every other SOPS
// document would fail the same way, so reencrypt stops.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// sopsOutcome sorts the error of one SOPS document: a document kseal
// leaves alone (not the cluster's, or no keys given) is a note for the
// summary rather than a failure.
func sopsOutcome(err error) (note string, failed bool) {
	switch {
	case errors.Is(err, rekey.ErrNotOurs):
		return "SOPS document not encrypted to any key generation of the cluster; left as it is", false
	case errors.Is(err, errNoSopsKeys):
		return err.Error() + " (" + hintSopsKeys + ")", false
	}
	return "", true
}

// sopsError adds what to do to the error of one SOPS document.
func sopsError(err error) error {
	// The caller names the file and document already.
	var se *sops.Error
	if errors.As(err, &se) {
		err = se.Err
	}
	var ke *sops.KeyError
	switch {
	case errors.Is(err, sops.ErrMACMismatch):
		return fmt.Errorf("%w (edit it with sops, or restore it from git; kseal re-encrypts only documents whose MAC matches)", err)
	case errors.Is(err, rekey.ErrRotateForeign):
		return fmt.Errorf("%w (run sops rotate, then kseal reencrypt without --rotate-data-key)", err)
	case errors.As(err, &ke):
		return fmt.Errorf("%w (the key generations given do not open enough of its key groups for its data key)", err)
	}
	return err
}

// whole re-encrypts a file that is one SOPS document (JSON, dotenv, or a
// YAML stream that sops encrypted as one).
func (r *reencrypter) whole(ctx context.Context, path string, data []byte, f sops.Format) ([]byte, fileResult, []string, error) {
	if f == sops.FormatDotenv && !sops.IsEncrypted(data, f) {
		return nil, fileWithout, nil, nil
	}
	out, changed, err := r.sops.rekey(ctx, path, data, f)
	if note, failed := sopsOutcome(err); err != nil && !failed {
		return nil, fileWithout, []string{note}, nil
	}
	switch {
	case err != nil:
		return nil, 0, nil, sopsError(err)
	case !changed:
		return nil, fileUnchanged, nil, nil
	}
	return out, fileChanged, nil, nil
}

// sopsStream reports whether docs are one SOPS document that sops encrypted
// as a YAML stream: each document carries the same metadata (the first one's
// counts), so two or more documents share one MAC.
func sopsStream(docs []document) bool {
	seen := map[string]bool{}
	for _, d := range docs {
		if d.sopsMAC == "" {
			continue
		}
		if seen[d.sopsMAC] {
			return true
		}
		seen[d.sopsMAC] = true
	}
	return false
}
