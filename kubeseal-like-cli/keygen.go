package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
)

// DefaultControllerNamespace is where the controller keeps its key Secrets.
const DefaultControllerNamespace = "kseal-system"

type keygenOptions struct {
	name, namespace string
	secretFile      string
	certFile        string
	format          string
	force           bool
	rsaBits         int
}

func newKeygenCommand(s *streams) *cobra.Command {
	o := &keygenOptions{}
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a new key generation: a key Secret manifest and its cert.pem",
		Long: `Keygen makes a key generation offline (bring your own key): an RSA-4096 key with
a self-signed certificate that also carries an age post-quantum recipient, and
the matching age identity. It writes the key Secret manifest (apply it to the
controller's namespace; it holds private keys, never commit it) and cert.pem
(public: share it with everyone who seals).`,
		Example: `  kseal keygen -w key-secret.yaml --cert-out cert.pem
  kubectl apply -f key-secret.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "name of the key Secret (default kseal-key-<random>)")
	f.StringVarP(&o.namespace, "namespace", "n", DefaultControllerNamespace, "namespace of the controller")
	f.StringVarP(&o.secretFile, "secret-file", "w", "", "write the key Secret manifest to this file (default stdout)")
	f.StringVar(&o.certFile, "cert-out", "cert.pem", "write the certificate to this file")
	f.StringVarP(&o.format, "format", "o", "yaml", "manifest format: yaml or json")
	f.BoolVar(&o.force, "force", false, "replace existing output files")
	f.IntVar(&o.rsaBits, "rsa-bits", keys.RSAKeyBits, "RSA key size")
	_ = f.MarkHidden("rsa-bits")
	return cmd
}

func (o *keygenOptions) run(s *streams) error {
	if o.certFile == "" {
		return withHint(errors.New("--cert-out is empty"), "name the file that receives cert.pem")
	}
	if o.rsaBits < 2048 {
		return errors.New("--rsa-bits must be at least 2048")
	}
	if !o.force {
		if err := refuseExisting(o.certFile, "--cert-out"); err != nil {
			return err
		}
		if o.secretFile != "" && o.secretFile != "-" {
			if err := refuseExisting(o.secretFile, "-w"); err != nil {
				return err
			}
		}
	}
	if o.name == "" {
		suffix := make([]byte, 4)
		if _, err := rand.Read(suffix); err != nil {
			return err
		}
		o.name = "kseal-key-" + hex.EncodeToString(suffix)
	}
	gen, err := keys.Generate(keys.GenerateOptions{Name: o.name, RSABits: o.rsaBits})
	if err != nil {
		return err
	}
	manifest, err := sealedsecret.Encode(o.format, gen.Secret(o.namespace))
	if err != nil {
		return err
	}
	// The certificate first: a manifest without its certificate is useless
	// to sealers, while a stray certificate is harmless.
	if err := writeFileAtomic(o.certFile, gen.CertificatePEM, 0o644); err != nil {
		return err
	}
	if o.secretFile == "" || o.secretFile == "-" {
		_, err = s.out.Write(manifest)
		return err
	}
	if err := writePrivateFile(o.secretFile, manifest); err != nil {
		return err
	}
	id, _ := gen.Certificate.KeyID()
	fmt.Fprintf(s.err, "wrote key Secret %s/%s to %s (private: do not commit) and %s (key id %s)\n", o.namespace, o.name, o.secretFile, o.certFile, id)
	return nil
}
