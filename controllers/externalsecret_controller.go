package controllers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/template"
	"github.com/kseal-dev/kseal/providers"
)

// DefaultRefreshInterval applies when spec.refreshInterval is not set.
const DefaultRefreshInterval = time.Hour

// AnnotationManagedKeys lists (comma-separated) the data keys an
// ExternalSecret wrote, so drift is checked only on those.
const AnnotationManagedKeys = "kseal.dev/managed-keys"

// Event reasons of the ExternalSecret reconciler.
const (
	EventSynced     = "Synced"
	EventSyncFailed = "SyncFailed"
	EventDeleted    = "Deleted"
)

// ExternalSecretReconciler keeps Secrets in sync with provider values.
type ExternalSecretReconciler struct {
	client.Client
	// Providers caches provider clients per store and credentials.
	Providers *providerCache
	// Recorder records events; they never contain secret values.
	Recorder record.EventRecorder
	// Workers is the number of ExternalSecrets reconciled in parallel.
	Workers int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// reload restarts workloads after a data change; nil when off.
	reload *reloader
}

// SetupWithManager registers the reconciler; owned Secrets are watched so
// hand edits and deletions are repaired.
func (r *ExternalSecretReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ExternalSecret{}).
		Owns(&corev1.Secret{}).
		WithOptions(controllerOptions(max(r.Workers, 1))).
		Complete(r)
}

// syncError carries the Ready reason of a failed sync, and whether to retry.
type syncError struct {
	reason    string
	err       error
	retryable bool
}

// requeued reports whether a non-retryable failure is still looked at again
// after a while: a store or remote key may be created later (a store in a
// later sync wave), so the ExternalSecret reads as in progress, not stalled.
func (e *syncError) requeued() bool {
	return e.reason == v1alpha1.ReasonStoreNotFound || e.reason == v1alpha1.ReasonRemoteNotFound
}

func (e *syncError) Error() string { return e.err.Error() }
func (e *syncError) Unwrap() error { return e.err }

// +kubebuilder:rbac:groups=kseal.dev,resources=externalsecrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=kseal.dev,resources=externalsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kseal.dev,resources=secretstores;clustersecretstores,verbs=get;list;watch
// +kubebuilder:rbac:groups=kseal.dev,resources=secretstores/status;clustersecretstores/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=delete

// Reconcile fetches the values of one ExternalSecret when a refresh is due
// and writes its Secret; it records the outcome with one status patch. A
// provider failure never deletes or blanks the Secret.
func (r *ExternalSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	es := &v1alpha1.ExternalSecret{}
	if err := r.Get(ctx, req.NamespacedName, es); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !es.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	base := es.DeepCopy()
	now := r.now()
	interval := refreshInterval(es)

	secret, err := r.targetSecret(ctx, es)
	if err != nil {
		return reconcile.Result{}, err
	}
	if next, fresh := r.upToDate(es, secret, now, interval); fresh {
		return reconcile.Result{RequeueAfter: next}, nil
	}

	result, err := r.sync(ctx, es, secret)
	if err != nil {
		var se *syncError
		if !errors.As(err, &se) {
			se = &syncError{reason: v1alpha1.ReasonProviderError, err: err, retryable: true}
		}
		setFailed(es, se.retryable || se.requeued(), se.reason, se.err.Error())
		r.event(es, corev1.EventTypeWarning, EventSyncFailed, se.err.Error())
		syncTotal.WithLabelValues("error", se.reason).Inc()
		if perr := r.patchStatus(ctx, base, es); perr != nil {
			return reconcile.Result{}, perr
		}
		if se.retryable {
			return reconcile.Result{}, err // exponential backoff
		}
		if se.requeued() {
			return reconcile.Result{RequeueAfter: min(interval, 5*time.Minute) + time.Second}, nil
		}
		return reconcile.Result{}, nil // fixed by a spec change
	}
	es.Status.RefreshTime = metav1.NewTime(now)
	es.Status.SyncedResourceVersion = syncVersion(es)
	recordForceSync(es)
	setReadyTrue(es, v1alpha1.ReasonSecretSynced, result)
	syncTotal.WithLabelValues("success", v1alpha1.ReasonSecretSynced).Inc()
	if err := r.patchStatus(ctx, base, es); err != nil {
		return reconcile.Result{}, err
	}
	if interval == 0 {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{RequeueAfter: interval + refreshJitter(es, interval)}, nil
}

// upToDate reports whether the last sync still stands: same spec, Ready,
// refresh not yet due, and the Secret unchanged since kseal wrote it. It
// returns when to look again.
func (r *ExternalSecretReconciler) upToDate(es *v1alpha1.ExternalSecret, secret *corev1.Secret, now time.Time, interval time.Duration) (time.Duration, bool) {
	if forceSyncRequested(es) || es.Status.SyncedResourceVersion != syncVersion(es) || !apimeta.IsStatusConditionTrue(es.Status.Conditions, v1alpha1.ConditionReady) {
		return 0, false
	}
	if creationPolicy(es) != v1alpha1.CreationPolicyNone && !secretIntact(secret) {
		return 0, false
	}
	if interval == 0 {
		return 0, true
	}
	next := es.Status.RefreshTime.Add(interval + refreshJitter(es, interval)).Sub(now)
	if next <= 0 {
		return 0, false
	}
	return next, true
}

// secretIntact reports whether the data kseal wrote is still there.
func secretIntact(s *corev1.Secret) bool {
	if s == nil || s.Annotations[AnnotationDataHash] == "" {
		return false
	}
	return s.Annotations[AnnotationDataHash] == dataHash(s, managedKeys(s))
}

func managedKeys(s *corev1.Secret) []string {
	v, ok := s.Annotations[AnnotationManagedKeys]
	if !ok {
		return nil
	}
	if v == "" {
		return []string{}
	}
	return strings.Split(v, ",")
}

// sync resolves the store, fetches every value, renders the template and
// writes the Secret. It returns a short description for the condition.
func (r *ExternalSecretReconciler) sync(ctx context.Context, es *v1alpha1.ExternalSecret, secret *corev1.Secret) (string, error) {
	store, err := r.resolveStore(ctx, es)
	if err != nil {
		return "", err
	}
	provider, err := r.Providers.get(ctx, store)
	if err != nil {
		if errors.Is(err, errInvalidStore) {
			return "", &syncError{reason: v1alpha1.ReasonInvalidSpec, err: fmt.Errorf("store %s: %w", store.Name, err)}
		}
		return "", &syncError{reason: v1alpha1.ReasonProviderError, err: fmt.Errorf("store %s: %w", store.Name, err), retryable: true}
	}
	data, allGone, err := fetchAll(ctx, es, provider)
	if err != nil {
		if allGone && es.Spec.Target.DeletionPolicy == v1alpha1.DeletionPolicyDelete {
			return r.deleteGone(ctx, es, secret, err)
		}
		return "", classify(err)
	}
	if t := es.Spec.Target.Template; t != nil && len(t.Data) > 0 {
		rendered := map[string][]byte{}
		for k, v := range data {
			rendered[k] = v
		}
		if err := template.Render(t.Data, rendered); err != nil {
			return "", &syncError{reason: v1alpha1.ReasonTemplateError, err: err}
		}
		// As in ESO, a template's keys replace the fetched keys.
		data = map[string][]byte{}
		for k := range t.Data {
			data[k] = rendered[k]
		}
	}
	if creationPolicy(es) == v1alpha1.CreationPolicyNone {
		return fmt.Sprintf("fetched %d keys (creationPolicy None: no Secret written)", len(data)), nil
	}
	if err := r.writeSecret(ctx, es, secret, data); err != nil {
		return "", err
	}
	return fmt.Sprintf("Secret %s synced (%d keys)", targetName(es), len(data)), nil
}

// classify turns a provider error into a syncError with a reason.
func classify(err error) error {
	switch {
	case providers.IsRetryable(err), errors.Is(err, providers.ErrAuth):
		return &syncError{reason: v1alpha1.ReasonProviderError, err: err, retryable: true}
	case errors.Is(err, providers.ErrNotFound), errors.Is(err, providers.ErrPropertyNotFound):
		return &syncError{reason: v1alpha1.ReasonRemoteNotFound, err: err}
	case errors.Is(err, providers.ErrNotJSON), errors.Is(err, providers.ErrUnsupported):
		return &syncError{reason: v1alpha1.ReasonInvalidSpec, err: err}
	}
	return &syncError{reason: v1alpha1.ReasonProviderError, err: err, retryable: true}
}

// deleteGone applies deletionPolicy Delete: every remote value is gone, so
// the Secret kseal owns is deleted.
func (r *ExternalSecretReconciler) deleteGone(ctx context.Context, es *v1alpha1.ExternalSecret, secret *corev1.Secret, cause error) (string, error) {
	if secret != nil && (ownedByES(secret, es) || secret.Annotations[AnnotationManagedKeys] != "" && creationPolicy(es) == v1alpha1.CreationPolicyOrphan) {
		if err := r.Delete(ctx, secret); err != nil && !apierrors.IsNotFound(err) {
			return "", err
		}
		r.event(es, corev1.EventTypeNormal, EventDeleted, "every remote value is gone; Secret "+secret.Name+" deleted (deletionPolicy Delete)")
	}
	return "", &syncError{reason: v1alpha1.ReasonRemoteNotFound, err: fmt.Errorf("every remote value is gone (deletionPolicy Delete): %w", cause)}
}

func (r *ExternalSecretReconciler) targetSecret(ctx context.Context, es *v1alpha1.ExternalSecret) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: es.Namespace, Name: targetName(es)}, s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return s, err
}

// writeSecret writes data per the creation policy.
func (r *ExternalSecretReconciler) writeSecret(ctx context.Context, es *v1alpha1.ExternalSecret, current *corev1.Secret, data map[string][]byte) error {
	policy := creationPolicy(es)
	if policy == v1alpha1.CreationPolicyMerge && current == nil {
		return &syncError{reason: v1alpha1.ReasonInvalidSpec, err: fmt.Errorf("creationPolicy Merge needs an existing Secret %s", targetName(es))}
	}
	if policy == v1alpha1.CreationPolicyOwner && current != nil && !ownedByES(current, es) && !isManaged(current) {
		return &syncError{reason: v1alpha1.ReasonSecretNotOwned, err: fmt.Errorf("a Secret named %s exists and is not owned by this ExternalSecret; kseal leaves it untouched (annotate it kseal.dev/managed=true to let kseal take it over)", current.Name)}
	}
	target := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: targetName(es), Namespace: es.Namespace}}
	if current != nil {
		target = current.DeepCopy()
	}
	if target.Annotations == nil {
		target.Annotations = map[string]string{}
	}
	if target.Labels == nil {
		target.Labels = map[string]string{}
	}
	if t := es.Spec.Target.Template; t != nil {
		maps.Copy(target.Labels, t.Metadata.Labels)
		maps.Copy(target.Annotations, t.Metadata.Annotations)
		if t.Type != "" && current == nil {
			target.Type = t.Type
		}
	}
	keys := slices.Sorted(maps.Keys(data))
	if policy == v1alpha1.CreationPolicyMerge {
		if target.Data == nil {
			target.Data = map[string][]byte{}
		}
		maps.Copy(target.Data, data)
	} else {
		// Keys that vanished from the provider are removed only when the
		// provider answered; a failure never reaches here.
		target.Data = data
		if es.Spec.Target.Immutable {
			yes := true
			target.Immutable = &yes
		}
	}
	if policy == v1alpha1.CreationPolicyOwner {
		if err := controllerutil.SetControllerReference(es, target, r.Scheme()); err != nil {
			return err
		}
	}
	if current == nil && target.Type == "" {
		target.Type = corev1.SecretTypeOpaque // before hashing: the API server defaults it
	}
	if policy == v1alpha1.CreationPolicyOwner || policy == v1alpha1.CreationPolicyOrphan {
		delete(target.Annotations, AnnotationManagedKeys) // all keys are managed
		target.Annotations[AnnotationDataHash] = dataHash(target, nil)
	} else {
		target.Annotations[AnnotationManagedKeys] = strings.Join(keys, ",")
		target.Annotations[AnnotationDataHash] = dataHash(target, keys)
	}
	if current == nil {
		return r.Create(ctx, target)
	}
	if secretUnchanged(current, target) {
		return nil // a refresh that found the same values writes nothing
	}
	if current.Immutable != nil && *current.Immutable {
		return &syncError{reason: v1alpha1.ReasonSecretImmutable, err: fmt.Errorf("Secret %s is immutable and the fetched values differ; delete it to let kseal write it again", current.Name)}
	}
	return r.reload.afterWrite(ctx, r.Update(ctx, target), es, current, target)
}

func ownedByES(s *corev1.Secret, es *v1alpha1.ExternalSecret) bool {
	ref := metav1.GetControllerOf(s)
	return ref != nil && ref.UID == es.UID
}

// resolveStore finds the referenced store and checks that this namespace
// may use it.
func (r *ExternalSecretReconciler) resolveStore(ctx context.Context, es *v1alpha1.ExternalSecret) (*storeInfo, error) {
	ref := es.Spec.SecretStoreRef
	if ref.Kind == v1alpha1.ClusterSecretStoreKind {
		var css v1alpha1.ClusterSecretStore
		if err := r.Get(ctx, client.ObjectKey{Name: ref.Name}, &css); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &syncError{reason: v1alpha1.ReasonStoreNotFound, err: fmt.Errorf("ClusterSecretStore %s not found", ref.Name)}
			}
			return nil, err
		}
		allowed, err := r.namespaceAllowed(ctx, css.Spec.Conditions, es.Namespace)
		if err != nil {
			return nil, err
		}
		if !allowed {
			return nil, &syncError{reason: v1alpha1.ReasonStoreNotAllowed, err: fmt.Errorf("ClusterSecretStore %s does not allow namespace %s (see its spec.conditions)", ref.Name, es.Namespace)}
		}
		return &storeInfo{Kind: v1alpha1.ClusterSecretStoreKind, Name: css.Name, Spec: &css.Spec, Generation: css.Generation}, nil
	}
	var ss v1alpha1.SecretStore
	if err := r.Get(ctx, client.ObjectKey{Namespace: es.Namespace, Name: ref.Name}, &ss); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &syncError{reason: v1alpha1.ReasonStoreNotFound, err: fmt.Errorf("SecretStore %s/%s not found", es.Namespace, ref.Name)}
		}
		return nil, err
	}
	return &storeInfo{Kind: v1alpha1.SecretStoreKind, Namespace: ss.Namespace, Name: ss.Name, Spec: &ss.Spec, Generation: ss.Generation}, nil
}

// namespaceAllowed applies a ClusterSecretStore's conditions.
func (r *ExternalSecretReconciler) namespaceAllowed(ctx context.Context, conds []v1alpha1.ClusterSecretStoreCondition, namespace string) (bool, error) {
	if len(conds) == 0 {
		return true, nil
	}
	var ns *corev1.Namespace
	for _, c := range conds {
		if slices.Contains(c.Namespaces, namespace) {
			return true, nil
		}
		if c.NamespaceSelector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.NamespaceSelector)
		if err != nil {
			return false, &syncError{reason: v1alpha1.ReasonInvalidSpec, err: fmt.Errorf("ClusterSecretStore namespaceSelector: %w", err)}
		}
		if ns == nil {
			ns = &corev1.Namespace{}
			if err := r.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
				return false, err
			}
		}
		if sel.Matches(labelsOf(ns)) {
			return true, nil
		}
	}
	return false, nil
}

func (r *ExternalSecretReconciler) patchStatus(ctx context.Context, base, es *v1alpha1.ExternalSecret) error {
	if err := r.Status().Patch(ctx, es, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		logf.FromContext(ctx).Error(err, "patch status")
		return err
	}
	return nil
}

func (r *ExternalSecretReconciler) event(es *v1alpha1.ExternalSecret, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Event(es, typ, reason, msg)
	}
}

func (r *ExternalSecretReconciler) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func targetName(es *v1alpha1.ExternalSecret) string {
	if es.Spec.Target.Name != "" {
		return es.Spec.Target.Name
	}
	return es.Name
}

func creationPolicy(es *v1alpha1.ExternalSecret) v1alpha1.CreationPolicy {
	if es.Spec.Target.CreationPolicy == "" {
		return v1alpha1.CreationPolicyOwner
	}
	return es.Spec.Target.CreationPolicy
}

func refreshInterval(es *v1alpha1.ExternalSecret) time.Duration {
	if es.Spec.RefreshInterval == nil {
		return DefaultRefreshInterval
	}
	return es.Spec.RefreshInterval.Duration
}

// syncVersion identifies the spec a sync used.
func syncVersion(es *v1alpha1.ExternalSecret) string {
	return strconv.FormatInt(es.Generation, 10)
}

// refreshJitter is a fixed share (0–10%) of the refresh interval, chosen by
// the object's UID, added to every refresh: thousands of ExternalSecrets
// created together do not refresh in lockstep, and because it is the same
// for an object on every reconcile, a status update that re-queues the
// object cannot undo it.
func refreshJitter(es *v1alpha1.ExternalSecret, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(es.UID))
	return time.Duration(h.Sum64() % uint64(interval/10+1))
}

// secretUnchanged reports whether writing target over current would change
// nothing the reconciler manages.
func secretUnchanged(current, target *corev1.Secret) bool {
	return apiequality.Semantic.DeepEqual(current.Data, target.Data) &&
		apiequality.Semantic.DeepEqual(current.Labels, target.Labels) &&
		apiequality.Semantic.DeepEqual(current.Annotations, target.Annotations) &&
		apiequality.Semantic.DeepEqual(current.OwnerReferences, target.OwnerReferences) &&
		current.Type == target.Type &&
		apiequality.Semantic.DeepEqual(current.Immutable, target.Immutable)
}
