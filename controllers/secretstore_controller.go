package controllers

import (
	"context"
	"errors"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		obj    client.Object
		spec   *v1alpha1.SecretStoreSpec
		status *v1alpha1.SecretStoreStatus
	)
	switch r.Kind {
	case v1alpha1.ClusterSecretStoreKind:
		css := &v1alpha1.ClusterSecretStore{}
		obj, spec, status = css, &css.Spec, &css.Status
	default:
		ss := &v1alpha1.SecretStore{}
		obj, spec, status = ss, &ss.Spec, &ss.Status
	}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.Providers.drop(r.Kind + "/" + req.Namespace + "/" + req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	base := obj.DeepCopyObject().(client.Object)
	store := &storeInfo{Kind: r.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Spec: spec, Generation: obj.GetGeneration()}

	cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonStoreValid,
		Message: "credentials validated", ObservedGeneration: obj.GetGeneration()}
	var result reconcile.Result
	var retErr error
	p, err := r.Providers.get(ctx, store)
	if err == nil {
		if v, ok := p.(providers.Validator); ok {
			err = v.Validate(ctx)
		} else {
			cond.Message = "configuration accepted (this provider cannot validate credentials without reading a secret)"
		}
	}
	if err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, v1alpha1.ReasonStoreInvalid, err.Error()
		if !errors.Is(err, errInvalidStore) {
			retErr = err // back off and try again
		}
	} else {
		result.RequeueAfter = storeRevalidateInterval
	}
	apimeta.SetStatusCondition(&status.Conditions, cond)
	status.ObservedGeneration = obj.GetGeneration()
	if err := r.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return reconcile.Result{}, err
	}
	return result, retErr
}
