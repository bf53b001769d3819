package scale

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// TestDeleteAll_goesOnAfterTimeouts: a deletecollection the API server
// times out on (20,000 objects on a loaded machine) is called again until
// it finishes, so an unattended run does not fail in its cleanup.
func TestDeleteAll_goesOnAfterTimeouts(t *testing.T) {
	calls := 0
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			calls++
			if calls < 3 {
				return apierrors.NewTimeoutError("the server was unable to return a response in the time allotted", 0)
			}
			return nil
		},
	}).Build()
	if err := deleteAll(c, &corev1.Secret{}, "ns"); err != nil || calls != 3 {
		t.Errorf("deleteAll: %v after %d calls, want success on the third", err, calls)
	}
	calls = -100 // always times out
	if err := deleteAll(c, &corev1.Secret{}, "ns"); !apierrors.IsTimeout(err) || calls != -100+cleanupTries {
		t.Errorf("deleteAll: %v after %d calls, want the timeout after %d", err, calls+100, cleanupTries)
	}
	calls = 0
	broken := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		DeleteAllOf: func(context.Context, client.WithWatch, client.Object, ...client.DeleteAllOfOption) error {
			if calls++; calls < 2 {
				return errors.New("stream error: stream ID 7; INTERNAL_ERROR; received from peer")
			}
			return nil
		},
	}).Build()
	if err := deleteAll(broken, &corev1.Secret{}, "ns"); err != nil || calls != 2 {
		t.Errorf("deleteAll after a broken stream: %v after %d calls, want success on the second", err, calls)
	}
	forbidden := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		DeleteAllOf: func(context.Context, client.WithWatch, client.Object, ...client.DeleteAllOfOption) error {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", nil)
		},
	}).Build()
	if err := deleteAll(forbidden, &corev1.Secret{}, "ns"); !apierrors.IsForbidden(err) {
		t.Errorf("deleteAll: %v, want the other error at once", err)
	}
}
