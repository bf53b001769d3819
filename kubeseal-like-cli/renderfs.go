package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kseal-dev/kseal/crypto/sops"
)

// Limits on one kustomize build as a whole, beyond yamlLimits per file: a
// base read by many overlays counts each time it is read.
const (
	maxBuildBytes = 64 << 20
	maxBuildNodes = 1 << 22
)

// guardedFS is the file system kustomize reads through. Every file is read
// with a size limit and checked with checkYAML before kustomize parses it;
// kustomization files (and builtin plugin configurations) naming a remote
// base or file are refused unless allowRemote. It also keeps the SOPS
// documents kustomize reads, as committed, to verify them.
type guardedFS struct {
	filesys.FileSystem
	allowRemote bool
	// bytes and nodes are what the build has read so far.
	bytes, nodes int
	// err is the first refusal, reported instead of kustomize's wrapping
	// of it; the build fails when it is set, whatever kustomize made of it.
	err error
	// docs are the SOPS documents read, once each.
	docs []sopsFile
	// seen holds the MACs of docs.
	seen map[string]bool
}

// sopsFile is a SOPS document as read from disk.
type sopsFile struct {
	name   string
	data   []byte
	format sops.Format
	// mac identifies the document (sops.MACOf).
	mac string
}

// errRemote is wrapped by the refusal of a remote base or file.
var errRemote = errors.New("remote bases and files are not allowed")

// hintRemote says what to do about errRemote.
const hintRemote = "vendor the remote base into the repository, or pass --allow-remote to let kustomize fetch it (kseal then cannot bound what the remote sends)"

func (g *guardedFS) ReadFile(path string) ([]byte, error) {
	data, err := g.read(path)
	var h *hintError
	if errors.As(err, &h) && g.err == nil {
		// A refusal (every one carries a hint), not a read error that
		// kustomize may handle itself.
		g.err = err
	}
	return data, err
}

func (g *guardedFS) read(path string) ([]byte, error) {
	name := displayPath(path)
	data, err := readFileLimit(path, defaultYAMLLimits.bytes)
	if err != nil {
		var le *limitError
		if errors.As(err, &le) {
			return nil, withHint(&yamlLimitError{name: name, what: fmt.Sprintf("larger than %d bytes", le.limit)}, hintYAMLLimit)
		}
		return nil, err
	}
	if g.bytes += len(data); g.bytes > maxBuildBytes {
		return nil, withHint(fmt.Errorf("kustomize build reads more than %d bytes (at %s)", maxBuildBytes, name), "split the kustomization into smaller applications")
	}
	kustomization := slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(path))
	nodes, err := checkYAML(name, data, defaultYAMLLimits, func(doc *kyaml.Node) error {
		if g.allowRemote || (!kustomization && !isBuiltinConfig(doc)) {
			return nil
		}
		if ref := remoteReference(doc, false); ref != "" {
			return withHint(fmt.Errorf("%s: %w: %s", name, errRemote, ref), "%s", hintRemote)
		}
		return nil
	})
	if err != nil {
		var le *yamlLimitError
		if errors.As(err, &le) {
			return nil, withHint(err, hintYAMLLimit)
		}
		return nil, err
	}
	if g.nodes += nodes; g.nodes > maxBuildNodes {
		return nil, withHint(fmt.Errorf("kustomize build reads more than %d YAML nodes (at %s)", maxBuildNodes, name), "split the kustomization into smaller applications")
	}
	format := sops.FormatForPath(path)
	if mac, ok := sops.MACOf(data, format); ok && !g.seen[mac] {
		g.seen[mac] = true
		g.docs = append(g.docs, sopsFile{name: name, data: data, format: format, mac: mac})
	}
	return data, nil
}

// Open is refused: kustomize reads with ReadFile, and every read must pass
// the guard.
func (g *guardedFS) Open(path string) (filesys.File, error) {
	return nil, fmt.Errorf("%s: kseal reads files for kustomize only through its guard", displayPath(path))
}

// isBuiltinConfig reports whether doc configures one of kustomize's builtin
// generators or transformers (apiVersion: builtin), which name files too.
func isBuiltinConfig(doc *kyaml.Node) bool {
	v := mappingValue(docRoot(doc), "apiVersion")
	return v != nil && v.Kind == kyaml.ScalarNode && v.Value == "builtin"
}

func docRoot(doc *kyaml.Node) *kyaml.Node {
	if doc.Kind == kyaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return doc
}

func mappingValue(n *kyaml.Node, key string) *kyaml.Node {
	if n == nil || n.Kind != kyaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// pathFields are the fields of a kustomization, and of the builtin plugin
// configurations, whose values kustomize loads as files or bases.
var pathFields = map[string]bool{
	"resources": true, "components": true, "bases": true, "crds": true, "configurations": true,
	"generators": true, "transformers": true, "validators": true, "patchesStrategicMerge": true,
	"path": true, "paths": true, "files": true, "envs": true, "env": true,
}

// inlineConfigFields hold inline plugin configurations as YAML strings.
var inlineConfigFields = map[string]bool{"generators": true, "transformers": true, "validators": true}

// remoteReference returns the first value under a path field of n that
// kustomize would fetch from the network (or clone), or "". inPath says n
// is the value of a path field.
func remoteReference(n *kyaml.Node, inPath bool) string {
	switch n.Kind {
	case kyaml.DocumentNode, kyaml.SequenceNode:
		for _, c := range n.Content {
			if r := remoteReference(c, inPath); r != "" {
				return r
			}
		}
	case kyaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			v := n.Content[i+1]
			if inlineConfigFields[key] && v.Kind == kyaml.SequenceNode {
				for _, item := range v.Content {
					if r := inlineRemote(item); r != "" {
						return r
					}
				}
			}
			if r := remoteReference(v, pathFields[key]); r != "" {
				return r
			}
		}
	case kyaml.AliasNode:
		// checkYAML has refused self-references and bounded the expansion.
		if n.Alias != nil {
			return remoteReference(n.Alias, inPath)
		}
	case kyaml.ScalarNode:
		if inPath && isRemote(n.Value) {
			return n.Value
		}
	}
	return ""
}

// inlineRemote checks an inline plugin configuration: a YAML string in a
// generators, transformers or validators list.
func inlineRemote(item *kyaml.Node) string {
	if item.Kind != kyaml.ScalarNode || isRemote(item.Value) {
		return ""
	}
	var found string
	_, err := checkYAML("inline configuration", []byte(item.Value), defaultYAMLLimits, func(doc *kyaml.Node) error {
		if found == "" {
			found = remoteReference(doc, false)
		}
		return nil
	})
	if err != nil {
		return "an inline configuration over kseal's YAML limits"
	}
	return found
}

// gitUser is the user@ of an scp-style git URL, as kustomize detects it.
var gitUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether kustomize would treat s (a path, or a
// generator's key=path) as a URL to fetch or a git repository to clone:
// an http(s), ssh or file URL, git::, user@host:, or github.com/.
func isRemote(s string) bool {
	s = strings.TrimSpace(s)
	if _, after, ok := strings.Cut(s, "="); ok && isRemote(after) {
		return true
	}
	l := strings.ToLower(s)
	for _, p := range []string{"http://", "https://", "ssh://", "file://", "git::", "github.com/", "github.com:"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return gitUser.MatchString(s)
}
