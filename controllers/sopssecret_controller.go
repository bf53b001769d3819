package controllers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/template"
	"github.com/kseal-dev/kseal/providers"
)

// sopsSecretReconciler decrypts SopsSecrets in the cluster with the
// controller's age identities and keeps their Secrets, with the same
// rule set, writer and conditions as SealedSecrets.
type sopsSecretReconciler struct {
	client.Client
	// keys gives the age identities: the SOPS identity of every key
	// generation (never the v2 one, except in generations made before kseal
	// separated them, where one identity serves both).
	keys keys.Source
	// recorder records events; they never contain secret values.
	recorder record.EventRecorder
	// api reads from the API server what the cache leaves out (the
	// document).
	api client.Reader
	// keysReady is closed once the keys have loaded (nil: not waited for).
	keysReady <-chan struct{}
	// retry re-queues SopsSecrets that are not Ready after a key change.
	retry *keyRetry
	// reload restarts workloads after a data change; nil when off.
	reload *reloader
	// shards, when set, limits the work to this replica's shards.
	shards *shardSet
}

// SetupWithManager registers the reconciler.
func (r *sopsSecretReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.SopsSecret{}).
		Owns(&corev1.Secret{})
	if r.retry != nil {
		b = b.WatchesRawSource(r.retry.source())
	}
	return r.shards.complete(b, controllerOptions(2), r, func() client.ObjectList { return &v1alpha1.SopsSecretList{} })
}

// +kubebuilder:rbac:groups=kseal.dev,resources=sopssecrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=kseal.dev,resources=sopssecrets/status,verbs=get;update;patch

// Reconcile decrypts one SopsSecret when its content or Secret changed.
func (r *sopsSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return reconcileObject(ctx, r.Client, req, &v1alpha1.SopsSecret{}, nil, r.reconcile)
}

// reconcile runs the steps: decide from the hashes, then (only when the
// Secret must change) read the document, decrypt and write.
func (r *sopsSecretReconciler) reconcile(ctx context.Context, obj *v1alpha1.SopsSecret) (reconcile.Result, error) {
	var identities []age.Identity
	if !awaitKeys(ctx, r.keysReady, func() bool { identities = sopsIdentities(r.keys); return len(identities) > 0 }) {
		setWaiting(obj, "waiting for the controller's keys to load")
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	secret, err := currentSecret(ctx, r.Client, obj, lookupMeta)
	if err != nil {
		return reconcile.Result{}, err
	}
	in := sopsSecretInput(obj, secret)
	act, reason, message := decide(in)
	full := obj
	if act == actionCreate || act == actionUpdate {
		if full, err = fullObject(ctx, r.api, obj); err != nil || full == nil {
			return reconcile.Result{}, err
		}
		in = sopsSecretInput(full, secret)
		act, reason, message = decide(in)
	}
	switch act {
	case actionNone:
		setReadyTrue(obj, reason, message)
		return reconcile.Result{}, labelWritten(ctx, r.Client, in)
	case actionRefuse:
		r.event(obj, corev1.EventTypeWarning, reason, message)
		return fail(obj, terminal(reason, errors.New(message)), 0)
	}
	desired, err := r.decrypt(full, identities)
	if err != nil {
		r.event(obj, corev1.EventTypeWarning, EventUnsealFailed, err.Error())
		return fail(obj, terminal(sopsReason(err), err), 0)
	}
	if err := writeTargetSecret(ctx, r.Client, full, in, desired, "", act, r.reload); err != nil {
		return fail(obj, retryable(v1alpha1.ReasonProgressing, fmt.Errorf("writing the Secret failed: %w", err)), 0)
	}
	wasReady := isReady(obj)
	setReadyTrue(obj, v1alpha1.ReasonUnsealed, messageUpToDate)
	if wasReady {
		// As for SealedSecrets: a first write shows in the Ready condition.
		r.event(obj, corev1.EventTypeNormal, EventUnsealed, "Secret "+obj.Name+" written")
	}
	return reconcile.Result{}, nil
}

// sopsSecretInput builds the policy input for a SopsSecret.
func sopsSecretInput(obj *v1alpha1.SopsSecret, secret *corev1.Secret) policyInput {
	hash, ok := cachedHash(obj)
	if !ok {
		hash = sopsHash(obj)
	}
	return policyInput{
		kind:       "SopsSecret",
		name:       obj.Name,
		ownerUID:   obj.UID,
		skipOwner:  annotated([]string{v1alpha1.AnnotationSkipSetOwnerReferences}, obj.Annotations),
		secret:     secret,
		sealedHash: hash,
	}
}

// decrypt opens the document and renders the Secret.
func (r *sopsSecretReconciler) decrypt(obj *v1alpha1.SopsSecret, identities []age.Identity) (*corev1.Secret, error) {
	format := sops.FormatYAML
	switch obj.Spec.Format {
	case v1alpha1.SopsFormatJSON:
		format = sops.FormatJSON
	case v1alpha1.SopsFormatDotenv:
		format = sops.FormatDotenv
	}
	d, err := sops.New(identities, sops.Options{})
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("SopsSecret %s/%s spec.sops", obj.Namespace, obj.Name)
	plain, err := d.DecryptBound(name, []byte(obj.Spec.Sops), format, sops.Target{Namespace: obj.Namespace, Name: obj.Name})
	decryptionsTotal.WithLabelValues("sops").Inc()
	if err != nil {
		return nil, err
	}
	data, err := topLevelValues(plain, format)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := template.Render(obj.Spec.Template.Data, data); err != nil {
		return nil, err
	}
	meta := obj.Spec.Template.Metadata
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(meta.Labels), Annotations: maps.Clone(meta.Annotations)},
		Type:       obj.Spec.Template.Type,
		Immutable:  obj.Spec.Template.Immutable,
		Data:       data,
	}
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	return s, nil
}

// errNotMapping: the decrypted document is not a mapping of keys to values.
var errNotMapping = errors.New("the decrypted document is not a mapping of keys to values")

// topLevelValues turns a decrypted document into Secret data.
func topLevelValues(plain []byte, f sops.Format) (map[string][]byte, error) {
	out := map[string][]byte{}
	if f == sops.FormatDotenv {
		sc := bufio.NewScanner(bytes.NewReader(plain))
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, errNotMapping
			}
			out[k] = []byte(v)
		}
		return out, sc.Err()
	}
	var doc map[string]any
	if err := yaml.Unmarshal(plain, &doc); err != nil || doc == nil {
		return nil, errNotMapping
	}
	for k, v := range doc {
		b, err := providers.EncodeField(v)
		if err != nil {
			return nil, errNotMapping
		}
		out[k] = b
	}
	return out, nil
}

// sopsReason maps a SOPS failure to a Ready reason.
func sopsReason(err error) string {
	var ke *sops.KeyError
	switch {
	case errors.As(err, &ke) && !ke.Corrupt:
		return v1alpha1.ReasonUnknownKey
	case errors.Is(err, sops.ErrScope):
		return v1alpha1.ReasonScopeMismatch
	case errors.Is(err, template.ErrTemplate):
		return v1alpha1.ReasonTemplateError
	}
	return v1alpha1.ReasonCorruptData
}

// sopsIdentities returns the identities that open SOPS documents
// encrypted to the controller's keys.
func sopsIdentities(src keys.Source) []age.Identity {
	var ids []age.Identity
	for _, k := range src.Keyring().Keys() {
		if k.Sops != nil {
			ids = append(ids, k.Sops)
		}
	}
	return ids
}

// sopsHash fingerprints what decides the Secret's content.
func sopsHash(obj *v1alpha1.SopsSecret) string {
	// Binding names the rule the document was checked by, so Secrets
	// written before documents had to carry kseal.dev/scope are decrypted
	// (and checked) once more.
	b, _ := json.Marshal(struct {
		Namespace, Name string
		Spec            v1alpha1.SopsSecretSpec
		Binding         string
	}{obj.Namespace, obj.Name, obj.Spec, sops.ScopeKey})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (r *sopsSecretReconciler) event(obj *v1alpha1.SopsSecret, typ, reason, msg string) {
	if r.recorder != nil {
		r.recorder.Event(obj, typ, reason, msg)
	}
}
