package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// sealOptions holds the flags of kseal seal.
type sealOptions struct {
	inFile, outFile string
	certs           []string
	scope           string
	format          string
	formatVersion   string
	raw             bool
	name, namespace string
	fromFile        string
	mergeInto       string
	allowEmptyData  bool
	fetchCert       bool
	controller      controllerFlags

	now time.Time
}

func newSealCommand(s *streams) *cobra.Command {
	o := &sealOptions{}
	cmd := &cobra.Command{
		Use:   "seal",
		Short: "Seal a Secret into a SealedSecret for one or more clusters",
		Long: `Seal reads a Secret (YAML or JSON) from stdin or --file and writes a
SealedSecret that only the cluster holding the certificate's private key can
open. With several --cert flags it writes one SealedSecret per certificate.

Format v2 (default, post-quantum) needs a kseal certificate; --format-version v1
writes a bitnami.com SealedSecret that a sealed-secrets controller accepts.

Without --cert (and without $KSEAL_CERT or $SEALED_SECRETS_CERT) it fetches the
certificate from the controller, through the API server of the kubeconfig
context or from --controller-url.`,
		Example: `  kseal seal --cert cert.pem -f secret.yaml -w sealed.yaml
  kseal seal --cert cert.pem --raw --namespace prod --name db --from-file password.txt
  kseal seal --cert cert.pem --merge-into sealed.yaml < new-items.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.fetchCert {
				return fetchCertificate(cmd.Context(), s, &o.controller, o.outFile)
			}
			o.now = time.Now()
			versionSet := cmd.Flags().Changed("format-version")
			return o.run(cmd.Context(), s, versionSet)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.inFile, "file", "f", "", "Secret to seal (default stdin)")
	f.StringVar(&o.inFile, "secret-file", "", "alias of --file")
	_ = f.MarkHidden("secret-file")
	f.StringVarP(&o.outFile, "sealed-secret-file", "w", "", "write the SealedSecret to this file, atomically (default stdout)")
	f.StringArrayVar(&o.certs, "cert", defaultCerts(), "certificate file or http(s) URL; repeat to seal for several clusters (default $KSEAL_CERT or $SEALED_SECRETS_CERT)")
	f.StringVar(&o.scope, "scope", "", "strict, namespace-wide or cluster-wide (default: the Secret's kseal.dev/scope annotation, else strict)")
	f.StringVarP(&o.format, "format", "o", "yaml", "output format: yaml or json")
	f.StringVar(&o.formatVersion, "format-version", "v2", "sealed value format: v2 (kseal, post-quantum) or v1 (sealed-secrets compatible)")
	f.BoolVar(&o.raw, "raw", false, "seal one raw value (from --from-file or stdin) and print only its ciphertext")
	f.StringVar(&o.name, "name", "", "name of the Secret (--raw; strict scope)")
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace of the Secret (--raw, or a Secret without one)")
	f.StringVar(&o.fromFile, "from-file", "", "file holding the raw value (--raw)")
	f.StringVar(&o.mergeInto, "merge-into", "", "add or replace the Secret's items in this existing SealedSecret file, atomically")
	f.BoolVar(&o.allowEmptyData, "allow-empty-data", false, "allow a Secret without data")
	f.BoolVar(&o.fetchCert, "fetch-cert", false, "print the controller's certificate and exit (as kseal cert fetch)")
	o.controller.register(cmd)
	return cmd
}

func (o *sealOptions) run(ctx context.Context, s *streams, versionSet bool) error {
	version, err := parseVersion(o.formatVersion)
	if err != nil {
		return err
	}
	if o.format != "yaml" && o.format != "json" {
		return withHint(fmt.Errorf("unknown output format %q", o.format), "use -o yaml or -o json")
	}
	var sc *scope.Scope
	if o.scope != "" {
		parsed, err := scope.Parse(o.scope)
		if err != nil {
			return withHint(err, "use --scope strict, namespace-wide or cluster-wide")
		}
		sc = &parsed
	}
	if o.raw && o.mergeInto != "" {
		return withHint(errors.New("--raw and --merge-into cannot be combined"), "--merge-into takes a Secret; --raw prints one value")
	}
	if o.mergeInto != "" && len(o.certs) > 1 {
		return withHint(errors.New("--merge-into takes one --cert"), "a SealedSecret file belongs to one cluster; merge into each file separately")
	}
	certs := make([]*keys.Certificate, 0, len(o.certs))
	if len(o.certs) == 0 {
		// No --cert: ask the controller, as kubeseal does.
		c, src, err := certificateFromController(ctx, &o.controller, o.now)
		if err != nil {
			return err
		}
		certs, o.certs = append(certs, c), []string{src}
	} else {
		for _, src := range o.certs {
			c, err := loadCertificate(ctx, src, o.now)
			if err != nil {
				return err
			}
			certs = append(certs, c)
		}
	}
	if o.raw {
		return o.runRaw(s, certs, sc, version)
	}
	input, err := readInput(s, o.inFile)
	if err != nil {
		return withHint(err, "pass a Secret manifest on stdin or with -f FILE")
	}
	secret, err := sealedsecret.DecodeSecret(input)
	if err != nil {
		return withHint(err, "kseal seal takes one v1 Secret as YAML or JSON, for example from `kubectl create secret generic NAME --from-literal=k=v --dry-run=client -o yaml`")
	}
	if o.mergeInto != "" {
		return o.runMerge(s, certs[0], secret, version, versionSet)
	}
	if err := o.applyNamespace(secret); err != nil {
		return err
	}
	var objs []any
	for i, c := range certs {
		if err := checkCertForVersion(c, version, o.certs[i]); err != nil {
			return err
		}
		ss, err := sealedsecret.Seal(secret, &c.PublicKey, sealedsecret.SealOptions{Scope: sc, Version: version, AllowEmptyData: o.allowEmptyData})
		if err != nil {
			return sealError(err)
		}
		objs = append(objs, ss)
	}
	out, err := sealedsecret.Encode(o.format, objs...)
	if err != nil {
		return err
	}
	return writeOutput(s, o.outFile, out)
}

// applyNamespace fills a missing namespace from --namespace and refuses a
// conflicting one, as kubeseal does.
func (o *sealOptions) applyNamespace(secret *corev1.Secret) error {
	if o.namespace == "" {
		return nil
	}
	if secret.Namespace == "" {
		secret.Namespace = o.namespace
		return nil
	}
	if secret.Namespace != o.namespace {
		return withHint(fmt.Errorf("namespace mismatch: the Secret is in namespace %q but --namespace is %q", secret.Namespace, o.namespace),
			"drop --namespace, or change metadata.namespace in the Secret")
	}
	return nil
}

func (o *sealOptions) runRaw(s *streams, certs []*keys.Certificate, sc *scope.Scope, version sealing.Version) error {
	effective := scope.Strict
	if sc != nil {
		effective = *sc
	}
	if effective != scope.ClusterWide && o.namespace == "" {
		return withHint(fmt.Errorf("--raw with --scope %s needs --namespace", effective), "pass --namespace NS, or use --scope cluster-wide")
	}
	if effective == scope.Strict && o.name == "" {
		return withHint(errors.New("--raw with --scope strict needs --name"), "pass --name NAME, or use --scope namespace-wide")
	}
	value, err := readInput(s, o.fromFile)
	if err != nil {
		return withHint(err, "--raw reads the value from --from-file FILE or stdin")
	}
	label := effective.Label(o.namespace, o.name)
	var lines []string
	for i, c := range certs {
		if err := checkCertForVersion(c, version, o.certs[i]); err != nil {
			return err
		}
		ct, err := c.PublicKey.Seal(version, label, value)
		if err != nil {
			return sealError(err)
		}
		lines = append(lines, base64.StdEncoding.EncodeToString(ct))
	}
	// One value prints without a newline, as kubeseal --raw does.
	out := strings.Join(lines, "\n")
	if len(lines) > 1 {
		out += "\n"
	}
	return writeOutput(s, o.outFile, []byte(out))
}

// runMerge seals the Secret's items for the object in --merge-into and
// replaces that file atomically. The object's namespace, name and scope win.
func (o *sealOptions) runMerge(s *streams, cert *keys.Certificate, secret *corev1.Secret, version sealing.Version, versionSet bool) error {
	existing, err := readFileLimit(o.mergeInto, maxInput)
	if err != nil {
		return withHint(err, "--merge-into names an existing SealedSecret file")
	}
	ss, err := sealedsecret.DecodeSealedSecret(existing)
	if err != nil {
		return withHint(fmt.Errorf("%s: %w", o.mergeInto, err), "--merge-into names an existing SealedSecret file")
	}
	sc, err := scope.FromAnnotations(ss.Annotations)
	if err != nil {
		return fmt.Errorf("%s: %w", o.mergeInto, err)
	}
	if !versionSet && ss.APIVersion == sealedsecret.BitnamiAPIVersion {
		version = sealing.V1 // a bitnami.com object stays readable by sealed-secrets
	}
	if err := checkCertForVersion(cert, version, o.certs[0]); err != nil {
		return err
	}
	items := map[string][]byte{}
	for k, v := range secret.Data {
		items[k] = v
	}
	for k, v := range secret.StringData {
		items[k] = []byte(v)
	}
	if len(items) == 0 {
		return withHint(errors.New("the Secret has no data to merge"), "give a Secret with the items to add or replace")
	}
	sealed, err := sealedsecret.SealItems(items, &cert.PublicKey, version, sc.Label(ss.Namespace, ss.Name))
	if err != nil {
		return sealError(err)
	}
	if ss.Spec.EncryptedData == nil {
		ss.Spec.EncryptedData = map[string]string{}
	}
	for k, v := range sealed {
		ss.Spec.EncryptedData[k] = v
	}
	format := "yaml"
	if strings.HasPrefix(strings.TrimSpace(string(existing)), "{") {
		format = "json"
	}
	out, err := sealedsecret.Encode(format, ss)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(o.mergeInto, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "merged %d item(s) into %s\n", len(sealed), filepath.Clean(o.mergeInto))
	return nil
}

func parseVersion(v string) (sealing.Version, error) {
	switch v {
	case "v2", "2":
		return sealing.V2, nil
	case "v1", "1":
		return sealing.V1, nil
	}
	return 0, withHint(fmt.Errorf("unknown --format-version %q", v), "use v2 (kseal) or v1 (for a sealed-secrets controller)")
}

func checkCertForVersion(c *keys.Certificate, v sealing.Version, src string) error {
	if v == sealing.V2 && c.PublicKey.Hybrid == nil {
		return withHint(fmt.Errorf("certificate %s carries no kseal post-quantum recipient, so it cannot seal format v2", src),
			"this looks like a sealed-secrets certificate: seal with --format-version v1 for a sealed-secrets controller")
	}
	return nil
}

// sealError adds a hint to the errors of sealedsecret.Seal.
func sealError(err error) error {
	var size *sealing.SizeError
	switch {
	case errors.Is(err, sealedsecret.ErrEmptyData):
		return withHint(err, "add data or stringData, or pass --allow-empty-data to seal an empty Secret")
	case errors.Is(err, sealedsecret.ErrNoNamespace):
		return withHint(err, "set metadata.namespace, pass --namespace NS, or use --scope cluster-wide")
	case errors.Is(err, sealedsecret.ErrNoName):
		return withHint(err, "set metadata.name, or use --scope namespace-wide")
	case errors.As(err, &size):
		return withHint(err, "a Kubernetes Secret holds at most 1 MiB; keep large files out of Secrets (mount them from a volume)")
	case strings.Contains(err.Error(), v1alpha1.AnnotationScope):
		return withHint(err, "set the annotation to strict, namespace-wide or cluster-wide, or pass --scope")
	}
	return err
}
