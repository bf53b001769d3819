package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/esov1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// esoPushed creates a source Secret, an ESO PushSecret pushing its key
// "value" to remote key, and what ESO's controller leaves after a push at
// refreshed: the remote secret (SecretBinary, tagged managed-by=
// external-secrets) and the status, with syncedPushSecrets.
func esoPushed(t *testing.T, srv *awstest.Server, ns, name, store, key, value string, refreshed time.Time) *esov1alpha1.PushSecret {
	t.Helper()
	src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-src", Namespace: ns}, Data: map[string][]byte{"value": []byte(value)}}
	if err := env.Client.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	data := v1alpha1.PushSecretData{Match: v1alpha1.PushSecretMatch{SecretKey: "value", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: key}}}
	ps := &esov1alpha1.PushSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.PushSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: time.Hour},
			SecretStoreRefs: []v1alpha1.PushSecretStoreRef{{Name: store, Kind: v1alpha1.SecretStoreKind}},
			Selector:        v1alpha1.PushSecretSelector{Secret: &v1alpha1.PushSecretSecret{Name: src.Name}},
			Data:            []v1alpha1.PushSecretData{data},
		},
	}
	if err := env.Client.Create(ctx, ps); err != nil {
		t.Fatal(err)
	}
	srv.CreateSecret(t, key, []byte(value), map[string]string{"managed-by": "external-secrets"})
	// The defaults ESO's CRD filled in are part of the recorded entry.
	data = ps.Spec.Data[0]
	ps.Status = esov1alpha1.PushSecretStatus{
		RefreshTime:           metav1.NewTime(refreshed),
		SyncedResourceVersion: esoVersion(ps.ObjectMeta),
		SyncedPushSecrets:     v1alpha1.SyncedPushSecretsMap{"SecretStore/" + store: {key: data}},
		Conditions: []esov1alpha1.Condition{{Type: "Ready", Status: corev1.ConditionTrue, Reason: "Synced",
			Message: "PushSecret synced successfully", LastTransitionTime: metav1.NewTime(refreshed)}},
	}
	if err := env.Client.Status().Update(ctx, ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// remoteTags reads a remote secret's tags from the emulator.
func remoteTags(t *testing.T, srv *awstest.Server, key string) map[string]string {
	t.Helper()
	out, err := srv.Admin().DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tag := range out.Tags {
		tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
	}
	return tags
}

// checkPushESOShape checks a PushSecret's status is what ESO writes after a
// push: one Ready Synced condition, the synced version of its metadata,
// the remote key recorded.
func checkPushESOShape(t *testing.T, ps *esov1alpha1.PushSecret, store, key string) {
	t.Helper()
	st := ps.Status
	if len(st.Conditions) != 1 || st.Conditions[0].Type != "Ready" || st.Conditions[0].Status != corev1.ConditionTrue || st.Conditions[0].Reason != "Synced" {
		t.Errorf("%s: conditions %+v, want one Ready=True Synced", ps.Name, st.Conditions)
	}
	if _, ok := st.SyncedPushSecrets["SecretStore/"+store][key]; !ok || st.SyncedResourceVersion != esoVersion(ps.ObjectMeta) || st.RefreshTime.IsZero() {
		t.Errorf("%s: status %+v not in ESO's synced shape", ps.Name, st)
	}
}

// TestAdoptESO_pushSecretTakeover: kseal takes over ESO's PushSecrets and
// the remote secrets ESO pushed. Those ESO pushed within their refresh
// interval are not pushed (ESO's status proves them current: no provider
// call); the due ones are read once and, unchanged, not written. Every
// PushSecret ends Ready in ESO's shape. A changed source Secret then
// changes only its remote secret, which keeps ESO's mark, and a PushSecret
// whose remote key another one pushed is refused without a write.
func TestAdoptESO_pushSecretTakeover(t *testing.T) {
	installESOCRDs(t)
	n := adoptSize(t) / 4
	srv := awstest.NewServer(t)
	ns := newNamespace(t, "adopt-eso-push")
	esoAWSStore(t, srv, ns, "aws")
	now := time.Now()
	names := make([]string, n)
	rvs := map[string]string{}
	for i := range n {
		names[i] = fmt.Sprintf("push-%04d", i)
		refreshed := now.Add(-2 * time.Hour) // due
		if i%2 == 1 {
			refreshed = now.Add(-time.Minute) // not due for an hour
		}
		ps := esoPushed(t, srv, ns, names[i], "aws", ns+"/"+names[i], fmt.Sprintf("value-%d", i), refreshed)
		rvs[names[i]] = ps.ResourceVersion
	}
	srv.ResetCalls()

	start := time.Now()
	c := startController(t, controllers.Options{
		WatchNamespaces: []string{ns},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		ESOEndpoints:    controllers.ESOEndpoints{SecretsManager: srv.URL},
	})
	defer c.stop()
	due := (n + 1) / 2
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d due PushSecrets refreshed", due), func() bool {
		var list esov1alpha1.PushSecretList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false
		}
		refreshed := 0
		for _, ps := range list.Items {
			if !ps.Status.RefreshTime.Before(&metav1.Time{Time: start.Truncate(time.Second)}) {
				refreshed++
			}
		}
		return refreshed == due
	})
	t.Logf("takeover of %d ESO PushSecrets (%d due): %s; provider calls: %d DescribeSecret, %d GetSecretValue, %d PutSecretValue, %d CreateSecret",
		n, due, time.Since(start).Round(time.Millisecond), srv.Calls("DescribeSecret"), srv.Calls("GetSecretValue"), srv.Calls("PutSecretValue"), srv.Calls("CreateSecret"))
	if w := srv.Calls("PutSecretValue") + srv.Calls("CreateSecret"); w != 0 {
		t.Errorf("the takeover pushed %d times, want 0 (every remote value was unchanged)", w)
	}
	if r := srv.Calls("GetSecretValue"); r > due {
		t.Errorf("%d remote reads for %d due PushSecrets: the ones not due must not be read", r, due)
	}
	var list esov1alpha1.PushSecretList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		ps := &list.Items[i]
		checkPushESOShape(t, ps, "aws", ns+"/"+ps.Name)
		isDue := ps.Name[len(ps.Name)-1]%2 == 0
		if !isDue && ps.ResourceVersion != rvs[ps.Name] {
			t.Errorf("%s was not due and was written", ps.Name)
		}
	}

	// One changed source Secret: pushed at once (not at the refresh), only
	// that remote secret changes, and it keeps ESO's mark.
	srv.ResetCalls()
	changed := names[1]
	src := getSecret(t, ns, changed+"-src")
	src.Data["value"] = []byte("rotated")
	if err := env.Client.Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "rotated value pushed", func() bool {
		v, _ := remoteValue(srv, ns+"/"+changed)
		return v == "rotated"
	})
	if w := srv.Calls("PutSecretValue") + srv.Calls("CreateSecret"); w != 1 {
		t.Errorf("%d pushes after one source change, want 1", w)
	}
	for i, name := range names {
		if v, _ := remoteValue(srv, ns+"/"+name); name != changed && v != fmt.Sprintf("value-%d", i) {
			t.Errorf("remote %s = %q after another PushSecret's change", name, v)
		}
	}
	if tags := remoteTags(t, srv, ns+"/"+changed); tags["managed-by"] != "external-secrets" {
		t.Errorf("pushed remote secret tags %v, want ESO's managed-by=external-secrets kept", tags)
	}

	// A new PushSecret naming a remote key that another PushSecret pushed
	// (ESO's mark, not recorded in its own status) is refused, not pushed.
	srv.ResetCalls()
	thief := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "thief-src", Namespace: ns}, Data: map[string][]byte{"value": []byte("stolen")}}
	if err := env.Client.Create(ctx, thief); err != nil {
		t.Fatal(err)
	}
	ps := &esov1alpha1.PushSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "thief", Namespace: ns},
		Spec: v1alpha1.PushSecretSpec{
			SecretStoreRefs: []v1alpha1.PushSecretStoreRef{{Name: "aws", Kind: v1alpha1.SecretStoreKind}},
			Selector:        v1alpha1.PushSecretSelector{Secret: &v1alpha1.PushSecretSecret{Name: thief.Name}},
			Data:            []v1alpha1.PushSecretData{{Match: v1alpha1.PushSecretMatch{SecretKey: "value", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: ns + "/" + names[0]}}}},
		},
	}
	if err := env.Client.Create(ctx, ps); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the PushSecret of another's remote key refused", func() bool {
		if err := env.Client.Get(ctx, clientKey(ns, ps.Name), ps); err != nil || len(ps.Status.Conditions) != 1 {
			return false
		}
		c := ps.Status.Conditions[0]
		return c.Status == corev1.ConditionFalse && c.Reason == "Errored" && strings.Contains(c.Message, v1alpha1.ReasonRemoteNotOwned)
	})
	if w := srv.Calls("PutSecretValue") + srv.Calls("CreateSecret"); w != 0 {
		t.Errorf("%d pushes for a remote key another PushSecret owns, want 0", w)
	}
	if v, _ := remoteValue(srv, ns+"/"+names[0]); v != "value-0" {
		t.Errorf("another's remote secret = %q, want it untouched", v)
	}
}
