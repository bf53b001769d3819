package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"

	"github.com/kseal-dev/kseal/crypto/keys"
)

// Defaults of the .sops.yaml creation rule kseal writes.
const (
	// DefaultSopsPathRegex matches the files kseal's docs name *.enc.yaml
	// (.yml, .json, .env).
	DefaultSopsPathRegex = `\.enc\.(yaml|yml|json|env)$`
	// SecretsEncryptedRegex encrypts the values of a Secret and keeps
	// apiVersion, kind and metadata readable for kustomize.
	SecretsEncryptedRegex = `^(data|stringData)$`
)

// maxSopsConfig bounds a .sops.yaml.
const maxSopsConfig = 1 << 20

func newSopsCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sops",
		Short: "Help SOPS users encrypt to the cluster",
	}
	cmd.AddCommand(newSopsConfigCommand(s))
	return cmd
}

type sopsConfigOptions struct {
	controller controllerFlags
	cert       string
	pathRegex  string
	update     string
}

func newSopsConfigCommand(s *streams) *cobra.Command {
	o := &sopsConfigOptions{}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print (or update in .sops.yaml) the creation rule that encrypts to the cluster's current SOPS recipient",
		Long: `Config prints the .sops.yaml creation rule for the cluster's current SOPS
recipient (the newest key generation's, from --cert or the controller):
path_regex, encrypted_regex for Secrets (^(data|stringData)$),
mac_only_encrypted, and the post-quantum age recipient.

With --update FILE it rewrites the kseal rule of an existing .sops.yaml
(the rule whose path_regex is --path-regex; added first when there is none)
atomically, and keeps every other rule. The first age recipient of the kseal
rule is the cluster's: it is replaced, and the recipients after it (team
keys) stay. After the controller renews its key, run it again, then
kseal reencrypt to move the files.`,
		Example: `  kseal sops config > .sops.yaml
  kseal sops config --cert cert.pem --update .sops.yaml
  kseal sops config --path-regex 'overlays/prod/.*\.enc\.yaml$' --update .sops.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.cert, "cert", "", "certificate file or http(s) URL (default: $KSEAL_CERT, else the controller's)")
	f.StringVar(&o.pathRegex, "path-regex", DefaultSopsPathRegex, "path_regex of the kseal rule")
	f.StringVar(&o.update, "update", "", "update the kseal rule in this .sops.yaml, atomically, instead of printing")
	o.controller.register(cmd)
	return cmd
}

func (o *sopsConfigOptions) run(ctx context.Context, s *streams) error {
	if _, err := regexp.Compile(o.pathRegex); err != nil {
		return withHint(fmt.Errorf("--path-regex: %w", err), "give a Go regular expression, as sops reads it")
	}
	recipient, err := o.recipient(ctx)
	if err != nil {
		return err
	}
	rule := sopsRule{pathRegex: o.pathRegex, recipient: recipient}
	if o.update == "" {
		out, err := updateSopsConfig(nil, rule)
		if err != nil {
			return err
		}
		_, err = s.out.Write(out)
		return err
	}
	before, err := os.Stat(o.update)
	if err != nil {
		return withHint(err, "--update takes an existing .sops.yaml; to start one: kseal sops config > .sops.yaml")
	}
	data, err := readFileLimit(o.update, maxSopsConfig)
	if err != nil {
		return err
	}
	out, err := updateSopsConfig(data, rule)
	if err != nil {
		return withHint(fmt.Errorf("%s: %w", o.update, err), "fix the file (sops reads it too), or start over with kseal sops config > .sops.yaml")
	}
	if bytes.Equal(out, data) {
		fmt.Fprintf(s.err, "sops config: %s is up to date\n", o.update)
		return nil
	}
	unchanged := func() error { return checkUnchanged(o.update, before, data) }
	if err := writeAtomic(o.update, out, 0o644, false, unchanged); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "sops config: updated the kseal rule (path_regex %s) in %s\n", o.pathRegex, o.update)
	return nil
}

// recipient returns the SOPS recipient of the certificate given, or of the
// controller's.
func (o *sopsConfigOptions) recipient(ctx context.Context) (string, error) {
	if o.cert == "" {
		if d := defaultCerts(); len(d) > 0 {
			o.cert = d[0]
		}
	}
	now := time.Now()
	var where string
	var err error
	var cert *keys.Certificate
	if o.cert != "" {
		where = o.cert
		cert, err = loadCertificate(ctx, o.cert, now)
	} else {
		cert, where, err = certificateFromController(ctx, &o.controller, now)
	}
	if err != nil {
		return "", err
	}
	r, legacy := cert.SopsRecipient()
	switch {
	case r == nil:
		return "", withHint(fmt.Errorf("certificate of %s has no age recipient", where), "it is a sealed-secrets certificate: give the kseal controller's")
	case legacy:
		return "", withHint(fmt.Errorf("certificate of %s is from a generation without its own SOPS recipient", where),
			"the controller makes a new generation at start; fetch its current certificate (kseal cert fetch)")
	}
	return r.String(), nil
}

// sopsRule is kseal's creation rule.
type sopsRule struct {
	pathRegex, recipient string
}

// errSopsConfig: a .sops.yaml kseal cannot update.
var errSopsConfig = errors.New("not a .sops.yaml kseal can update")

// updateSopsConfig returns the .sops.yaml data with kseal's rule set: the
// rule whose path_regex is rule.pathRegex gets the recipient as its first
// age recipient (others kept), the Secrets encrypted_regex and
// mac_only_encrypted; with no such rule, one is added first. Every other
// rule and top-level key stays. Empty data makes a new file.
func updateSopsConfig(data []byte, rule sopsRule) ([]byte, error) {
	if _, err := checkYAML(".sops.yaml", data, yamlLimits{bytes: maxSopsConfig, documents: 1, nodes: 1 << 16, depth: 64}, nil); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: not YAML (%s)", errSopsConfig, parseLine(err))
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: the top level is not a mapping", errSopsConfig)
	}
	rules := mappingValue(doc.Content[0], "creation_rules")
	if rules == nil {
		rules = &yaml.Node{Kind: yaml.SequenceNode}
		doc.Content[0].Content = append(doc.Content[0].Content, scalar("creation_rules"), rules)
	}
	if rules.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%w: creation_rules is not a list", errSopsConfig)
	}
	var ours *yaml.Node
	for _, r := range rules.Content {
		if r.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%w: a creation rule is not a mapping", errSopsConfig)
		}
		if p := mappingValue(r, "path_regex"); p != nil && p.Kind == yaml.ScalarNode && p.Value == rule.pathRegex {
			ours = r
			break
		}
	}
	if ours == nil {
		ours = &yaml.Node{Kind: yaml.MappingNode, HeadComment: "kseal: the cluster's SOPS recipient first (kseal sops config --update renews it)"}
		setMapping(ours, "path_regex", scalar(rule.pathRegex))
		rules.Content = append([]*yaml.Node{ours}, rules.Content...)
	}
	setMapping(ours, "encrypted_regex", scalar(SecretsEncryptedRegex))
	setMapping(ours, "mac_only_encrypted", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	recipients, err := ageRecipients(mappingValue(ours, "age"))
	if err != nil {
		return nil, err
	}
	if len(recipients) > 0 {
		recipients = recipients[1:]
	}
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range append([]string{rule.recipient}, recipients...) {
		list.Content = append(list.Content, scalar(r))
	}
	setMapping(ours, "age", list)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", errSopsConfig, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ageRecipients reads an age field as sops does: a comma-separated string
// or a list of strings.
func ageRecipients(n *yaml.Node) ([]string, error) {
	var out []string
	switch {
	case n == nil:
	case n.Kind == yaml.ScalarNode:
		for _, r := range strings.Split(n.Value, ",") {
			if r = strings.TrimSpace(r); r != "" {
				out = append(out, r)
			}
		}
	case n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%w: an age recipient of the kseal rule is not a string", errSopsConfig)
			}
			out = append(out, strings.TrimSpace(e.Value))
		}
	default:
		return nil, fmt.Errorf("%w: age of the kseal rule is neither a string nor a list", errSopsConfig)
	}
	return out, nil
}

// setMapping sets key in mapping m to v, in place when it exists.
func setMapping(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			v.LineComment = m.Content[i+1].LineComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

// parseLine gives the position of a YAML error, not the text it quotes.
func parseLine(err error) string {
	if m := lineNumber.FindString(err.Error()); m != "" {
		return "syntax error at " + m
	}
	return "syntax error"
}
