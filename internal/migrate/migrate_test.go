package migrate

import (
	"bytes"
	"strings"
	"testing"
)

const multi = `# shop secrets: keep this comment
apiVersion: v1
kind: ConfigMap
metadata: {name: plain}
---
# the sealed password
apiVersion: bitnami.com/v1alpha1   # Bitnami's group
kind: SealedSecret
metadata:
  name: db
spec:
  encryptedData:
    password: AgBy3i4OJSWK+PiTySYZZA==
--- # stores
apiVersion: "external-secrets.io/v1"
kind: SecretStore
metadata: {name: aws}
spec:
  provider:
    aws: {service: SecretsManager, region: eu-west-1}
---
apiVersion: 'external-secrets.io/v1beta1'
kind: ExternalSecret
metadata: {name: db}
spec:
  data:
  - secretKey: note
    remoteRef: {key: "apiVersion: not this one"}
`

func TestRewrite(t *testing.T) {
	res := Rewrite([]byte(multi))
	want := strings.NewReplacer(
		"apiVersion: bitnami.com/v1alpha1   #", "apiVersion: kseal.dev/v1alpha1   #",
		`apiVersion: "external-secrets.io/v1"`, `apiVersion: "kseal.dev/v1alpha1"`,
		`apiVersion: 'external-secrets.io/v1beta1'`, `apiVersion: 'kseal.dev/v1alpha1'`,
	).Replace(multi)
	if string(res.Output) != want {
		t.Errorf("output:\n%s\nwant:\n%s", res.Output, want)
	}
	if res.Converted != 3 || len(res.Problems) != 0 {
		t.Errorf("converted %d, problems %v", res.Converted, res.Problems)
	}
	again := Rewrite(res.Output)
	if again.Changed() || !bytes.Equal(again.Output, res.Output) {
		t.Error("a second rewrite changed the output")
	}
}

func TestRewrite_problems(t *testing.T) {
	tests := []struct {
		name, in  string
		converted int
		want      []string // substrings of the problems, in order
	}{
		{"nothing to do", "apiVersion: v1\nkind: Secret\n", 0, nil},
		{"unknown provider", "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nspec:\n  provider:\n    gcpsm: {projectID: p}\n", 1,
			[]string{"document 1 (ClusterSecretStore) spec.provider.gcpsm: kseal supports the aws"}},
		{"refused fields", `apiVersion: external-secrets.io/v1
kind: ExternalSecret
spec:
  syncWindows: {kind: allow}
  target: {creationPolicy: CreateOrMerge, template: {engineVersion: v1}}
  data:
  - secretKey: a
    remoteRef: {key: k, metadataPolicy: Fetch}
  dataFrom:
  - rewrite: [{merge: {}}]
  - sourceRef: {generatorRef: {kind: Password, name: p}}
`, 1, []string{"spec.dataFrom[1].sourceRef.generatorRef: generator Password",
			"spec.data[0].remoteRef.metadataPolicy", "spec.syncWindows", "spec.target.creationPolicy", "spec.target.template.engineVersion"}},
		{"vault ldap and aws session tags", "apiVersion: external-secrets.io/v1\nkind: SecretStore\nspec:\n  controller: dev\n  provider:\n    vault: {auth: {ldap: {}}}\n", 1,
			[]string{"spec.controller", "spec.provider.vault.auth.ldap: not supported by kseal: use userPass"}},
		{"push secret", "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nspec:\n  dataTo: [{}]\n", 1, []string{"spec.dataTo"}},
		{"cluster push secret", "apiVersion: external-secrets.io/v1alpha1\nkind: ClusterPushSecret\nspec:\n  pushSecretSpec:\n    template: {}\n", 1, []string{"spec.pushSecretSpec.template"}},
		{"generator kind", "apiVersion: generators.external-secrets.io/v1alpha1\nkind: Password\n", 0, []string{"has no kseal equivalent"}},
		{"flow style", "{apiVersion: external-secrets.io/v1, kind: ExternalSecret}\n", 0, []string{"apiVersion is not on a top-level line"}},
		{"not YAML", "apiVersion: external-secrets.io/v1\nkind: [\n", 0, []string{"document 1: not valid YAML"}},
		{"second document", "apiVersion: v1\nkind: Secret\n---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecretList\n", 0, []string{"document 2 (SealedSecretList)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Rewrite([]byte(tt.in))
			if res.Converted != tt.converted {
				t.Errorf("converted %d, want %d", res.Converted, tt.converted)
			}
			if !res.Changed() && string(res.Output) != tt.in {
				t.Error("output changed although nothing was converted")
			}
			if len(res.Problems) != len(tt.want) {
				t.Fatalf("problems %v, want %d", res.Problems, len(tt.want))
			}
			for i, w := range tt.want {
				if got := res.Problems[i].String(); !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

func TestSplit(t *testing.T) {
	in := "a: 1\r\n---\r\nb: |\n  ---\n  x\n--- # c\n---x\n---\t\n"
	docs := Split([]byte(in))
	var joined []byte
	for _, d := range docs {
		joined = append(append(joined, d.Separator...), d.Body...)
	}
	if string(joined) != in {
		t.Errorf("joined %q", joined)
	}
	if len(docs) != 4 || string(docs[2].Body) != "---x\n" {
		t.Errorf("%d documents: %q", len(docs), docs)
	}
}
