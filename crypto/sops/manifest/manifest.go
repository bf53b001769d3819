// Package manifest decrypts SOPS-encrypted Kubernetes resources, as a GitOps
// pre-apply step sees them: after kustomize or inside a KRM function's
// ResourceList.
//
// Use a Decrypter: Decrypter.Decrypt handles, in place,
//
//   - a whole resource encrypted with sops --encrypt (it carries a top-level
//     sops field, dropped once decrypted);
//   - Secret data and stringData values that are SOPS-encrypted files, as
//     kustomize's secretGenerator files: entries put them there, each
//     written in the format its key's extension names (as Flux does);
//   - a Secret that secretGenerator envs: made from a SOPS-encrypted dotenv
//     file, whose data holds the file's lines, SOPS metadata included.
//
// Kustomize re-serializes every resource with sorted keys, which changes a
// SOPS document's MAC. Callers that checked the MAC on the file as committed
// (Decryptor.Verify) list its stored MAC (sops.MACOf) in
// Decrypter.Verified; those documents are then decrypted without a second,
// failing, MAC check.
package manifest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kseal-dev/kseal/crypto/sops"
)

// Decrypter decrypts resources. It is safe for concurrent use on distinct
// resources when its functions are.
type Decrypter struct {
	// Keys returns the Decryptor to use. It is called only when a resource
	// holds SOPS data, so identities may be loaded lazily.
	Keys func() (*sops.Decryptor, error)
	// VerifiedKeys returns a Decryptor without the MAC check, for the
	// documents in Verified; when nil, Keys serves them too.
	VerifiedKeys func() (*sops.Decryptor, error)
	// Verified holds the stored MACs (sops.MACOf) of documents whose file
	// was verified as committed.
	Verified map[string]bool
}

// Decrypt decrypts node in place and reports whether anything was
// decrypted. name names the resource in errors, which wrap sops errors
// (*sops.Error) and never contain decrypted values.
func (d *Decrypter) Decrypt(node *kyaml.RNode, name string) (bool, error) {
	decrypted := false
	if HasMetadata(node) {
		if err := d.decryptWhole(node, name); err != nil {
			return false, err
		}
		decrypted = true
	}
	if IsSecret(node) {
		ok, err := d.decryptSecretValues(node, name)
		if err != nil {
			return false, err
		}
		decrypted = decrypted || ok
	}
	return decrypted, nil
}

// keys returns the Decryptor for a document whose stored MAC is mac.
func (d *Decrypter) keys(mac, name string) (*sops.Decryptor, error) {
	get := d.Keys
	if d.VerifiedKeys != nil && mac != "" && d.Verified[mac] {
		get = d.VerifiedKeys
	}
	dec, err := get()
	if err != nil {
		return nil, fmt.Errorf("%s is SOPS-encrypted: %w", name, err)
	}
	return dec, nil
}

// HasMetadata reports whether a resource carries SOPS metadata: a top-level
// sops mapping with mac and version.
func HasMetadata(n *kyaml.RNode) bool {
	f := n.Field("sops")
	if f == nil || f.Value.YNode().Kind != kyaml.MappingNode {
		return false
	}
	return f.Value.Field("mac") != nil && f.Value.Field("version") != nil
}

// MAC returns the stored MAC of a resource with SOPS metadata (as
// sops.MACOf does for its file), or "".
func MAC(n *kyaml.RNode) string {
	f := n.Field("sops")
	if f == nil {
		return ""
	}
	mac := f.Value.Field("mac")
	if mac == nil || mac.Value.YNode().Kind != kyaml.ScalarNode {
		return ""
	}
	return mac.Value.YNode().Value
}

// IsSecret reports whether n is a v1 Secret.
func IsSecret(n *kyaml.RNode) bool {
	return n.GetKind() == "Secret" && n.GetApiVersion() == "v1"
}

func (d *Decrypter) decryptWhole(node *kyaml.RNode, name string) error {
	saved := takeFunctionAnnotations(node)
	text, err := node.String()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dec, err := d.keys(MAC(node), name)
	if err != nil {
		return err
	}
	// Written as JSON, which the SOPS library emits faster than YAML, and
	// turned back into YAML by Parse.
	plain, err := dec.DecryptTo(name, []byte(text), sops.FormatYAML, sops.FormatJSON)
	if err != nil {
		return err
	}
	nodes, err := Parse(plain)
	if err != nil || len(nodes) != 1 {
		return fmt.Errorf("%s: the decrypted document is not one Kubernetes object", name)
	}
	restoreAnnotations(nodes[0], saved)
	node.SetYNode(nodes[0].YNode())
	return nil
}

// functionAnnotationPrefixes are annotations that kustomize adds to the
// items it passes to a KRM function. They are not in the encrypted
// document, so they are set aside while it is decrypted.
var functionAnnotationPrefixes = []string{"config.kubernetes.io/", "internal.config.kubernetes.io/", "config.k8s.io/"}

func takeFunctionAnnotations(n *kyaml.RNode) map[string]string {
	all := n.GetAnnotations()
	saved := map[string]string{}
	for k, v := range all {
		for _, p := range functionAnnotationPrefixes {
			if strings.HasPrefix(k, p) {
				saved[k] = v
				delete(all, k)
			}
		}
	}
	if len(saved) == 0 {
		return nil
	}
	if len(all) == 0 {
		if md := n.Field("metadata"); md != nil {
			_ = md.Value.PipeE(kyaml.Clear("annotations"))
		}
	} else {
		_ = n.SetAnnotations(all)
	}
	return saved
}

func restoreAnnotations(n *kyaml.RNode, saved map[string]string) {
	if len(saved) == 0 {
		return
	}
	all := n.GetAnnotations()
	for k, v := range saved {
		all[k] = v
	}
	_ = n.SetAnnotations(all)
}

// decryptSecretValues decrypts the data of a secretGenerator envs: Secret,
// then the data and stringData values that are SOPS documents.
func (d *Decrypter) decryptSecretValues(node *kyaml.RNode, name string) (bool, error) {
	decrypted, err := d.decryptEnvData(node, name)
	if err != nil || decrypted {
		return decrypted, err
	}
	for _, field := range []string{"data", "stringData"} {
		f := node.Field(field)
		if f == nil || f.Value.YNode().Kind != kyaml.MappingNode {
			continue
		}
		err := f.Value.VisitFields(func(item *kyaml.MapNode) error {
			ok, err := d.decryptValue(item, field, name)
			decrypted = decrypted || ok
			return err
		})
		if err != nil {
			return false, err
		}
	}
	return decrypted, nil
}

// decryptValue decrypts one data or stringData value if it is a SOPS
// document.
func (d *Decrypter) decryptValue(item *kyaml.MapNode, field, name string) (bool, error) {
	v := item.Value.YNode()
	if v.Kind != kyaml.ScalarNode {
		return false, nil
	}
	raw := []byte(v.Value)
	if field == "data" {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(v.Value); err != nil {
			return false, nil // not base64: the API server will say so
		}
	}
	in, ok := sops.DetectFormat(raw)
	if !ok {
		return false, nil
	}
	key := item.Key.YNode().Value
	name = fmt.Sprintf("%s %s.%s", name, field, key)
	mac, _ := sops.MACOf(raw, in)
	dec, err := d.keys(mac, name)
	if err != nil {
		return false, err
	}
	plain, err := dec.DecryptTo(name, raw, in, ValueFormat(key, in, raw))
	if err != nil {
		return false, err
	}
	if field == "data" {
		v.Value = base64.StdEncoding.EncodeToString(plain)
	} else {
		v.Value = string(plain)
	}
	v.Style, v.Tag = 0, kyaml.NodeTagString
	return true, nil
}

// ValueFormat chooses the format of a decrypted Secret value from its key,
// as Flux does: .yaml, .json, .env and .ini keys get that format; other
// keys get the original bytes of a file sops encrypted as binary, else the
// document in the format it was stored in.
func ValueFormat(key string, stored sops.Format, raw []byte) sops.Format {
	if f := sops.FormatForPath(key); f != sops.FormatBinary {
		return f
	}
	if stored == sops.FormatJSON && sops.IsBinaryEnvelope(raw) {
		return sops.FormatBinary
	}
	return stored
}

// Parse splits a YAML or JSON stream into resources, printing JSON
// documents in YAML's block style. Errors give a position, never content:
// the input may be decrypted.
func Parse(data []byte) ([]*kyaml.RNode, error) {
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true}).Read()
	if err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON manifests (%s)", SyntaxPosition(err))
	}
	out := nodes[:0]
	for _, n := range nodes {
		if n.IsNilOrEmpty() {
			continue
		}
		if n.YNode().Kind != kyaml.MappingNode {
			return nil, errors.New("a document is not a mapping (a Kubernetes object)")
		}
		if n.YNode().Style&kyaml.FlowStyle != 0 {
			blockStyle(n.YNode())
		}
		out = append(out, n)
	}
	return out, nil
}

// blockStyle turns JSON's flow style and quoted strings into YAML's block
// style and plain strings; the encoder still quotes a string that would read
// as another type.
func blockStyle(n *kyaml.Node) {
	n.Style &^= kyaml.FlowStyle
	if n.Kind == kyaml.ScalarNode && n.Tag == kyaml.NodeTagString {
		n.Style &^= kyaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

var linePosition = regexp.MustCompile(`line \d+`)

// SyntaxPosition describes a YAML parser error by its line only.
func SyntaxPosition(err error) string {
	if m := linePosition.FindString(err.Error()); m != "" {
		return "syntax error at " + m
	}
	return "syntax error"
}
