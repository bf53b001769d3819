package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/crypto/keys"
)

// certEnvVars name the environment variables that give a default --cert,
// kseal's first, then kubeseal's.
var certEnvVars = []string{"KSEAL_CERT", "SEALED_SECRETS_CERT"}

// defaultCerts returns the --cert default from the environment.
func defaultCerts() []string {
	for _, name := range certEnvVars {
		if v := os.Getenv(name); v != "" {
			return []string{v}
		}
	}
	return nil
}

var errNoCert = errors.New("no certificate: kseal seals offline with the cluster's certificate, given by --cert FILE or URL")

const hintNoCert = "get cert.pem from the controller (GET /v1/cert.pem on the kseal-controller service, port 8080) or from tls.crt of the active key Secret, then pass --cert cert.pem (or set KSEAL_CERT)"

// loadCertificate reads and checks one certificate for sealing.
func loadCertificate(ctx context.Context, src string, now time.Time) (*keys.Certificate, error) {
	data, err := readCertificateSource(ctx, src)
	if err != nil {
		return nil, withHint(fmt.Errorf("certificate %s: %w", src, err), "check the path or URL given to --cert")
	}
	cert, err := keys.ParseCertificate(data, now)
	var expired *keys.ExpiredError
	switch {
	case errors.As(err, &expired):
		return nil, withHint(fmt.Errorf("certificate %s: %w", src, err),
			"the controller renews its key; fetch its current certificate (GET /v1/cert.pem) and seal again")
	case err != nil && strings.Contains(err.Error(), "not RSA"):
		return nil, withHint(fmt.Errorf("certificate %s: %w", src, err),
			"kseal and sealed-secrets certificates hold an RSA key: check that --cert names the sealing certificate, not a TLS certificate of another service")
	case err != nil:
		return nil, withHint(fmt.Errorf("certificate %s: %w", src, err), "--cert takes a PEM certificate (cert.pem)")
	}
	return cert, nil
}

func newCertCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Work with sealing certificates",
	}
	cmd.AddCommand(newCertInspectCommand(s), newCertFetchCommand(s))
	return cmd
}

type certInspectOptions struct {
	cert string
}

func newCertInspectCommand(s *streams) *cobra.Command {
	o := &certInspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect [FILE|URL]",
		Short: "Print a certificate's fingerprint, validity, RSA key and age recipients",
		Long: `Print what a sealer needs to know about a certificate: its SHA-256
fingerprint, validity, RSA key size (format v1), the age post-quantum
recipient kseal seal uses (format v2), and the SOPS recipient: the one to put
in .sops.yaml for documents the cluster decrypts.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.cert = args[0]
			}
			return o.run(cmd.Context(), s)
		},
	}
	cmd.Flags().StringVar(&o.cert, "cert", "", "certificate file or http(s) URL (default: $KSEAL_CERT or $SEALED_SECRETS_CERT)")
	return cmd
}

func (o *certInspectOptions) run(ctx context.Context, s *streams) error {
	if o.cert == "" {
		if d := defaultCerts(); len(d) > 0 {
			o.cert = d[0]
		} else {
			return withHint(errNoCert, hintNoCert)
		}
	}
	// Inspect also shows expired certificates, so parse without a clock.
	cert, err := loadCertificate(ctx, o.cert, time.Time{})
	if err != nil {
		return err
	}
	c := cert.X509
	status := "valid"
	now := time.Now()
	if now.After(c.NotAfter) {
		status = "EXPIRED (kseal seal refuses it)"
	} else if now.Before(c.NotBefore) {
		status = "not yet valid"
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "subject:\t%s\n", c.Subject)
	fmt.Fprintf(tw, "fingerprint:\tsha256:%s\n", cert.Fingerprint())
	fmt.Fprintf(tw, "not before:\t%s\n", c.NotBefore.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "not after:\t%s\n", c.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "status:\t%s\n", status)
	fmt.Fprintf(tw, "rsa key:\tRSA-%d (format v1, sealed-secrets compatible)\n", cert.PublicKey.RSA.N.BitLen())
	if id, ok := cert.KeyID(); ok {
		fmt.Fprintf(tw, "v2 recipient:\t%s\n", cert.PublicKey.Hybrid)
		fmt.Fprintf(tw, "key id:\t%s (format v2, post-quantum)\n", id)
	} else {
		fmt.Fprintf(tw, "v2 recipient:\tnone (a sealed-secrets certificate: seal with --format-version v1)\n")
	}
	switch r, legacy := cert.SopsRecipient(); {
	case r == nil:
		fmt.Fprintf(tw, "sops recipient:\tnone (the cluster decrypts no SOPS documents with this key)\n")
	case legacy:
		fmt.Fprintf(tw, "sops recipient:\t%s\n", r)
		fmt.Fprintf(tw, "\t(legacy: shared with format v2; a newer kseal controller makes a generation with its own SOPS recipient; fetch its certificate)\n")
	default:
		fmt.Fprintf(tw, "sops recipient:\t%s (for .sops.yaml)\n", r)
	}
	return tw.Flush()
}
