package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// esoAdoption is what differs when the ExternalSecret reconciler serves
// ESO's own ExternalSecrets instead of kseal's: the owner of the Secret is
// the external-secrets.io object, stores are ESO's, the Secret keeps ESO's
// labels and data hash (so ESO can take it back), and the parts of the spec
// that kseal's CRD refuses are refused here. Every method works on a nil
// receiver (kseal's own kinds) and then does what kseal always does.
type esoAdoption struct {
	// endpoints fill in the AWS endpoints ESO's store schema has no field
	// for.
	endpoints ESOEndpoints
}

// ESOEndpoints are the AWS endpoint overrides ESO's controller reads from
// its environment (AWS_SECRETSMANAGER_ENDPOINT, AWS_SSM_ENDPOINT,
// AWS_STS_ENDPOINT; ESO's store schema has no endpoint field): kseal applies
// them to the ESO stores it takes over that name AWS, as ESO did.
type ESOEndpoints struct {
	// SecretsManager is the Secrets Manager endpoint URL.
	SecretsManager string
	// SSM is the Parameter Store endpoint URL.
	SSM string
	// STS is the STS endpoint URL (role assumption, web identity).
	STS string
}

// ESOEndpointsFromEnv reads ESO's endpoint variables with getenv.
func ESOEndpointsFromEnv(getenv func(string) string) ESOEndpoints {
	return ESOEndpoints{SecretsManager: getenv("AWS_SECRETSMANAGER_ENDPOINT"), SSM: getenv("AWS_SSM_ENDPOINT"), STS: getenv("AWS_STS_ENDPOINT")}
}

// apply sets the endpoints on an AWS store spec that names none.
func (e ESOEndpoints) apply(spec *v1alpha1.SecretStoreSpec) {
	p := spec.Provider.AWS
	if p == nil {
		return
	}
	if p.Endpoint == "" {
		p.Endpoint = e.SecretsManager
		if p.Service == v1alpha1.AWSServiceParameterStore {
			p.Endpoint = e.SSM
		}
	}
	if p.STSEndpoint == "" {
		p.STSEndpoint = e.STS
	}
}

// owner is the object that owns the Secret and receives the events.
func (a *esoAdoption) owner(es *v1alpha1.ExternalSecret) client.Object {
	if a == nil {
		return es
	}
	return &esov1.ExternalSecret{ObjectMeta: es.ObjectMeta}
}

// stores reads the stores an ExternalSecret names: ESO's SecretStores and
// ClusterSecretStores when adopting, kseal's otherwise.
func (a *esoAdoption) stores(c client.Reader) client.Reader {
	if a == nil {
		return c
	}
	return esoStoreReader{c, a.endpoints}
}

// decorate adds what ESO records on the Secrets it writes: the managed
// label, with creationPolicy Owner the created-by label, and the data hash
// of the data the Secret will hold (current merged with desired for Merge).
func (a *esoAdoption) decorate(es *v1alpha1.ExternalSecret, current, desired *corev1.Secret) {
	if a == nil {
		return
	}
	if desired.Labels == nil {
		desired.Labels = map[string]string{}
	}
	if desired.Annotations == nil {
		desired.Annotations = map[string]string{}
	}
	desired.Labels[esov1.LabelManaged] = "true"
	if creationPolicy(es) == v1alpha1.CreationPolicyOwner {
		desired.Labels[esov1.LabelCreatedBy] = esoObjectHash(es.Namespace + "/" + es.Name)
	}
	data := desired.Data
	if creationPolicy(es) == v1alpha1.CreationPolicyMerge && current != nil {
		data = map[string][]byte{}
		for k, v := range current.Data {
			data[k] = v
		}
		for k, v := range desired.Data {
			data[k] = v
		}
	}
	desired.Annotations[esov1.AnnotationDataHash] = esoObjectHash(data)
}

// check refuses what ESO's CRD accepts and kseal's CRD would refuse (kseal
// cannot do it, and writing anything else than ESO would is worse than not
// writing); the message says what to change.
func (a *esoAdoption) check(es *v1alpha1.ExternalSecret) error {
	if a == nil {
		return nil
	}
	if msg := unsupportedESOSpec(&es.Spec); msg != "" {
		return terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("%s; until then keep this ExternalSecret with External Secrets Operator (see docs/migrate.md)", msg))
	}
	return nil
}

// esoStoreReader reads ESO's stores into kseal's store types (same spec).
type esoStoreReader struct {
	c         client.Reader
	endpoints ESOEndpoints
}

func (r esoStoreReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	switch o := obj.(type) {
	case *v1alpha1.ClusterSecretStore:
		var css esov1.ClusterSecretStore
		if err := r.c.Get(ctx, key, &css, opts...); err != nil {
			return err
		}
		if err := esoConditionsBounded(css.Spec.Conditions); err != nil {
			return err
		}
		o.ObjectMeta, o.Spec = css.ObjectMeta, css.Spec
		r.endpoints.apply(&o.Spec)
		return nil
	case *v1alpha1.SecretStore:
		var ss esov1.SecretStore
		if err := r.c.Get(ctx, key, &ss, opts...); err != nil {
			return err
		}
		o.ObjectMeta, o.Spec = ss.ObjectMeta, ss.Spec
		r.endpoints.apply(&o.Spec)
		return nil
	}
	return r.c.Get(ctx, key, obj, opts...)
}

func (r esoStoreReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.c.List(ctx, list, opts...)
}

// Bounds of a ClusterSecretStore's namespaceRegexes: kseal's CRD enforces
// them, ESO's does not, so they are checked when ESO's store is read.
const (
	maxNamespaceRegexes     = 16
	maxNamespaceRegexLength = 256
)

// esoConditionsBounded refuses ESO ClusterSecretStore conditions beyond
// kseal's bounds, before any regular expression is compiled.
func esoConditionsBounded(conds []v1alpha1.ClusterSecretStoreCondition) error {
	for i, c := range conds {
		if len(c.NamespaceRegexes) > maxNamespaceRegexes {
			return terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("ClusterSecretStore conditions[%d].namespaceRegexes has %d entries, more than the %d kseal accepts: merge them", i, len(c.NamespaceRegexes), maxNamespaceRegexes))
		}
		for j, re := range c.NamespaceRegexes {
			if len(re) > maxNamespaceRegexLength {
				return terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("ClusterSecretStore conditions[%d].namespaceRegexes[%d] is longer than the %d characters kseal accepts", i, j, maxNamespaceRegexLength))
			}
		}
	}
	return nil
}

// setupAdoptedExternalSecrets registers the reconcilers of ESO's
// ExternalSecrets, SecretStores and ClusterSecretStores. They have their own
// provider cache (a kseal store and an ESO store of one name are different
// stores) and their own watch of the Secrets ESO labelled.
func setupAdoptedExternalSecrets(mgr ctrl.Manager, opts Options, base *externalSecretReconciler, builder *providerBuilder) error {
	if !opts.AdoptIgnoreRunning {
		ns := opts.ESONamespace
		if ns == "" {
			ns = DefaultESONamespace
		}
		if err := esoStopped(context.Background(), mgr.GetAPIReader(), ns); err != nil {
			return err
		}
		every := opts.ESORecheckInterval
		if every <= 0 {
			every = DefaultESORecheckInterval
		}
		if err := mgr.Add(esoWatch{reader: mgr.GetAPIReader(), namespace: ns, interval: every}); err != nil {
			return err
		}
	}
	providers := newProviderCache(base.Client, builder.build)
	creds, err := setupESOCredentialWatch(mgr)
	if err != nil {
		return err
	}
	for _, kind := range []string{v1alpha1.SecretStoreKind, v1alpha1.ClusterSecretStoreKind} {
		inner := &secretStoreReconciler{Client: base.Client, kind: kind, providers: providers, credentials: creds}
		if err := (&esoStoreReconciler{inner: inner, endpoints: opts.ESOEndpoints}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("external-secrets.io %s controller: %w", kind, err)
		}
	}
	inner := &externalSecretReconciler{
		Client:    base.Client,
		providers: providers,
		recorder:  base.recorder,
		workers:   base.workers,
		reload:    base.reload,
		reader:    base.reader,
		adopt:     &esoAdoption{endpoints: opts.ESOEndpoints},
		// A store's credentials changing refreshes its ExternalSecrets.
		credentials: creds,
		secretMeta:  base.secretMeta,
	}
	secrets, err := newESOSecretCache(mgr, opts.WatchNamespaces)
	if err != nil {
		return err
	}
	r := &esoExternalSecretReconciler{inner: inner}
	if err := ctrl.NewControllerManagedBy(mgr).
		Named("external-secrets.io-externalsecret").
		For(&esov1.ExternalSecret{}).
		Owns(&corev1.Secret{}).
		WatchesRawSource(secrets).
		WatchesRawSource(base.secretMeta.source(creds)).
		WithOptions(controllerOptions(max(inner.workers, 1))).
		Complete(r); err != nil {
		return err
	}
	push := &pushSecretReconciler{Client: base.Client, providers: providers, recorder: base.recorder, workers: base.workers, secretMeta: base.secretMeta, adopt: inner.adopt}
	if err := setupAdoptedPushSecrets(mgr, push); err != nil {
		return fmt.Errorf("external-secrets.io PushSecret controller: %w", err)
	}
	if err := setupAdoptedClusterExternalSecrets(mgr, opts, base); err != nil {
		return fmt.Errorf("external-secrets.io ClusterExternalSecret controller: %w", err)
	}
	return nil
}

// newESOSecretCache watches, as metadata with owner references only, the
// Secrets ESO labelled as managed: kseal's Secret cache holds only the
// Secrets kseal wrote, and labelling ESO's would be a write per Secret. An
// edit or deletion of one queues its ExternalSecret; its data is read from
// the API server when that ExternalSecret is reconciled.
func newESOSecretCache(mgr ctrl.Manager, namespaces []string) (source.Source, error) {
	opts := cache.Options{
		Scheme:               mgr.GetScheme(),
		Mapper:               mgr.GetRESTMapper(),
		DefaultLabelSelector: labels.SelectorFromSet(labels.Set{esov1.LabelManaged: "true"}),
		DefaultTransform:     ownersOnly,
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, fmt.Errorf("cache of ESO's Secrets: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	obj := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}}
	h := handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &esov1.ExternalSecret{}, handler.OnlyControllerOwner())
	return source.Kind[client.Object](c, obj, h), nil
}

// ownersOnly keeps a Secret's identity, resourceVersion and owners.
func ownersOnly(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Namespace: m.Namespace, Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion, OwnerReferences: m.OwnerReferences,
	}}, nil
}

// esoExternalSecretReconciler runs kseal's ExternalSecret steps on ESO's
// ExternalSecrets: the object is read as ESO's, its status turned into
// kseal's for the steps and back into ESO's shape for one status patch.
type esoExternalSecretReconciler struct {
	inner *externalSecretReconciler
}

// Reconcile is reconcileObject for ESO's ExternalSecret.
func (r *esoExternalSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result reconcile.Result, retErr error) {
	eso := &esov1.ExternalSecret{}
	if err := r.inner.Get(ctx, req.NamespacedName, eso); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.inner.recent.drop(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !eso.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	base := eso.DeepCopy()
	es := externalSecretFromESO(eso)
	before := es.DeepCopy()
	defer func() {
		esoStatusFrom(eso, before, es)
		if err := patchStatus(ctx, r.inner.Client, base, eso); err != nil && retErr == nil {
			retErr = err
		}
	}()
	return r.inner.reconcile(ctx, es)
}

// esoStoreReconciler validates ESO's stores with kseal's store step and
// reports in ESO's status shape.
type esoStoreReconciler struct {
	inner     *secretStoreReconciler
	endpoints ESOEndpoints
}

// SetupWithManager registers the reconciler for the inner reconciler's kind.
func (r *esoStoreReconciler) SetupWithManager(mgr ctrl.Manager) error {
	var obj client.Object = &esov1.SecretStore{}
	if r.inner.kind == v1alpha1.ClusterSecretStoreKind {
		obj = &esov1.ClusterSecretStore{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("external-secrets.io-" + map[string]string{v1alpha1.SecretStoreKind: "secretstore", v1alpha1.ClusterSecretStoreKind: "clustersecretstore"}[r.inner.kind]).
		For(obj).
		WithOptions(controllerOptions(2)).
		Complete(r)
}

// Reconcile validates one store and patches its ESO-shaped status.
func (r *esoStoreReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result reconcile.Result, retErr error) {
	var (
		eso    client.Object
		status *esov1.SecretStoreStatus
		kseal  object
	)
	if r.inner.kind == v1alpha1.ClusterSecretStoreKind {
		o := &esov1.ClusterSecretStore{}
		eso, status = o, &o.Status
		kseal = &v1alpha1.ClusterSecretStore{}
	} else {
		o := &esov1.SecretStore{}
		eso, status = o, &o.Status
		kseal = &v1alpha1.SecretStore{}
	}
	if err := r.inner.Get(ctx, req.NamespacedName, eso); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.inner.providers.drop(r.inner.kind + "/" + req.Namespace + "/" + req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	switch o := eso.(type) {
	case *esov1.ClusterSecretStore:
		k := kseal.(*v1alpha1.ClusterSecretStore)
		k.ObjectMeta, k.Spec = *o.ObjectMeta.DeepCopy(), *o.Spec.DeepCopy()
		r.endpoints.apply(&k.Spec)
	case *esov1.SecretStore:
		k := kseal.(*v1alpha1.SecretStore)
		k.ObjectMeta, k.Spec = *o.ObjectMeta.DeepCopy(), *o.Spec.DeepCopy()
		r.endpoints.apply(&k.Spec)
	}
	if !eso.GetDeletionTimestamp().IsZero() {
		return reconcile.Result{}, nil
	}
	base := eso.DeepCopyObject().(client.Object)
	kseal.SetConditions(conditionsFromESO(status.Conditions, eso.GetGeneration()))
	before := kseal.GetConditions()
	defer func() {
		status.Conditions = esoConditions(status.Conditions, before, kseal.GetConditions(), storeReasonForESO)
		if status.Capabilities == "" {
			status.Capabilities = esov1.CapabilitiesReadOnly
		}
		if err := patchStatus(ctx, r.inner.Client, base, eso); err != nil && retErr == nil {
			retErr = err
		}
	}()
	return r.inner.validate(ctx, kseal)
}
