package controllers

import (
	"context"
	"errors"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// storeRevalidateInterval is how often a store's credentials are checked.
const storeRevalidateInterval = 10 * time.Minute

// secretStoreReconciler validates the credentials of SecretStores or
// ClusterSecretStores (one reconciler per kind) and reports Ready.
type secretStoreReconciler struct {
	client.Client
	// kind is SecretStore or ClusterSecretStore.
	kind string
	// providers is shared with the ExternalSecret reconciler, so a store's
	// client is built once.
	providers *providerCache
	// credentials learns the data hashes of the store's credentials
	// Secrets; nil when not set up.
	credentials *credentialWatch
}

// SetupWithManager registers the reconciler for r.kind.
func (r *secretStoreReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(map[string]string{v1alpha1.SecretStoreKind: "secretstore", v1alpha1.ClusterSecretStoreKind: "clustersecretstore"}[r.kind]).
		For(r.newObject()).
		WithOptions(controllerOptions(2)).
		Complete(r)
}

func (r *secretStoreReconciler) newObject() object {
	if r.kind == v1alpha1.ClusterSecretStoreKind {
		return &v1alpha1.ClusterSecretStore{}
	}
	return &v1alpha1.SecretStore{}
}

// Reconcile builds (or reuses) the store's provider and validates it; a
// deleted store's provider is dropped from the cache.
func (r *secretStoreReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	gone := func() { r.providers.drop(r.kind + "/" + req.Namespace + "/" + req.Name) }
	return reconcileObject(ctx, r.Client, req, r.newObject(), gone, r.validate)
}

// validate is the one step: build the provider and check its credentials.
func (r *secretStoreReconciler) validate(ctx context.Context, obj object) (reconcile.Result, error) {
	var spec *v1alpha1.SecretStoreSpec
	switch o := obj.(type) {
	case *v1alpha1.ClusterSecretStore:
		spec = &o.Spec
	case *v1alpha1.SecretStore:
		spec = &o.Spec
	}
	every, err := storeRevalidateAfter(spec)
	if err != nil {
		return fail(obj, terminal(v1alpha1.ReasonStoreInvalid, err), 0)
	}
	store := &storeInfo{Kind: r.kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Spec: spec, Generation: obj.GetGeneration()}
	r.credentials.remember(ctx, store)
	message := "credentials validated"
	p, err := r.providers.get(ctx, store)
	if err == nil {
		if v, ok := p.(providers.Validator); ok {
			err = v.Validate(ctx)
		} else {
			message = "configuration accepted (this provider cannot validate credentials without reading a secret)"
		}
	}
	if errors.Is(err, errPerNamespace) {
		err, message = nil, "configuration accepted; "+errPerNamespace.Error()+", and is checked there"
	}
	switch {
	case err == nil:
		setReadyTrue(obj, v1alpha1.ReasonStoreValid, message)
		return reconcile.Result{RequeueAfter: every}, nil
	case errors.Is(err, errInvalidStore):
		return fail(obj, terminal(v1alpha1.ReasonStoreInvalid, err), 0)
	}
	return fail(obj, retryable(v1alpha1.ReasonStoreInvalid, err), 0) // back off and try again
}
