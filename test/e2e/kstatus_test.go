package e2e

import (
	"net"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// kstatusOf fetches the object from the apiserver as unstructured and
// computes its kstatus, as Flux's health checks do.
func kstatusOf(t testing.TB, kind, ns, name string) *status.Result {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Kind: kind})
	if err := env.Client.Get(ctx, clientKey(ns, name), u); err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(u)
	if err != nil {
		t.Fatalf("kstatus of %s %s/%s: %v", kind, ns, name, err)
	}
	return res
}

// wantKstatus checks that the object reads want.
func wantKstatus(t testing.TB, kind, ns, name string, want status.Status) {
	t.Helper()
	if got := kstatusOf(t, kind, ns, name); got.Status != want {
		t.Errorf("%s %s/%s: kstatus %s (%s), want %s", kind, ns, name, got.Status, got.Message, want)
	}
}

// closedEndpoint returns a loopback URL nothing listens on.
func closedEndpoint(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// TestKstatus_sealedSecret: a healthy SealedSecret reads Current; a scope
// mismatch and corrupt data read Failed, with Stalled carrying Ready's
// reason; fixing the corrupt one brings it back to Current.
func TestKstatus_sealedSecret(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "kstatus")
	other := newNamespace(t, "kstatus-other")
	const kind = "SealedSecret"
	// Controllers started by later tests watch every namespace: leave no
	// failing SealedSecret behind for them to decrypt again.
	defer func() {
		for _, k := range []client.ObjectKey{clientKey(ns, "good"), clientKey(other, "moved"), clientKey(ns, "corrupt")} {
			ss := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}
			if err := env.Client.Delete(ctx, ss); err != nil && !apierrors.IsNotFound(err) {
				t.Error(err)
			}
		}
	}()

	good := sealSecret(t, c, secret(ns, "good", map[string]string{"v": canary("ks-good")}))
	good.APIVersion = sealedsecret.APIVersion
	apply(t, good.DeepCopy())
	readyCondition(t, ns, "good", metav1.ConditionTrue)
	wantKstatus(t, kind, ns, "good", status.CurrentStatus)

	moved := sealSecret(t, c, secret(ns, "moved", map[string]string{"v": canary("ks-moved")}))
	moved.Namespace = other
	apply(t, moved)
	if cond := readyCondition(t, other, "moved", metav1.ConditionFalse); cond.Reason != v1alpha1.ReasonScopeMismatch {
		t.Fatalf("moved: Ready reason %s", cond.Reason)
	}
	wantKstatus(t, kind, other, "moved", status.FailedStatus)
	wantStalled(t, other, "moved", v1alpha1.ReasonScopeMismatch)

	corrupt := good.DeepCopy()
	corrupt.Name = "corrupt"
	for k, v := range corrupt.Spec.EncryptedData {
		corrupt.Spec.EncryptedData[k] = v[:len(v)/2]
	}
	apply(t, corrupt)
	if cond := readyCondition(t, ns, "corrupt", metav1.ConditionFalse); cond.Reason != v1alpha1.ReasonCorruptData {
		t.Fatalf("corrupt: Ready reason %s", cond.Reason)
	}
	wantKstatus(t, kind, ns, "corrupt", status.FailedStatus)
	wantStalled(t, ns, "corrupt", v1alpha1.ReasonCorruptData)

	// Sealed again for its name: Current, and Stalled is gone.
	fixed := sealSecret(t, c, secret(ns, "corrupt", map[string]string{"v": canary("ks-fixed")}))
	cur := &v1alpha1.SealedSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, "corrupt"), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.EncryptedData = fixed.Spec.EncryptedData
	if err := env.Client.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	readyCondition(t, ns, "corrupt", metav1.ConditionTrue)
	wantKstatus(t, kind, ns, "corrupt", status.CurrentStatus)
	if err := env.Client.Get(ctx, clientKey(ns, "corrupt"), cur); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{v1alpha1.ConditionStalled, v1alpha1.ConditionReconciling} {
		if c := apimeta.FindStatusCondition(cur.Status.Conditions, typ); c != nil {
			t.Errorf("fixed SealedSecret still has %s=%s", typ, c.Status)
		}
	}
}

// wantStalled checks the SealedSecret's Stalled condition: True, Ready's
// reason, the latest generation, and no Reconciling beside it.
func wantStalled(t testing.TB, ns, name, reason string) {
	t.Helper()
	ss := &v1alpha1.SealedSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, name), ss); err != nil {
		t.Fatal(err)
	}
	c := apimeta.FindStatusCondition(ss.Status.Conditions, v1alpha1.ConditionStalled)
	ready := apimeta.FindStatusCondition(ss.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason || c.Message != ready.Message || c.ObservedGeneration != ss.Generation {
		t.Errorf("%s/%s: Stalled %+v, Ready message %q", ns, name, c, ready.Message)
	}
	if apimeta.IsStatusConditionTrue(ss.Status.Conditions, v1alpha1.ConditionReconciling) {
		t.Errorf("%s/%s: Reconciling=True beside Stalled", ns, name)
	}
}

// TestKstatus_externalSecret: a synced ExternalSecret reads Current. One
// whose store is unreachable reads InProgress, not Failed: a provider
// outage is retried with backoff and heals by itself (the last good Secret
// is kept meanwhile), so a GitOps tool should wait, not report a failure.
// The store itself reads InProgress for the same reason.
func TestKstatus_externalSecret(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "kstatus-es")
	// Leave no failing object for the controllers of later tests to retry.
	defer func() {
		for _, o := range []client.Object{
			&v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unreachable"}},
			&v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "notjson"}},
			&v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "down"}},
		} {
			if err := env.Client.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
				t.Error(err)
			}
		}
	}()
	srv.CreateSecret(t, ns+"/v", `{"token":"`+canary("ks-es")+`"}`, nil)
	awsStore(t, srv, ns, "aws")
	storeReady(t, ns, "aws", metav1.ConditionTrue)
	wantKstatus(t, "SecretStore", ns, "aws", status.CurrentStatus)

	if err := env.Client.Create(ctx, externalSecret(ns, "app", "aws", time.Hour, ref("token", ns+"/v", "token"))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "app", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	wantKstatus(t, "ExternalSecret", ns, "app", status.CurrentStatus)

	down := awstest.Server{Region: srv.Region, URL: closedEndpoint(t)}
	awsStore(t, &down, ns, "down")
	storeReady(t, ns, "down", metav1.ConditionFalse)
	wantKstatus(t, "SecretStore", ns, "down", status.InProgressStatus)
	if err := env.Client.Create(ctx, externalSecret(ns, "unreachable", "down", time.Hour, ref("token", ns+"/v", "token"))); err != nil {
		t.Fatal(err)
	}
	cond := esCondition(t, ns, "unreachable", metav1.ConditionFalse, v1alpha1.ReasonProviderError)
	got := kstatusOf(t, "ExternalSecret", ns, "unreachable")
	if got.Status != status.InProgressStatus || got.Message != cond.Message {
		t.Errorf("unreachable store: kstatus %s (%s), want %s with Ready's message %q", got.Status, got.Message, status.InProgressStatus, cond.Message)
	}

	// A property of a value that is not JSON is an invalid spec: terminal,
	// so Failed.
	srv.CreateSecret(t, ns+"/plain", canary("ks-plain"), nil)
	if err := env.Client.Create(ctx, externalSecret(ns, "notjson", "aws", time.Hour, ref("x", ns+"/plain", "field"))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "notjson", metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	wantKstatus(t, "ExternalSecret", ns, "notjson", status.FailedStatus)
}
