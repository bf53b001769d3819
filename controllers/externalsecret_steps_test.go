package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// mapProvider serves values from a map; keys hold JSON when a property is
// asked for. It is a fake for the pure fetch logic only; the real providers
// are tested against Vault and the AWS emulator.
type mapProvider map[string]string

func (m mapProvider) GetSecret(_ context.Context, ref providers.Ref) ([]byte, error) {
	v, ok := m[ref.Key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref.Key, providers.ErrNotFound)
	}
	if ref.Property == "" {
		return []byte(v), nil
	}
	fields, err := providers.ExtractAll([]byte(v))
	if err != nil {
		return nil, err
	}
	f, ok := fields[ref.Property]
	if !ok {
		return nil, providers.ErrPropertyNotFound
	}
	return f, nil
}

func (m mapProvider) Find(_ context.Context, q providers.Query) (map[string][]byte, error) {
	out := map[string][]byte{}
	for k, v := range m {
		if strings.HasPrefix(k, q.Path) && (q.NameRegexp == nil || q.NameRegexp.MatchString(k)) {
			out[k] = []byte(v)
		}
	}
	return out, nil
}

func TestUpToDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	synced := func(mods ...func(*v1alpha1.ExternalSecret)) *v1alpha1.ExternalSecret {
		es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", Generation: 3, UID: "u"}}
		es.Status.SyncedResourceVersion = "3"
		es.Status.RefreshTime = metav1.NewTime(now.Add(-time.Minute))
		setReadyTrue(es, v1alpha1.ReasonSecretSynced, "ok")
		for _, m := range mods {
			m(es)
		}
		return es
	}
	intact := &corev1.Secret{Data: map[string][]byte{"a": []byte("1")}}
	intact.Annotations = map[string]string{AnnotationDataHash: dataHash(intact, nil)}
	edited := intact.DeepCopy()
	edited.Data["a"] = []byte("2")
	tests := []struct {
		name     string
		es       *v1alpha1.ExternalSecret
		secret   *corev1.Secret
		interval time.Duration
		fresh    bool
	}{
		{"synced, not due", synced(), intact, time.Hour, true},
		{"refresh due", synced(), intact, 30 * time.Second, false},
		{"spec changed", synced(func(es *v1alpha1.ExternalSecret) { es.Generation = 4 }), intact, time.Hour, false},
		{"last sync failed", synced(func(es *v1alpha1.ExternalSecret) { setFailed(es, true, v1alpha1.ReasonProviderError, "down") }), intact, time.Hour, false},
		{"Secret edited", synced(), edited, time.Hour, false},
		{"Secret deleted", synced(), nil, time.Hour, false},
		{"no periodic refresh", synced(), intact, 0, true},
		{"creationPolicy None writes no Secret", synced(func(es *v1alpha1.ExternalSecret) {
			es.Spec.Target.CreationPolicy = v1alpha1.CreationPolicyNone
		}), nil, time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, fresh := upToDate(tt.es, tt.secret, now, tt.interval); fresh != tt.fresh {
				t.Errorf("fresh = %v, want %v", fresh, tt.fresh)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err    error
		reason string
		heal   healing
	}{
		{providers.Retryable(errors.New("throttled")), v1alpha1.ReasonProviderError, healBackoff},
		{fmt.Errorf("login: %w", providers.ErrAuth), v1alpha1.ReasonProviderError, healBackoff},
		{fmt.Errorf("x: %w", providers.ErrNotFound), v1alpha1.ReasonRemoteNotFound, healLater},
		{providers.ErrPropertyNotFound, v1alpha1.ReasonRemoteNotFound, healLater},
		{providers.ErrNotJSON, v1alpha1.ReasonInvalidSpec, healTerminal},
		{providers.ErrUnsupported, v1alpha1.ReasonInvalidSpec, healTerminal},
		{errors.New("connection reset"), v1alpha1.ReasonProviderError, healBackoff},
	}
	for _, tt := range tests {
		se := asStepError(classify(tt.err), "")
		if se.reason != tt.reason || se.heal != tt.heal {
			t.Errorf("%v: reason %s heal %d, want %s %d", tt.err, se.reason, se.heal, tt.reason, tt.heal)
		}
	}
}

func TestNamespaceAllowed(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"tier": "prod"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
	).Build()
	r := &externalSecretReconciler{Client: c}
	prod := &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}
	bad := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Bogus"}}}
	tests := []struct {
		name    string
		conds   []v1alpha1.ClusterSecretStoreCondition
		ns      string
		allowed bool
		reason  string
	}{
		{"no conditions", nil, "team-b", true, ""},
		{"listed", []v1alpha1.ClusterSecretStoreCondition{{Namespaces: []string{"team-b"}}}, "team-b", true, ""},
		{"not listed", []v1alpha1.ClusterSecretStoreCondition{{Namespaces: []string{"team-a"}}}, "team-b", false, ""},
		{"selector matches", []v1alpha1.ClusterSecretStoreCondition{{NamespaceSelector: prod}}, "team-a", true, ""},
		{"selector does not match", []v1alpha1.ClusterSecretStoreCondition{{NamespaceSelector: prod}}, "team-b", false, ""},
		{"bad selector", []v1alpha1.ClusterSecretStoreCondition{{NamespaceSelector: bad}}, "team-a", false, v1alpha1.ReasonInvalidSpec},
		{"regex matches", []v1alpha1.ClusterSecretStoreCondition{{NamespaceRegexes: []string{"^x-", "^team-"}}}, "team-b", true, ""},
		{"regex does not match", []v1alpha1.ClusterSecretStoreCondition{{NamespaceRegexes: []string{"^team-a$"}}}, "team-b", false, ""},
		{"bad regex", []v1alpha1.ClusterSecretStoreCondition{{NamespaceRegexes: []string{"("}}}, "team-b", false, v1alpha1.ReasonInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := r.namespaceAllowed(t.Context(), tt.conds, tt.ns)
			if ok != tt.allowed {
				t.Errorf("allowed = %v, want %v", ok, tt.allowed)
			}
			if got := ""; err != nil {
				got = asStepError(err, "other").reason
				if got != tt.reason {
					t.Errorf("reason %s, want %s", got, tt.reason)
				}
			} else if tt.reason != "" {
				t.Errorf("no error, want %s", tt.reason)
			}
		})
	}
}

func TestFetchAll(t *testing.T) {
	p := mapProvider{"db": `{"user":"app","pass":"pw"}`, "team/x": "1", "team/y": "2"}
	es := &v1alpha1.ExternalSecret{Spec: v1alpha1.ExternalSecretSpec{
		Data: []v1alpha1.ExternalSecretData{{SecretKey: "password", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "db", Property: "pass"}}},
		DataFrom: []v1alpha1.ExternalSecretDataFromRemoteRef{
			{Extract: &v1alpha1.ExternalSecretDataRemoteRef{Key: "db"}},
			{Find: &v1alpha1.ExternalSecretFind{Path: "team/"}},
		},
	}}
	data, _, err := fetchAll(t.Context(), es, only(p))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"password": "pw", "user": "app", "pass": "pw", "team_x": "1", "team_y": "2"}
	got := map[string]string{}
	for k, v := range data {
		got[k] = string(v)
	}
	if !maps.Equal(got, want) {
		t.Errorf("data %v, want %v", got, want)
	}

	gone := &v1alpha1.ExternalSecret{Spec: v1alpha1.ExternalSecretSpec{Data: []v1alpha1.ExternalSecretData{
		{SecretKey: "a", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "missing"}},
	}}}
	if _, allGone, err := fetchAll(t.Context(), gone, only(p)); err == nil || !allGone {
		t.Errorf("every reference missing: allGone=%v err=%v", allGone, err)
	}
	some := gone.DeepCopy()
	some.Spec.Data = append(some.Spec.Data, v1alpha1.ExternalSecretData{SecretKey: "b", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "db", Property: "nope"}})
	if _, allGone, err := fetchAll(t.Context(), some, only(p)); err == nil || allGone {
		t.Errorf("one reference missing, one property missing: allGone=%v err=%v", allGone, err)
	}
}

// TestProviderCache_fingerprint: a store's provider is built once and
// rebuilt when the store's generation or a credentials Secret changes.
func TestProviderCache_fingerprint(t *testing.T) {
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "prod"}, Data: map[string][]byte{"id": []byte("a"), "key": []byte("b")}}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(creds).Build()
	builds := 0
	cache := newProviderCache(c, func(context.Context, *storeInfo) (providers.Provider, error) {
		builds++
		return mapProvider{}, nil
	})
	spec := &v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
		Service: v1alpha1.AWSServiceSecretsManager, Region: "eu-west-1",
		Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
			AccessKeyID:     v1alpha1.SecretKeySelector{Name: "creds", Key: "id"},
			SecretAccessKey: v1alpha1.SecretKeySelector{Name: "creds", Key: "key"},
		}},
	}}}
	store := &storeInfo{Kind: v1alpha1.SecretStoreKind, Namespace: "prod", Name: "aws", Spec: spec, Generation: 1}
	get := func() {
		t.Helper()
		if _, err := cache.get(t.Context(), store); err != nil {
			t.Fatal(err)
		}
	}
	get()
	get()
	if builds != 1 {
		t.Fatalf("unchanged store built %d times, want 1", builds)
	}
	store.Generation = 2
	get()
	if builds != 2 {
		t.Fatalf("store generation change: %d builds, want 2", builds)
	}
	creds.Data["key"] = []byte("rotated")
	if err := c.Update(t.Context(), creds); err != nil {
		t.Fatal(err)
	}
	get()
	if builds != 3 {
		t.Fatalf("credentials change: %d builds, want 3", builds)
	}
	if err := c.Delete(t.Context(), creds); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.get(t.Context(), store); err == nil {
		t.Error("credentials Secret gone: no error")
	}
}

// TestFetchAll_dataWinsOverDataFrom: as in External Secrets Operator, a
// data entry wins over dataFrom on the same key, and later dataFrom entries
// win over earlier ones.
func TestFetchAll_dataWinsOverDataFrom(t *testing.T) {
	p := mapProvider{"one": `{"user":"from-one","pass":"from-one"}`, "two": `{"pass":"from-two"}`, "explicit": "from-data"}
	es := &v1alpha1.ExternalSecret{Spec: v1alpha1.ExternalSecretSpec{
		Data: []v1alpha1.ExternalSecretData{{SecretKey: "user", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "explicit"}}},
		DataFrom: []v1alpha1.ExternalSecretDataFromRemoteRef{
			{Extract: &v1alpha1.ExternalSecretDataRemoteRef{Key: "one"}},
			{Extract: &v1alpha1.ExternalSecretDataRemoteRef{Key: "two"}},
		},
	}}
	data, _, err := fetchAll(t.Context(), es, only(p))
	if err != nil {
		t.Fatal(err)
	}
	if string(data["user"]) != "from-data" || string(data["pass"]) != "from-two" {
		t.Errorf("user=%s pass=%s, want from-data and from-two", data["user"], data["pass"])
	}
}

func TestCheckPolicies(t *testing.T) {
	for _, tt := range []struct {
		creation v1alpha1.CreationPolicy
		deletion v1alpha1.DeletionPolicy
		refused  bool
	}{
		{v1alpha1.CreationPolicyOwner, v1alpha1.DeletionPolicyDelete, false},
		{v1alpha1.CreationPolicyOrphan, v1alpha1.DeletionPolicyDelete, false},
		{v1alpha1.CreationPolicyMerge, v1alpha1.DeletionPolicyDelete, true},
		{v1alpha1.CreationPolicyNone, v1alpha1.DeletionPolicyDelete, true},
		{v1alpha1.CreationPolicyMerge, v1alpha1.DeletionPolicyRetain, false},
	} {
		es := &v1alpha1.ExternalSecret{Spec: v1alpha1.ExternalSecretSpec{Target: v1alpha1.ExternalSecretTarget{CreationPolicy: tt.creation, DeletionPolicy: tt.deletion}}}
		if err := checkPolicies(es); (err != nil) != tt.refused {
			t.Errorf("%s + %s: err %v, refused want %v", tt.creation, tt.deletion, err, tt.refused)
		}
	}
}
