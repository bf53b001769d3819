package scale

import (
	"flag"
	"fmt"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

var flagPush = flag.Int("scale.push", 0, "PushSecrets in the PushSecret run (0 skips it): each pushes one key of its own Secret to AWS Secrets Manager")

// pushOperations are the Secrets Manager operations a push makes.
var pushOperations = []string{"DescribeSecret", "CreateSecret", "GetSecretValue", "PutSecretValue"}

// runPush creates n Secrets and n PushSecrets (one key each, to a remote
// secret of its own) on one AWS store, then measures the controller's cold
// start until every PushSecret is Ready (every value pushed, the remote
// secrets created), and a restart with nothing changed.
func (h *harness) runPush(t *testing.T, srv *awstest.Server, n int) {
	t.Helper()
	ns := h.namespace(t, fmt.Sprintf("push-%d", n))
	defer func() {
		_ = h.env.Client.DeleteAllOf(ctx, &v1alpha1.PushSecret{}, client.InNamespace(ns))
		h.cleanup(t, ns)
	}()
	if err := h.createPush(srv, ns, n); err != nil {
		t.Fatal(err)
	}
	for _, run := range []string{"first push", "restart, nothing changed"} {
		srv.ResetCalls()
		ph, err := h.coldStart(t, fmt.Sprintf("push-%d", n), trackSpec{ns, &v1alpha1.PushSecret{}, n, pushReady})
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]int{}
		for _, op := range pushOperations {
			calls[op] = srv.Calls(op)
		}
		t.Logf("PushSecrets N=%d, %s: %s; provider calls %d %v", n, run, ph, srv.TotalCalls(), calls)
	}
	for _, i := range []int{0, n - 1} {
		got, _ := srv.Admin().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(pushRemote(ns, i))})
		if got == nil || string(got.SecretBinary) != remoteValue(i) {
			t.Errorf("remote secret %s does not hold the pushed value", pushRemote(ns, i))
		}
	}
}

// createPush makes, in ns, a credentials Secret, a SecretStore pointing at
// srv, n source Secrets and n PushSecrets.
func (h *harness) createPush(srv *awstest.Server, ns string, n int) error {
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-creds", Namespace: ns},
		StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey},
	}
	store := &v1alpha1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: "aws", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: creds.Name, Key: "id"},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: creds.Name, Key: "key"},
			}},
		}}},
	}
	for _, obj := range []client.Object{creds, store} {
		if err := h.env.Client.Create(ctx, obj); err != nil {
			return err
		}
	}
	return parallel(n, createWorkers, func(i int) error {
		src := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: externalName(i), Namespace: ns},
			Data:       map[string][]byte{"value": []byte(remoteValue(i))},
		}
		if err := h.env.Client.Create(ctx, src); err != nil {
			return err
		}
		ps := &v1alpha1.PushSecret{
			ObjectMeta: metav1.ObjectMeta{Name: externalName(i), Namespace: ns},
			Spec: v1alpha1.PushSecretSpec{
				RefreshInterval: &metav1.Duration{Duration: time.Hour},
				SecretStoreRefs: []v1alpha1.PushSecretStoreRef{{Name: store.Name, Kind: v1alpha1.SecretStoreKind}},
				Selector:        v1alpha1.PushSecretSelector{Secret: &v1alpha1.PushSecretSecret{Name: src.Name}},
				Data: []v1alpha1.PushSecretData{{Match: v1alpha1.PushSecretMatch{
					SecretKey: "value", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: pushRemote(ns, i)},
				}}},
			},
		}
		return h.env.Client.Create(ctx, ps)
	})
}

func pushRemote(ns string, i int) string { return fmt.Sprintf("push/%s/app-%05d", ns, i) }

func pushReady(o client.Object) (bool, string) {
	ps, ok := o.(*v1alpha1.PushSecret)
	if !ok {
		return false, "not a PushSecret"
	}
	return conditionReady(ps.Status.Conditions, ps.Generation)
}
