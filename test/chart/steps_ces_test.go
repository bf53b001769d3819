package chart

import (
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// stepClusterExternalSecret: a ClusterExternalSecret writes its
// ExternalSecret (owned, with blockOwnerDeletion) into the namespace it
// selects and reports it, and deleting it deletes the ExternalSecret.
func stepClusterExternalSecret(s *session) error {
	ns, err := newNamespace("ces", nil)
	if err != nil {
		return err
	}
	ces := &v1alpha1.ClusterExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.ClusterExternalSecretSpec{
			ExternalSecretName: "app",
			Namespaces:         []string{ns},
			ExternalSecretSpec: v1alpha1.ExternalSecretSpec{
				SecretStoreRef: v1alpha1.SecretStoreRef{Name: "none"},
				Data:           []v1alpha1.ExternalSecretData{{SecretKey: "k", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "k"}}},
			},
		}}
	if err := env.Client.Create(ctx, ces); err != nil {
		return err
	}
	if err := poll(s.timeout, "ClusterExternalSecret provisioned", func() (bool, error) {
		got := &v1alpha1.ClusterExternalSecret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, got); err != nil {
			return false, err
		}
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &v1alpha1.ExternalSecret{})
		return err == nil && slices.Equal(got.Status.ProvisionedNamespaces, []string{ns}), err
	}); err != nil {
		return err
	}
	if err := env.Client.Delete(ctx, ces); err != nil {
		return err
	}
	return poll(s.timeout, "ExternalSecret deleted with its ClusterExternalSecret", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &v1alpha1.ExternalSecret{})
		return apierrors.IsNotFound(err), err
	})
}
