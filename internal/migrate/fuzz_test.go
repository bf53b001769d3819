package migrate

import (
	"bytes"
	"testing"
)

// FuzzRewrite checks Rewrite on any input: no panic; the documents it did
// not convert come out byte for byte; a converted document differs only in
// its apiVersion; and a second rewrite changes nothing.
func FuzzRewrite(f *testing.F) {
	f.Add([]byte(multi))
	f.Add([]byte("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\n---\n---\napiVersion: v1\n"))
	f.Add([]byte("--- # x\r\napiVersion: 'bitnami.com/v1alpha1'\r\nkind: SealedSecret\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<16 {
			return
		}
		res := Rewrite(in)
		before, after := Split(in), Split(res.Output)
		if len(before) != len(after) {
			t.Fatalf("%d documents became %d", len(before), len(after))
		}
		changed := 0
		for i := range before {
			if !bytes.Equal(before[i].Separator, after[i].Separator) {
				t.Fatalf("separator %d changed", i)
			}
			b, a := before[i].Body, after[i].Body
			if bytes.Equal(b, a) {
				continue
			}
			changed++
			if !bytes.Contains(a, []byte(KsealAPIVersion)) || len(a)-len(KsealAPIVersion) > len(b) {
				t.Fatalf("document %d changed beyond its apiVersion", i+1)
			}
		}
		if changed != res.Converted {
			t.Fatalf("%d documents changed, %d reported", changed, res.Converted)
		}
		if again := Rewrite(res.Output); again.Changed() {
			t.Fatal("a second rewrite changed the output")
		}
	})
}
