package cli

import (
	"bytes"
	"testing"
)

// FuzzUpdateSopsConfig feeds arbitrary .sops.yaml files to
// updateSopsConfig: it never panics, and what it writes it reads back as
// up to date.
func FuzzUpdateSopsConfig(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("creation_rules:\n  - path_regex: \\.enc\\.(yaml|yml|json|env)$\n    age: age1a,age1b\n  - path_regex: dev/\n    pgp: FP\n"))
	f.Add([]byte("# c\ncreation_rules:\n  - path_regex: x\n    age: [a, b]\nstores: {yaml: {indent: 2}}\n"))
	f.Add([]byte("creation_rules: &a [*a]\n"))
	rule := sopsRule{pathRegex: DefaultSopsPathRegex, recipient: "age1pq1recipient"}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := updateSopsConfig(data, rule)
		if err != nil {
			return
		}
		again, err := updateSopsConfig(out, rule)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not stable: %v\n%s\n---\n%s", err, out, again)
		}
	})
}

// FuzzSplitDocuments checks that kseal reencrypt's splitter never panics
// and gives its input back byte for byte.
func FuzzSplitDocuments(f *testing.F) {
	f.Add([]byte("a: 1\n---\nsops:\n  mac: m\n  version: v\n---\n"))
	f.Add([]byte("--- \nkind: SealedSecret\napiVersion: kseal.dev/v1alpha1\n---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := splitDocuments(data)
		if err != nil {
			return
		}
		if !bytes.Equal(joinDocuments(docs), data) {
			t.Fatal("split and join changed the input")
		}
		sopsStream(docs)
	})
}
