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

// SecretStoreReconciler validates the credentials of SecretStores or
// ClusterSecretStores (one reconciler per kind) and reports Ready.
type SecretStoreReconciler struct {
	client.Client
	// Kind is SecretStore or ClusterSecretStore.
	Kind string
	// Providers is shared with the ExternalSecret reconciler, so a store's
	// client is built once.
	Providers *providerCache
}

// SetupWithManager registers the reconciler for r.Kind.
func (r *SecretStoreReconciler) SetupWithManager(mgr ctrl.Manager) error {
	var obj client.Object = &v1alpha1.SecretStore{}
	if r.Kind == v1alpha1.ClusterSecretStoreKind {
		obj = &v1alpha1.ClusterSecretStore{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(map[string]string{v1alpha1.SecretStoreKind: "secretstore", v1alpha1.ClusterSecretStoreKind: "clustersecretstore"}[r.Kind]).
		For(obj).
		WithOptions(controllerOptions(2)).
		Complete(r)
}

// Reconcile builds (or reuses) the store's provider and validates it.
func (r *SecretStoreReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var (
		obj interface {
			client.Object
			conditioned
		}
		spec *v1alpha1.SecretStoreSpec
	)
	switch r.Kind {
	case v1alpha1.ClusterSecretStoreKind:
		css := &v1alpha1.ClusterSecretStore{}
		obj, spec = css, &css.Spec
	default:
		ss := &v1alpha1.SecretStore{}
		obj, spec = ss, &ss.Spec
	}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.Providers.drop(r.Kind + "/" + req.Namespace + "/" + req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	base := obj.DeepCopyObject().(client.Object)
	store := &storeInfo{Kind: r.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Spec: spec, Generation: obj.GetGeneration()}

	message := "credentials validated"
	var result reconcile.Result
	var retErr error
	p, err := r.Providers.get(ctx, store)
	if err == nil {
		if v, ok := p.(providers.Validator); ok {
			err = v.Validate(ctx)
		} else {
			message = "configuration accepted (this provider cannot validate credentials without reading a secret)"
		}
	}
	switch {
	case err == nil:
		setReadyTrue(obj, v1alpha1.ReasonStoreValid, message)
		result.RequeueAfter = storeRevalidateInterval
	case errors.Is(err, errInvalidStore):
		setFailed(obj, false, v1alpha1.ReasonStoreInvalid, err.Error())
	default:
		setFailed(obj, true, v1alpha1.ReasonStoreInvalid, err.Error())
		retErr = err // back off and try again
	}
	if err := r.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return reconcile.Result{}, err
	}
	return result, retErr
}
