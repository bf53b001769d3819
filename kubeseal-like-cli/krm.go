package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kseal-dev/kseal/crypto/sops/manifest"
)

// The function configurations kseal krm accepts.
const (
	// SopsGeneratorAPIVersion and SopsGeneratorKind name kseal's generator.
	SopsGeneratorAPIVersion = "kseal.dev/v1alpha1"
	SopsGeneratorKind       = "SopsGenerator"
	// ksopsAPIVersion and ksopsKind name ksops's generator, accepted with
	// its files list so that ksops users can switch by changing the
	// function's path.
	ksopsAPIVersion = "viaduct.ai/v1"
	ksopsKind       = "ksops"
)

// sopsGenerator is the functionConfig of kseal krm:
//
//	apiVersion: kseal.dev/v1alpha1
//	kind: SopsGenerator
//	metadata:
//	  name: secrets
//	  annotations:
//	    config.kubernetes.io/function: |
//	      exec:
//	        path: kseal
//	        args: [krm]
//	files: [secret.enc.yaml]
//	ageKeyFile: keys/age.txt   # optional, inside the kustomization; else $KSEAL_AGE_KEY
type sopsGenerator struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   json.RawMessage `json:"metadata"`
	// Files are SOPS-encrypted manifests, relative to the kustomization.
	Files []string `json:"files"`
	// AgeKeyFile is an age identity file or key Secret manifest, relative
	// to the kustomization and inside it, like Files.
	AgeKeyFile string `json:"ageKeyFile"`
	// SkipMACCheck is --skip-mac-check.
	SkipMACCheck bool `json:"skipMACCheck"`
}

type krmOptions struct {
	ids        identityFlags
	controller controllerFlags
}

func newKRMCommand(s *streams) *cobra.Command {
	o := &krmOptions{}
	cmd := &cobra.Command{
		Use:   "krm",
		Short: "Run as a kustomize KRM function that decrypts SOPS files (a ksops replacement)",
		Long: `Krm reads a KRM function ResourceList (config.kubernetes.io/v1) on stdin and
writes it to stdout. It decrypts every SOPS-encrypted item, and adds the
resources of the SOPS-encrypted files that its functionConfig lists:

  apiVersion: kseal.dev/v1alpha1
  kind: SopsGenerator
  metadata:
    name: secrets
    annotations:
      config.kubernetes.io/function: |
        exec:
          path: kseal
          args: [krm]
  files:
    - secret.enc.yaml

List that file under generators: in kustomization.yaml and build with
kustomize build --enable-alpha-plugins --enable-exec. Files are read relative
to the kustomization and must stay inside its directory. A ksops generator
(viaduct.ai/v1 ksops with files:) is accepted too.

Identities come from $` + EnvAgeKey + `, ageKeyFile in the generator (a path inside
the kustomization, like files), --age-key-file
or --from-cluster (in args:). On failure it writes nothing to stdout and
exits non-zero, with the reason on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s)
		},
	}
	o.ids.register(cmd)
	o.controller.register(cmd)
	return cmd
}

func (o *krmOptions) run(ctx context.Context, s *streams) error {
	input, err := readInput(s, "")
	if err != nil {
		return err
	}
	if _, err := checkYAML("the ResourceList on stdin", input, defaultYAMLLimits, nil); err != nil {
		return withHint(err, hintYAMLLimit)
	}
	rw := &kio.ByteReadWriter{Reader: bytes.NewReader(input), OmitReaderAnnotations: true, KeepReaderAnnotations: true}
	items, err := rw.Read()
	if err != nil {
		return withHint(fmt.Errorf("read the ResourceList: %s", manifest.SyntaxPosition(err)), "kseal krm is run by kustomize with a ResourceList on stdin")
	}
	if rw.WrappingKind != kio.ResourceListKind {
		return withHint(errors.New("stdin is not a ResourceList"), "kseal krm is run by kustomize (kustomize build --enable-alpha-plugins --enable-exec); to decrypt a directory, use kseal render")
	}
	gen, err := parseFunctionConfig(rw.FunctionConfig)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if gen.AgeKeyFile != "" {
		// Confined like files: a committer must not name a key the sync
		// engine holds for someone else.
		path, err := generatorPath(wd, gen.AgeKeyFile, "ageKeyFile")
		if err != nil {
			return err
		}
		o.ids.files = append(o.ids.files, path)
	}
	o.ids.skipMACCheck = o.ids.skipMACCheck || gen.SkipMACCheck
	src := &identitySource{flags: &o.ids, controller: &o.controller, getenv: os.Getenv}
	d := decrypter(ctx, src, nil)
	for i, item := range items {
		m := &renderItem{node: item, source: "ResourceList item"}
		if err := m.decrypt(d); err != nil {
			return err
		}
		items[i] = m.node
	}
	for _, file := range gen.Files {
		path, err := generatorPath(wd, file, "generator file")
		if err != nil {
			return err
		}
		ms, err := readRenderFile(ctx, path, file, src)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if err := m.decrypt(d); err != nil {
				return err
			}
			items = append(items, m.node)
		}
	}
	var out bytes.Buffer
	rw.Writer = &out
	if err := rw.Write(items); err != nil {
		return err
	}
	if out.Len() > maxOutput {
		return withHint(fmt.Errorf("the ResourceList written would be larger than %d bytes", maxOutput), "split the kustomization into smaller applications")
	}
	_, err = s.out.Write(out.Bytes())
	return err
}

// parseFunctionConfig reads a SopsGenerator (or ksops generator); without a
// functionConfig, kseal krm only decrypts the items.
func parseFunctionConfig(n *kyaml.RNode) (*sopsGenerator, error) {
	gen := &sopsGenerator{}
	if n == nil || n.IsNilOrEmpty() {
		return gen, nil
	}
	js, err := n.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("functionConfig: %w", err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	_ = json.Unmarshal(js, &tm)
	hint := fmt.Sprintf("the generator is apiVersion: %s, kind: %s, with files: (paths relative to the kustomization), and optionally ageKeyFile: and skipMACCheck:", SopsGeneratorAPIVersion, SopsGeneratorKind)
	switch {
	case tm.APIVersion == SopsGeneratorAPIVersion && tm.Kind == SopsGeneratorKind:
	case tm.APIVersion == ksopsAPIVersion && tm.Kind == ksopsKind:
		// ksops's generator: only its files list has a kseal equivalent.
		var ks struct {
			Files      []string        `json:"files"`
			SecretFrom json.RawMessage `json:"secretFrom"`
		}
		if err := json.Unmarshal(js, &ks); err != nil {
			return nil, withHint(fmt.Errorf("functionConfig (ksops): %w", err), "%s", hint)
		}
		if len(ks.SecretFrom) > 0 {
			return nil, withHint(errors.New("functionConfig (ksops): secretFrom is not supported"),
				"encrypt the Secret manifest with sops and list it under files:, or use a secretGenerator whose files are SOPS-encrypted with kseal render")
		}
		gen.Files = ks.Files
		return gen, nil
	default:
		return nil, withHint(fmt.Errorf("functionConfig is %s %s, not a %s %s", tm.APIVersion, tm.Kind, SopsGeneratorAPIVersion, SopsGeneratorKind), "%s", hint)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(gen); err != nil {
		return nil, withHint(fmt.Errorf("functionConfig %s: %s", SopsGeneratorKind, fieldProblem(err)), "%s", hint)
	}
	return gen, nil
}

// fieldProblem describes a decoding error of the functionConfig.
func fieldProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s must be %s", te.Field, te.Type)
	}
	return err.Error() // unknown field "...": the name of a field, not a value
}

// generatorPath resolves a path listed in a generator (what names the
// field, for messages): relative to the kustomization (the working
// directory kustomize runs the function in), and, after symbolic links,
// inside it, as kustomize's own loader requires.
func generatorPath(wd, file, what string) (string, error) {
	if filepath.IsAbs(file) {
		return "", withHint(fmt.Errorf("%s %s: absolute paths are not allowed", what, file), "give paths relative to the kustomization")
	}
	path := filepath.Join(wd, file)
	root, err := filepath.EvalSymlinks(wd)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(wd, path); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", withHint(fmt.Errorf("%s %s is outside the kustomization directory", what, file),
			"kustomize reads only files inside the kustomization's directory; move the file there")
	}
	if _, err := os.Stat(path); err != nil {
		return "", withHint(fmt.Errorf("%s %s: %w", what, file, err), "paths are relative to the kustomization")
	}
	if err := insideRoot(root, path); err != nil {
		return "", err
	}
	return path, nil
}
