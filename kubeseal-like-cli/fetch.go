package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/crypto/keys"
)

type certFetchOptions struct {
	controller controllerFlags
	outFile    string
}

func newCertFetchCommand(s *streams) *cobra.Command {
	o := &certFetchOptions{}
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Print the controller's current certificate (cert.pem)",
		Long: `Fetch gets the certificate of the controller's newest key generation, through
the API server (kubeconfig) or from --controller-url. The certificate is
public: commit it or share it with everyone who seals offline.`,
		Example: `  kseal cert fetch -w cert.pem
  kseal cert fetch --context prod --controller-namespace kseal-system`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchCertificate(cmd.Context(), s, &o.controller, o.outFile)
		},
	}
	cmd.Flags().StringVarP(&o.outFile, "output", "w", "", "write the certificate to this file, atomically (default stdout)")
	o.controller.register(cmd)
	return cmd
}

// fetchCertificate writes the controller's certificate to outFile or
// stdout, after checking that it is one.
func fetchCertificate(ctx context.Context, s *streams, f *controllerFlags, outFile string) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	data, _, err := fetchCertificatePEM(ctx, f, c, time.Time{})
	if err != nil {
		return err
	}
	return writeOutput(s, outFile, data)
}

// fetchCertificatePEM gets and parses the controller's certificate; now
// checks its validity unless zero.
func fetchCertificatePEM(ctx context.Context, f *controllerFlags, c *controllerClient, now time.Time) ([]byte, *keys.Certificate, error) {
	data, err := c.CertPEM(ctx)
	if err != nil {
		return nil, nil, f.reachError("fetch the certificate", c, err)
	}
	cert, err := keys.ParseCertificate(data, now)
	var expired *keys.ExpiredError
	switch {
	case errors.As(err, &expired):
		return nil, nil, withHint(fmt.Errorf("the certificate of %s: %w", c.where, err),
			"the controller has not renewed its key: check its logs, or pass --cert with a current certificate")
	case err != nil:
		return nil, nil, withHint(fmt.Errorf("the certificate of %s: %w", c.where, err),
			"is --controller-url (or --controller-name) the kseal controller?")
	}
	return data, cert, nil
}

// certificateFromController fetches the certificate to seal with when no
// --cert is given, as kubeseal does. It returns the certificate and a
// description of where it came from. Without a kubeconfig or
// --controller-url it reports errNoCert.
func certificateFromController(ctx context.Context, f *controllerFlags, now time.Time) (*keys.Certificate, string, error) {
	c, err := f.client()
	if errors.Is(err, errNoKubeconfig) {
		return nil, "", withHint(errNoCert, "%s; or let kseal fetch it: --kubeconfig FILE, or --controller-url URL", hintNoCert)
	}
	if err != nil {
		return nil, "", err
	}
	_, cert, err := fetchCertificatePEM(ctx, f, c, now)
	if err != nil {
		alt := "seal offline with --cert cert.pem"
		if f.url == "" {
			alt += ", or reach the controller with --controller-url URL"
		}
		var h *hintError
		if errors.As(err, &h) {
			h.hint += "; or " + alt
			return nil, "", err
		}
		return nil, "", withHint(err, "%s", alt)
	}
	return cert, c.where, nil
}
