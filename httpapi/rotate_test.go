package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"maps"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/httpapi"
	"github.com/kseal-dev/kseal/httpapi/wire"
)

// apiOpen unseals ss with only g's key and checks the values, proving that
// ss is sealed to g.
func apiOpen(t *testing.T, ss *v1alpha1.SealedSecret, g *keys.Generation) {
	t.Helper()
	res, err := sealedsecret.Unseal(ss, sealing.NewKeyring(g.DecryptionKey()), sealedsecret.UnsealOptions{})
	if err != nil {
		t.Fatalf("the rotated object does not open with %s: %v", g.Name, err)
	}
	if res.KeyName != g.Name {
		t.Errorf("opened by %q, want %q", res.KeyName, g.Name)
	}
	for k, v := range apiPlaintexts {
		if string(res.Secret.Data[k]) != v {
			t.Errorf("item %q did not survive the rotation", k)
		}
	}
}

func apiDecode(t *testing.T, body []byte) *v1alpha1.SealedSecret {
	t.Helper()
	ss, err := sealedsecret.DecodeSealedSecret(body)
	if err != nil {
		t.Fatalf("decode the response: %v\n%s", err, body)
	}
	return ss
}

// apiRotate posts body to /v1/rotate and checks the status and the rotated
// header.
func apiRotate(t *testing.T, base string, body []byte, rotated string) apiResponse {
	t.Helper()
	r := apiDo(t, base, http.MethodPost, wire.PathRotate, body)
	wantCode(t, r, http.StatusOK)
	if got := r.header.Get(wire.HeaderRotated); got != rotated {
		t.Fatalf("%s: %q, want %q", wire.HeaderRotated, got, rotated)
	}
	return r
}

func TestAPI_rotateAfterRenewal(t *testing.T) {
	old, renewed := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	before := apiSeal(t, old, sealing.V2)
	// A comment and a field order of the user's own survive the rotation.
	body := append([]byte("# database credentials\n"), apiEncode(t, "yaml", before)...)

	r := apiRotate(t, base, body, "true")
	if got := r.header.Get("Content-Type"); got != "application/yaml" {
		t.Errorf("Content-Type %q", got)
	}
	if !bytes.HasPrefix(r.body, []byte("# database credentials\n")) {
		t.Errorf("the comment was lost:\n%s", r.body)
	}
	after := apiDecode(t, r.body)
	newID, _ := renewed.Certificate.KeyID()
	for item, v := range after.Spec.EncryptedData {
		ct, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := sealing.ParseV2(ct)
		if err != nil {
			t.Fatalf("item %q is not format v2: %v", item, err)
		}
		if id != newID {
			t.Errorf("item %q sealed to key id %s, want %s", item, id, newID)
		}
	}
	apiOpen(t, after, renewed)
	after.Spec.EncryptedData, before.Spec.EncryptedData = nil, nil
	if a, b := apiEncode(t, "yaml", after), apiEncode(t, "yaml", before); !bytes.Equal(a, b) {
		t.Errorf("rotate changed more than encryptedData:\n%s\nwant\n%s", a, b)
	}

	again := apiRotate(t, base, r.body, "false")
	if !bytes.Equal(again.body, r.body) {
		t.Errorf("an up-to-date object came back changed")
	}
}

func TestAPI_rotatePartlyRenewed(t *testing.T) {
	old, renewed := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	ss := apiSeal(t, renewed, sealing.V2)
	ss.Spec.EncryptedData["user"] = apiSeal(t, old, sealing.V2).Spec.EncryptedData["user"]
	r := apiRotate(t, base, apiEncode(t, "yaml", ss), "true")
	apiOpen(t, apiDecode(t, r.body), renewed)
}

func TestAPI_rotateBitnami(t *testing.T) {
	old, renewed := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	r := apiRotate(t, base, apiEncode(t, "yaml", apiSeal(t, old, sealing.V1)), "true")
	after := apiDecode(t, r.body)
	if after.APIVersion != sealedsecret.BitnamiAPIVersion {
		t.Errorf("apiVersion %q, want %q", after.APIVersion, sealedsecret.BitnamiAPIVersion)
	}
	for item, v := range after.Spec.EncryptedData {
		ct, _ := base64.StdEncoding.DecodeString(v)
		if sealing.IsV2(ct) {
			t.Errorf("item %q became format v2; a sealed-secrets controller could not open it", item)
		}
	}
	apiOpen(t, after, renewed)
	apiRotate(t, base, r.body, "false")
}

func TestAPI_rotateKeepsScope(t *testing.T) {
	old, renewed := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	tests := []struct {
		name    string
		version sealing.Version
		mods    []func(*corev1.Secret)
		// may says where the rotated object may be moved to.
		mayRename, mayMove bool
	}{
		{name: "strict", version: sealing.V2},
		{name: "namespace-wide", version: sealing.V2, mods: []func(*corev1.Secret){withScope("namespace-wide")}, mayRename: true},
		{name: "cluster-wide", version: sealing.V2, mods: []func(*corev1.Secret){withScope("cluster-wide")}, mayRename: true, mayMove: true},
		{name: "bitnami namespace-wide", version: sealing.V1, mods: []func(*corev1.Secret){func(s *corev1.Secret) {
			s.Annotations = map[string]string{v1alpha1.AnnotationBitnamiNamespaceWide: "true"}
		}}, mayRename: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := apiSeal(t, old, tt.version, tt.mods...)
			r := apiRotate(t, base, apiEncode(t, "yaml", before), "true")
			after := apiDecode(t, r.body)
			if !maps.Equal(after.Annotations, before.Annotations) {
				t.Errorf("annotations %v, want %v", after.Annotations, before.Annotations)
			}
			apiOpen(t, after, renewed)
			kr := sealing.NewKeyring(renewed.DecryptionKey())
			renamed := after.DeepCopy()
			renamed.Name = "other"
			if _, err := sealedsecret.Unseal(renamed, kr, sealedsecret.UnsealOptions{}); (err == nil) != tt.mayRename {
				t.Errorf("renamed: unseal error %v, want success %v", err, tt.mayRename)
			}
			moved := after.DeepCopy()
			moved.Namespace = "staging"
			if _, err := sealedsecret.Unseal(moved, kr, sealedsecret.UnsealOptions{}); (err == nil) != tt.mayMove {
				t.Errorf("moved: unseal error %v, want success %v", err, tt.mayMove)
			}
		})
	}
}

func TestAPI_rotateJSON(t *testing.T) {
	old, renewed := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	r := apiRotate(t, base, apiEncode(t, "json", apiSeal(t, old, sealing.V2)), "true")
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if !bytes.HasPrefix(r.body, []byte("{")) {
		t.Errorf("a JSON request got a non-JSON response:\n%s", r.body)
	}
	apiOpen(t, apiDecode(t, r.body), renewed)
}

func TestAPI_rotateReencodes(t *testing.T) {
	// A ciphertext written twice cannot be replaced in the text: the object
	// is encoded again, keeping its other fields.
	old, renewed := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	ss := apiSeal(t, old, sealing.V2)
	ss.Spec.EncryptedData["copy"] = ss.Spec.EncryptedData["password"]
	ss.Annotations = map[string]string{"example.com/team": "a"}
	r := apiRotate(t, base, apiEncode(t, "yaml", ss), "true")
	after := apiDecode(t, r.body)
	if after.Annotations["example.com/team"] != "a" || after.Spec.Template.Metadata.Labels["app"] != "db" {
		t.Errorf("fields lost in encoding:\n%s", r.body)
	}
	if after.Spec.EncryptedData["copy"] == ss.Spec.EncryptedData["copy"] || len(after.Spec.EncryptedData) != 3 {
		t.Errorf("items not rotated:\n%s", r.body)
	}
	apiOpen(t, after, renewed)
}

func TestAPI_rotateRefused(t *testing.T) {
	old, renewed := apiGenerations(t)
	moved := apiSeal(t, old, sealing.V2)
	moved.Namespace = "staging"

	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	r := apiDo(t, base, http.MethodPost, wire.PathRotate, apiEncode(t, "yaml", moved))
	wantCode(t, r, http.StatusConflict)
	if r.header.Get(wire.HeaderReason) != v1alpha1.ReasonScopeMismatch || r.header.Get(wire.HeaderRotated) != "" {
		t.Errorf("headers %v", r.header)
	}
	if !bytes.Contains(r.body, []byte(`unseal staging/db: items "password", "user": scope mismatch`)) {
		t.Errorf("body %q", r.body)
	}

	onlyOld := apiServer(t, keys.NewSet(old), httpapi.Options{})
	r = apiDo(t, onlyOld, http.MethodPost, wire.PathRotate, apiEncode(t, "yaml", apiSeal(t, renewed, sealing.V1)))
	wantCode(t, r, http.StatusConflict)
	if r.header.Get(wire.HeaderReason) != v1alpha1.ReasonUnknownKey {
		t.Errorf("reason %q", r.header.Get(wire.HeaderReason))
	}

	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathRotate, []byte("kind: Secret\napiVersion: v1\n")), http.StatusBadRequest)
	wantCode(t, apiDo(t, base, http.MethodPut, wire.PathRotate, nil), http.StatusMethodNotAllowed)

	empty := apiServer(t, keys.NewSet(), httpapi.Options{})
	wantCode(t, apiDo(t, empty, http.MethodPost, wire.PathRotate, apiEncode(t, "yaml", apiSeal(t, old, sealing.V2))), http.StatusServiceUnavailable)
}
