package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/crypto/sealedsecret"
)

type validateOptions struct {
	controller controllerFlags
}

func newValidateCommand(s *streams) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate [FILE...]",
		Short: "Ask the controller whether it can unseal SealedSecrets",
		Long: `Validate sends every SealedSecret in the given files (or stdin) to the
controller, which tries to unseal it with its keys and answers whether it can,
and if not why: sealed for another cluster (unknown key), for another namespace,
name or scope (scope mismatch), or a damaged value. No value leaves the
controller. It prints one line per SealedSecret and exits 1 if any is invalid.`,
		Example: `  kseal validate sealed.yaml
  kustomize build overlays/prod | kseal validate --context prod`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	o.controller.register(cmd)
	return cmd
}

func (o *validateOptions) run(ctx context.Context, s *streams, paths []string) error {
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	c, err := o.controller.client()
	if err != nil {
		return err
	}
	var total, invalid int
	for _, path := range paths {
		name := path
		if path == "-" {
			name = "stdin"
		}
		data, err := readInput(s, path)
		if err != nil {
			return withHint(err, "kseal validate takes files of SealedSecrets, or reads stdin")
		}
		docs, err := splitDocuments(data)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, d := range docs {
			if !d.sealed {
				continue
			}
			total++
			reason, err := validateDocument(ctx, c, d)
			if err != nil {
				return o.controller.reachError("validate "+name, c, err)
			}
			if reason == "" {
				fmt.Fprintf(s.out, "ok: %s: %s\n", name, objectLabel(d))
				continue
			}
			invalid++
			fmt.Fprintf(s.out, "invalid: %s: %s: %s\n", name, objectLabel(d), reason)
		}
	}
	switch {
	case total == 0:
		return withHint(errors.New("no SealedSecret in the input"), "give files holding kseal.dev or bitnami.com SealedSecrets")
	case invalid > 0:
		return withHint(fmt.Errorf("%d of %d SealedSecret(s) cannot be unsealed by %s", invalid, total, c.where),
			"seal them again (kseal seal fetches the certificate), or move them back where they were sealed for")
	}
	return nil
}

// validateDocument returns why the controller cannot unseal the document,
// or "" when it can. An error means the controller could not answer.
func validateDocument(ctx context.Context, c *controllerClient, d document) (string, error) {
	ss, err := sealedsecret.DecodeSealedSecret(d.body)
	if err != nil {
		return err.Error(), nil
	}
	err = c.Verify(ctx, d.body)
	var ce *controllerError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &ce) && (ce.Status == http.StatusConflict || ce.Status == http.StatusBadRequest || ce.Status == http.StatusRequestEntityTooLarge):
		// The controller says "unseal ns/name: ..."; the name is printed
		// already.
		msg := strings.TrimPrefix(ce.Message, "unseal "+ss.Namespace+"/"+ss.Name+": ")
		return msg, nil
	}
	return "", err
}

func objectLabel(d document) string {
	if d.namespace == "" {
		return d.name
	}
	return d.namespace + "/" + d.name
}
