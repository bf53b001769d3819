package sealedsecret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// canary is a value placed in inputs that must never be echoed by an error.
const canary = "hunter2-canary"

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  labels:
    app: db
type: Opaque
data:
  password: aHVudGVyMi1jYW5hcnk=
stringData:
  user: admin
`

func TestDecodeSecret(t *testing.T) {
	tests := map[string]string{
		"YAML":               secretYAML,
		"YAML with ---":      "---\n" + secretYAML,
		"YAML between ---":   "---\n" + secretYAML + "---\n",
		"YAML with comments": "# a comment\n" + secretYAML,
		"JSON":               `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"prod","labels":{"app":"db"}},"type":"Opaque","data":{"password":"aHVudGVyMi1jYW5hcnk="},"stringData":{"user":"admin"}}`,
		"JSON, indented": `
		{
		  "apiVersion": "v1", "kind": "Secret",
		  "metadata": {"name": "db", "namespace": "prod", "labels": {"app": "db"}},
		  "type": "Opaque", "data": {"password": "aHVudGVyMi1jYW5hcnk="}, "stringData": {"user": "admin"}
		}`,
		"no apiVersion": strings.Replace(secretYAML, "apiVersion: v1\n", "", 1),
		"unknown field": secretYAML + "extra: field\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := sealedsecret.DecodeSecret([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "db" || s.Namespace != "prod" || s.Labels["app"] != "db" || s.Type != "Opaque" {
				t.Errorf("metadata %+v type %q", s.ObjectMeta, s.Type)
			}
			if string(s.Data["password"]) != canary || s.StringData["user"] != "admin" {
				t.Errorf("data %v stringData %v", stringData(s.Data), s.StringData)
			}
		})
	}
}

func TestDecodeSealedSecret(t *testing.T) {
	ss := seal(t, newSecret(withLabels("app", "db")), sealedsecret.SealOptions{Version: sealing.V1})
	ssV2 := seal(t, newSecret(), sealedsecret.SealOptions{})
	yamlV1, err := sealedsecret.Encode("yaml", ss)
	if err != nil {
		t.Fatal(err)
	}
	jsonV2, err := sealedsecret.Encode("json", ssV2)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		in   []byte
		want any
	}{
		"Bitnami YAML":      {in: yamlV1, want: ss},
		"Bitnami YAML, ---": {in: append([]byte("---\n"), yamlV1...), want: ss},
		"kseal JSON":        {in: jsonV2, want: ssV2},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := sealedsecret.DecodeSealedSecret(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("decoded %+v\nwant    %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeSecret_errors(t *testing.T) {
	tests := map[string]struct {
		in   string
		want error // nil: any error
	}{
		"empty":                    {in: "", want: sealedsecret.ErrNotManifest},
		"only whitespace":          {in: "  \n\n", want: sealedsecret.ErrNotManifest},
		"only separators":          {in: "---\n---\n", want: sealedsecret.ErrNotManifest},
		"not YAML":                 {in: "kind: Secret\ndata: [" + canary + "\n", want: sealedsecret.ErrNotManifest},
		"bad indentation":          {in: "kind: Secret\n data:\n\tpassword: " + canary + "\n", want: sealedsecret.ErrNotManifest},
		"a scalar":                 {in: canary + "\n", want: sealedsecret.ErrNotManifest},
		"a list":                   {in: "- " + canary + "\n", want: sealedsecret.ErrNotManifest},
		"broken JSON":              {in: `{"kind":"Secret","data":{"password":"` + canary + `"`, want: sealedsecret.ErrNotManifest},
		"JSON with trailing junk":  {in: `{"kind":"Secret"} ` + canary, want: sealedsecret.ErrNotManifest},
		"kind is not a string":     {in: "kind: [" + canary + "]\n", want: sealedsecret.ErrNotManifest},
		"a ConfigMap":              {in: "apiVersion: v1\nkind: ConfigMap\ndata:\n  password: " + canary + "\n", want: sealedsecret.ErrWrongKind},
		"a Secret of another API":  {in: "apiVersion: example.com/v1\nkind: Secret\n", want: sealedsecret.ErrWrongKind},
		"no kind":                  {in: "data:\n  password: " + canary + "\n", want: sealedsecret.ErrWrongKind},
		"a SealedSecret":           {in: "apiVersion: kseal.dev/v1alpha1\nkind: SealedSecret\n", want: sealedsecret.ErrWrongKind},
		"two documents":            {in: secretYAML + "---\n" + secretYAML},
		"a List":                   {in: `{"apiVersion":"v1","kind":"List","items":[{"kind":"Secret","stringData":{"p":"` + canary + `"}}]}`, want: sealedsecret.ErrWrongKind},
		"data not base64":          {in: "apiVersion: v1\nkind: Secret\ndata:\n  password: " + canary + "!\n", want: sealedsecret.ErrNotManifest},
		"data not a string":        {in: "apiVersion: v1\nkind: Secret\ndata:\n  password: [" + canary + "]\n", want: sealedsecret.ErrNotManifest},
		"data a number":            {in: `{"apiVersion":"v1","kind":"Secret","data":{"pin":20240917}}`, want: sealedsecret.ErrNotManifest},
		"stringData a number":      {in: "apiVersion: v1\nkind: Secret\nstringData:\n  pin: 20240917\n", want: sealedsecret.ErrNotManifest},
		"numeric field overflows":  {in: `{"apiVersion":"v1","kind":"Secret","metadata":{"generation":20240917000000000000000000}}`, want: sealedsecret.ErrNotManifest},
		"numeric field fractional": {in: `{"apiVersion":"v1","kind":"Secret","metadata":{"generation":20240917.5}}`, want: sealedsecret.ErrNotManifest},
		"bad timestamp":            {in: "apiVersion: v1\nkind: Secret\nmetadata:\n  creationTimestamp: " + canary + "\n", want: sealedsecret.ErrNotManifest},
		"immutable not a bool":     {in: "apiVersion: v1\nkind: Secret\nimmutable: " + canary + "\n", want: sealedsecret.ErrNotManifest},
		"too large": {
			in:   "apiVersion: v1\nkind: Secret\nstringData:\n  big: " + canary + strings.Repeat("x", sealedsecret.MaxManifestSize) + "\n",
			want: sealedsecret.ErrTooLarge,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := sealedsecret.DecodeSecret([]byte(tt.in))
			if err == nil || s != nil {
				t.Fatalf("decoded %+v", s)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			assertNoLeak(t, err.Error(), canary, "20240917")
		})
	}
}

func TestDecodeSealedSecret_errors(t *testing.T) {
	tests := map[string]struct {
		in   string
		want error
	}{
		"empty":                  {in: "", want: sealedsecret.ErrNotManifest},
		"not YAML":               {in: "kind: SealedSecret\nspec: {" + canary + "\n", want: sealedsecret.ErrNotManifest},
		"a Secret":               {in: "apiVersion: v1\nkind: Secret\nstringData:\n  password: " + canary + "\n", want: sealedsecret.ErrWrongKind},
		"a ConfigMap":            {in: "apiVersion: v1\nkind: ConfigMap\ndata:\n  password: " + canary + "\n", want: sealedsecret.ErrWrongKind},
		"unknown API group":      {in: "apiVersion: example.com/v1alpha1\nkind: SealedSecret\n", want: sealedsecret.ErrWrongKind},
		"no apiVersion":          {in: "kind: SealedSecret\n", want: sealedsecret.ErrWrongKind},
		"two documents":          {in: "apiVersion: kseal.dev/v1alpha1\nkind: SealedSecret\n---\napiVersion: kseal.dev/v1alpha1\nkind: SealedSecret\n"},
		"encryptedData a list":   {in: "apiVersion: kseal.dev/v1alpha1\nkind: SealedSecret\nspec:\n  encryptedData: [" + canary + "]\n", want: sealedsecret.ErrNotManifest},
		"template data a number": {in: `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","spec":{"template":{"data":{"x":20240917}}}}`, want: sealedsecret.ErrNotManifest},
		"too large": {
			in:   "apiVersion: kseal.dev/v1alpha1\nkind: SealedSecret\nspec:\n  encryptedData:\n    x: " + canary + strings.Repeat("A", sealedsecret.MaxManifestSize) + "\n",
			want: sealedsecret.ErrTooLarge,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss, err := sealedsecret.DecodeSealedSecret([]byte(tt.in))
			if err == nil || ss != nil {
				t.Fatalf("decoded %+v", ss)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			assertNoLeak(t, err.Error(), canary, "20240917")
		})
	}
}

func TestEncode(t *testing.T) {
	ss := seal(t, newSecret(withLabels("app", "db")), sealedsecret.SealOptions{})
	s := newSecret()
	t.Run("yaml", func(t *testing.T) {
		for _, format := range []string{"yaml", ""} {
			out, err := sealedsecret.Encode(format, ss, s)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(out, []byte("creationTimestamp")) || bytes.Contains(out, []byte("status:")) {
				t.Errorf("output carries empty fields:\n%s", out)
			}
			docs := strings.Split(string(out), "---\n")
			if len(docs) != 2 || !strings.HasPrefix(docs[0], "apiVersion: kseal.dev/v1alpha1\n") {
				t.Fatalf("want two documents, got:\n%s", out)
			}
			got, err := sealedsecret.DecodeSealedSecret([]byte(docs[0]))
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got, ss) {
				t.Errorf("YAML round trip changed the object")
			}
			gotSecret, err := sealedsecret.DecodeSecret([]byte(docs[1]))
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(gotSecret, s) {
				t.Errorf("YAML round trip changed the Secret")
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		out, err := sealedsecret.Encode("json", ss, ss)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte("creationTimestamp")) {
			t.Errorf("output carries creationTimestamp:\n%s", out)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for i := range 2 {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("object %d: %v", i, err)
			}
			if m["kind"] != "SealedSecret" {
				t.Errorf("object %d: kind %v", i, m["kind"])
			}
		}
		if !bytes.HasPrefix(out, []byte("{\n  \"")) {
			t.Errorf("JSON is not indented:\n%.40s", out)
		}
	})
	t.Run("unknown format", func(t *testing.T) {
		_, err := sealedsecret.Encode("toml", ss)
		if err == nil || !strings.Contains(err.Error(), "toml") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		out, err := sealedsecret.Encode("yaml")
		if err != nil || len(out) != 0 {
			t.Errorf("got %q, %v", out, err)
		}
	})
}
