package controllers

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// esoCESOwnerIndex indexes ESO's ExternalSecrets by the ESO
// ClusterExternalSecret that controls them.
const esoCESOwnerIndex = "kseal.dev/eso-clusterexternalsecret-owner"

// The bounds of kseal's ClusterExternalSecret CRD, applied to ESO's.
const (
	maxCESSelectors  = 50
	maxCESNamespaces = 1000
)

// The ClusterExternalSecret reconciler's hooks: kseal's kinds, or (eso)
// External Secrets Operator's. ESO's ClusterExternalSecret controls the
// ExternalSecrets it provisions with an owner reference, as kseal's does;
// an ExternalSecret ESO provisioned is therefore recognised as this
// ClusterExternalSecret's, compared like kseal's, and not written when it
// already carries the wanted spec, labels and annotations.

// owner is the object that owns the ExternalSecrets and receives events.
func (r *clusterExternalSecretReconciler) owner(ces *v1alpha1.ClusterExternalSecret) client.Object {
	if !r.eso {
		return ces
	}
	return &esov1.ClusterExternalSecret{ObjectMeta: ces.ObjectMeta}
}

// child is the object written for es: es, or ESO's ExternalSecret.
func (r *clusterExternalSecretReconciler) child(es *v1alpha1.ExternalSecret) client.Object {
	if !r.eso {
		return es
	}
	return &esov1.ExternalSecret{ObjectMeta: es.ObjectMeta, Spec: es.Spec}
}

// getChild reads the ExternalSecret key, in kseal's type.
func (r *clusterExternalSecretReconciler) getChild(ctx context.Context, key client.ObjectKey) (*v1alpha1.ExternalSecret, error) {
	if !r.eso {
		es := &v1alpha1.ExternalSecret{}
		return es, r.Get(ctx, key, es)
	}
	eso := &esov1.ExternalSecret{}
	if err := r.Get(ctx, key, eso); err != nil {
		return nil, err
	}
	return &v1alpha1.ExternalSecret{ObjectMeta: eso.ObjectMeta, Spec: eso.Spec}, nil
}

// listChildren lists the ExternalSecrets indexed under ces's name.
func (r *clusterExternalSecretReconciler) listChildren(ctx context.Context, ces *v1alpha1.ClusterExternalSecret) ([]v1alpha1.ExternalSecret, error) {
	if !r.eso {
		var list v1alpha1.ExternalSecretList
		err := r.List(ctx, &list, client.MatchingFields{cesOwnerIndex: ces.Name})
		return list.Items, err
	}
	var list esov1.ExternalSecretList
	if err := r.List(ctx, &list, client.MatchingFields{esoCESOwnerIndex: ces.Name}); err != nil {
		return nil, err
	}
	out := make([]v1alpha1.ExternalSecret, 0, len(list.Items))
	for _, eso := range list.Items {
		out = append(out, v1alpha1.ExternalSecret{ObjectMeta: eso.ObjectMeta, Spec: eso.Spec})
	}
	return out, nil
}

// controls reports whether ces (name and UID) is o's controller.
func (r *clusterExternalSecretReconciler) controls(o client.Object, ces *v1alpha1.ClusterExternalSecret) bool {
	if !r.eso {
		return controlledBy(o, ces)
	}
	ref := metav1.GetControllerOf(o)
	return esoCESOwnerName(o) == ces.Name && ref.UID == ces.UID
}

// esoCESOwnerName is the name of the ESO ClusterExternalSecret that
// controls o, or "".
func esoCESOwnerName(o client.Object) string {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != esov1.ClusterExternalSecretKind {
		return ""
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != esov1.GroupVersion.Group {
		return ""
	}
	return ref.Name
}

// esoClusterExternalSecretReconciler runs kseal's ClusterExternalSecret
// steps on ESO's ClusterExternalSecrets and reports in ESO's status shape.
// Like ESO it holds no finalizer: the ExternalSecrets go with their owner
// through garbage collection.
type esoClusterExternalSecretReconciler struct {
	inner *clusterExternalSecretReconciler
}

// setupAdoptedClusterExternalSecrets registers the reconciler of ESO's
// ClusterExternalSecrets.
func setupAdoptedClusterExternalSecrets(mgr ctrl.Manager, opts Options, base *externalSecretReconciler) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &esov1.ExternalSecret{}, esoCESOwnerIndex, func(o client.Object) []string {
		if name := esoCESOwnerName(o); name != "" {
			return []string{name}
		}
		return nil
	}); err != nil {
		return err
	}
	limit := opts.ClusterExternalSecretNamespaceLimit
	if limit <= 0 {
		limit = DefaultClusterExternalSecretNamespaceLimit
	}
	r := &esoClusterExternalSecretReconciler{inner: &clusterExternalSecretReconciler{
		Client: base.Client, recorder: base.recorder, watchNamespaces: opts.WatchNamespaces, limit: limit, eso: true,
	}}
	return ctrl.NewControllerManagedBy(mgr).
		Named("external-secrets.io-clusterexternalsecret").
		For(&esov1.ClusterExternalSecret{}).
		Watches(&esov1.ExternalSecret{}, handler.EnqueueRequestsFromMapFunc(r.forExternalSecret), builder.WithPredicates(childChanged())).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.forNamespace), builder.WithPredicates(namespaceChanged())).
		WithOptions(controllerOptions(1)).
		Complete(r)
}

// Reconcile provisions one ESO ClusterExternalSecret and patches its
// ESO-shaped status (nothing when nothing changed).
func (r *esoClusterExternalSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	eso := &esov1.ClusterExternalSecret{}
	if err := r.inner.Get(ctx, req.NamespacedName, eso); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !eso.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	base := eso.DeepCopy()
	ces := cesFromESO(eso)
	var res reconcile.Result
	var err error
	if n, m := len(ces.Spec.NamespaceSelectors), len(ces.Spec.Namespaces); n > maxCESSelectors || m > maxCESNamespaces {
		// kseal's CRD bounds these, ESO's does not: refused before any list.
		res, err = fail(ces, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf(
			"%d namespaceSelectors and %d namespaces; kseal accepts at most %d and %d: split the ClusterExternalSecret", n, m, maxCESSelectors, maxCESNamespaces)), 0)
	} else {
		res, err = r.inner.provision(ctx, ces)
	}
	cesStatusToESO(eso, ces)
	if perr := patchStatus(ctx, r.inner.Client, base, eso); perr != nil && err == nil {
		err = perr
	}
	return res, err
}

// cesFromESO is kseal's view of ESO's ClusterExternalSecret.
func cesFromESO(eso *esov1.ClusterExternalSecret) *v1alpha1.ClusterExternalSecret {
	ces := &v1alpha1.ClusterExternalSecret{ObjectMeta: *eso.ObjectMeta.DeepCopy(), Spec: *eso.Spec.DeepCopy()}
	ces.Status.ExternalSecretName = eso.Status.ExternalSecretName
	ces.Status.ProvisionedNamespaces = append([]string(nil), eso.Status.ProvisionedNamespaces...)
	ces.Status.FailedNamespaces = append([]v1alpha1.ClusterExternalSecretNamespaceFailure(nil), eso.Status.FailedNamespaces...)
	return ces
}

// cesStatusToESO writes the outcome in ESO's shape: the namespaces, and a
// Ready condition with no message when True and ESO's message when some
// namespaces failed (kseal's own when nothing could be provisioned).
func cesStatusToESO(eso *esov1.ClusterExternalSecret, ces *v1alpha1.ClusterExternalSecret) {
	eso.Status.ExternalSecretName = ces.Status.ExternalSecretName
	eso.Status.ProvisionedNamespaces = ces.Status.ProvisionedNamespaces
	eso.Status.FailedNamespaces = ces.Status.FailedNamespaces
	c := apimeta.FindStatusCondition(ces.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil {
		return
	}
	ready := esov1.ClusterExternalSecretCondition{Type: esov1.ConditionReady, Status: corev1.ConditionStatus(c.Status)}
	switch {
	case c.Status == metav1.ConditionTrue:
	case c.Reason == v1alpha1.ReasonNamespacesFailed && len(ces.Status.FailedNamespaces) > 0:
		ready.Message = esov1.MessageNamespacesFailed
	default:
		ready.Message = c.Reason + ": " + c.Message
	}
	out := make([]esov1.ClusterExternalSecretCondition, 0, len(eso.Status.Conditions)+1)
	for _, have := range eso.Status.Conditions {
		if have.Type != esov1.ConditionReady {
			out = append(out, have)
		}
	}
	eso.Status.Conditions = append(out, ready)
}

// forNamespace maps a namespace to the ESO ClusterExternalSecrets that
// choose it or have provisioned (or failed) it.
func (r *esoClusterExternalSecretReconciler) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return r.requests(ctx, func(ces *v1alpha1.ClusterExternalSecret) bool {
		return cesSelects(ces, o.GetName(), labels.Set(o.GetLabels())) ||
			slices.Contains(ces.Status.ProvisionedNamespaces, o.GetName()) || cesFailedIn(ces, o.GetName())
	})
}

// forExternalSecret maps an ESO ExternalSecret to the ClusterExternalSecret
// controlling it or, for one it does not control, to those that failed in
// its namespace because of its name.
func (r *esoClusterExternalSecretReconciler) forExternalSecret(ctx context.Context, o client.Object) []reconcile.Request {
	if name := esoCESOwnerName(o); name != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
	}
	return r.requests(ctx, func(ces *v1alpha1.ClusterExternalSecret) bool {
		return ces.Status.ExternalSecretName == o.GetName() && cesFailedIn(ces, o.GetNamespace())
	})
}

// requests lists ESO's ClusterExternalSecrets and queues those that match.
func (r *esoClusterExternalSecretReconciler) requests(ctx context.Context, match func(*v1alpha1.ClusterExternalSecret) bool) []reconcile.Request {
	var list esov1.ClusterExternalSecretList
	if err := r.inner.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if match(cesFromESO(&list.Items[i])) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}})
		}
	}
	return out
}
