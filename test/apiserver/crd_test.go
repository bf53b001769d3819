package apiserver_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var sealedSecretGVK = schema.GroupVersionKind{Group: "kseal.dev", Version: "v1alpha1", Kind: "SealedSecret"}

const testNamespace = "default"

// newSealedSecret returns a SealedSecret named name in testNamespace. A nil
// spec leaves the field out.
func newSealedSecret(name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(sealedSecretGVK)
	u.SetNamespace(testNamespace)
	u.SetName(name)
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

func getSealedSecret(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(sealedSecretGVK)
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: testNamespace, Name: name}, got); err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return got
}

// createExpectInvalid creates obj and requires the API server to refuse it as
// Invalid (422), with a cause on wantField whose message contains wantMsg.
func createExpectInvalid(t *testing.T, obj *unstructured.Unstructured, wantField, wantMsg string) {
	t.Helper()
	err := env.Client.Create(t.Context(), obj)
	if err == nil {
		t.Cleanup(func() { _ = env.Client.Delete(t.Context(), obj) })
		t.Fatalf("create %s: accepted, want Invalid", obj.GetName())
	}
	t.Logf("rejected as expected: %v", err)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("create %s: got %v (reason %q), want an Invalid error", obj.GetName(), err, apierrors.ReasonForError(err))
	}
	if !strings.Contains(err.Error(), wantField) {
		t.Errorf("error message %q does not mention field %s", err, wantField)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		t.Fatalf("error %v carries no status details", err)
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == wantField && strings.Contains(c.Message, wantMsg) {
			return
		}
	}
	t.Errorf("no cause for field %s mentioning %q; causes: %+v", wantField, wantMsg, status.Status().Details.Causes)
}

func TestSealedSecretValidIsAcceptedAndReadsBack(t *testing.T) {
	const name = "valid"
	obj := newSealedSecret(name, map[string]any{
		"encryptedData": map[string]any{
			"password":      "QWdlQ2lwaGVydGV4dA==",
			"tls.crt":       "Q2VydA==",
			"API_KEY-2":     "S2V5",
			".dotfile_name": "RG90",
		},
		"template": map[string]any{
			"type":      "kubernetes.io/tls",
			"immutable": true,
			"metadata": map[string]any{
				"labels":      map[string]any{"app": "web"},
				"annotations": map[string]any{"team": "payments"},
			},
			"data": map[string]any{
				"url": `https://user:{{ index . "password" }}@example.com`,
			},
		},
	})
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), obj) })

	got := getSealedSecret(t, name)
	if got.GetUID() == "" || got.GetGeneration() != 1 {
		t.Errorf("uid %q generation %d, want a uid and generation 1", got.GetUID(), got.GetGeneration())
	}
	for _, tc := range []struct {
		path []string
		want string
	}{
		{[]string{"spec", "encryptedData", "password"}, "QWdlQ2lwaGVydGV4dA=="},
		{[]string{"spec", "encryptedData", "tls.crt"}, "Q2VydA=="},
		{[]string{"spec", "encryptedData", "API_KEY-2"}, "S2V5"},
		{[]string{"spec", "encryptedData", ".dotfile_name"}, "RG90"},
		{[]string{"spec", "template", "type"}, "kubernetes.io/tls"},
		{[]string{"spec", "template", "metadata", "labels", "app"}, "web"},
		{[]string{"spec", "template", "metadata", "annotations", "team"}, "payments"},
		{[]string{"spec", "template", "data", "url"}, `https://user:{{ index . "password" }}@example.com`},
	} {
		v, found, err := unstructured.NestedString(got.Object, tc.path...)
		if err != nil || !found || v != tc.want {
			t.Errorf("%s = %q (found %v, err %v), want %q", strings.Join(tc.path, "."), v, found, err, tc.want)
		}
	}
	if imm, found, err := unstructured.NestedBool(got.Object, "spec", "template", "immutable"); err != nil || !found || !imm {
		t.Errorf("spec.template.immutable = %v (found %v, err %v), want true", imm, found, err)
	}
}

func TestSealedSecretStatusIsASubresource(t *testing.T) {
	const name = "status-subresource"
	obj := newSealedSecret(name, map[string]any{
		"encryptedData": map[string]any{"password": "QQ=="},
	})
	// Status sent with the main resource is dropped.
	obj.Object["status"] = map[string]any{"observedGeneration": int64(7)}
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), obj) })

	got := getSealedSecret(t, name)
	if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "status"); found {
		t.Errorf("status set through the main resource was kept: %v", got.Object["status"])
	}

	// Written through /status, it is stored, and the generation is unchanged.
	now := time.Now().UTC().Format(time.RFC3339)
	got.Object["status"] = map[string]any{
		"observedGeneration": got.GetGeneration(),
		"conditions": []any{map[string]any{
			"type":               "Ready",
			"status":             "True",
			"reason":             "Unsealed",
			"message":            "",
			"lastTransitionTime": now,
		}},
	}
	if err := env.Client.Status().Update(t.Context(), got); err != nil {
		t.Fatalf("status update: %v", err)
	}
	after := getSealedSecret(t, name)
	if og, _, _ := unstructured.NestedInt64(after.Object, "status", "observedGeneration"); og != 1 {
		t.Errorf("status.observedGeneration = %d, want 1", og)
	}
	conds, _, _ := unstructured.NestedSlice(after.Object, "status", "conditions")
	if len(conds) != 1 {
		t.Fatalf("status.conditions = %v, want one condition", conds)
	}
	if after.GetGeneration() != 1 {
		t.Errorf("generation = %d after a status update, want 1", after.GetGeneration())
	}
}

func TestSealedSecretKeyWithSlashIsRejected(t *testing.T) {
	obj := newSealedSecret("bad-key", map[string]any{
		"encryptedData": map[string]any{
			"good":    "QQ==",
			"bad/key": "QQ==",
		},
	})
	createExpectInvalid(t, obj, "spec.encryptedData", "every key must consist of")
}

func TestSealedSecretWithoutSpecIsRejected(t *testing.T) {
	createExpectInvalid(t, newSealedSecret("no-spec", nil), "spec", "Required value")
}

func TestSealedSecretNonStringValueIsRejected(t *testing.T) {
	obj := newSealedSecret("number-value", map[string]any{
		"encryptedData": map[string]any{"password": int64(42)},
	})
	createExpectInvalid(t, obj, "spec.encryptedData.password", "must be of type string")
}
