package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// write puts the fetched data into the target Secret through the shared
// rule set and writer: a refresh that found the same values writes nothing.
func (r *externalSecretReconciler) write(ctx context.Context, es *v1alpha1.ExternalSecret, current *corev1.Secret, out *renderedSecret) error {
	desired := desiredSecret(es, current, out)
	r.adopt.decorate(es, current, desired)
	in := externalSecretInput(es, current, desired)
	in.eso = r.adopt != nil
	act, reason, message := decide(in)
	switch act {
	case actionNone:
		return nil
	case actionRefuse:
		return terminal(reason, errors.New(message))
	}
	if err := writeTargetSecret(ctx, r.Client, r.adopt.owner(es), in, desired, "", act, r.reload); err != nil {
		return retryable(v1alpha1.ReasonProviderError, fmt.Errorf("writing Secret %s: %w", in.name, err))
	}
	return nil
}

// desiredSecret is the Secret the ExternalSecret asks for: the rendered
// data and metadata with the template's type. A Secret's type cannot
// change, so an existing Secret keeps its own.
func desiredSecret(es *v1alpha1.ExternalSecret, current *corev1.Secret, out *renderedSecret) *corev1.Secret {
	s := &corev1.Secret{Data: out.data, Type: corev1.SecretTypeOpaque}
	s.Labels = maps.Clone(out.labels)
	s.Annotations = maps.Clone(out.annotations)
	if t := es.Spec.Target.Template; t != nil {
		if t.Type != "" {
			s.Type = t.Type
		}
	}
	if current != nil {
		s.Type = current.Type
		s.Immutable = current.Immutable
	}
	if es.Spec.Target.Immutable && creationPolicy(es) != v1alpha1.CreationPolicyMerge {
		yes := true
		s.Immutable = &yes
	}
	return s
}

// externalSecretInput expresses the creation policy in the shared policy
// input: Owner owns the Secret, Orphan writes it without an owner, Merge
// patches the fetched keys into an existing Secret.
func externalSecretInput(es *v1alpha1.ExternalSecret, current, desired *corev1.Secret) policyInput {
	policy := creationPolicy(es)
	in := policyInput{
		kind:            "ExternalSecret",
		name:            targetName(es),
		ownerUID:        es.UID,
		patch:           policy == v1alpha1.CreationPolicyMerge,
		requireExisting: policy == v1alpha1.CreationPolicyMerge,
		skipOwner:       policy == v1alpha1.CreationPolicyOrphan,
		secret:          current,
	}
	if in.patch {
		in.keys = slices.Sorted(maps.Keys(desired.Data))
	}
	in.sealedHash = externalSecretHash(es, desired, in.keys)
	if current != nil {
		// What an earlier writer would have recorded for the same result.
		merged := current.DeepCopy()
		if in.patch {
			if merged.Data == nil {
				merged.Data = map[string][]byte{}
			}
			maps.Copy(merged.Data, desired.Data)
		} else {
			merged.Data = desired.Data
		}
		in.legacy = &legacyWrite{dataHash: dataHash(merged, in.keys), labels: desired.Labels, annotations: desired.Annotations}
	}
	return in
}

// externalSecretHash fingerprints what decides the Secret: the target's
// name, policy and metadata, and the data to write.
func externalSecretHash(es *v1alpha1.ExternalSecret, desired *corev1.Secret, keys []string) string {
	b, _ := json.Marshal(struct {
		Namespace, Name     string
		Policy              v1alpha1.CreationPolicy
		Labels, Annotations map[string]string
		Immutable           *bool
		Data                string
	}{es.Namespace, targetName(es), creationPolicy(es), desired.Labels, desired.Annotations, desired.Immutable, dataHash(desired, keys)})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// deleteGone applies deletionPolicy Delete: every remote value is gone, so
// the Secret this ExternalSecret controls is deleted, and the status reads
// Ready with reason SecretDeleted (as External Secrets Operator reports it).
// A Secret kseal does not control is never deleted.
func (r *externalSecretReconciler) deleteGone(ctx context.Context, es *v1alpha1.ExternalSecret, secret *corev1.Secret) (string, string, error) {
	if secret != nil && !ownedBy(secret, es.UID, creationPolicy(es) == v1alpha1.CreationPolicyOrphan) {
		return "", "", terminal(v1alpha1.ReasonSecretNotOwned, fmt.Errorf("every remote value is gone, but Secret %s is not managed by this ExternalSecret: it is left alone", secret.Name))
	}
	if secret != nil {
		if err := r.Delete(ctx, secret, &client.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &secret.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return "", "", retryable(v1alpha1.ReasonProviderError, fmt.Errorf("deleting Secret %s: %w", secret.Name, err))
		}
		r.event(es, corev1.EventTypeNormal, EventDeleted, "every remote value is gone; Secret "+secret.Name+" deleted (deletionPolicy Delete)")
	}
	return v1alpha1.ReasonSecretDeleted, "every remote value is gone; Secret " + targetName(es) + " deleted (deletionPolicy Delete)", nil
}
