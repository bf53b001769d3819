package controllers

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// writeTargetSecret creates or updates the Secret of a SealedSecret,
// SopsSecret or ExternalSecret (owner) from desired, as the policy input in
// describes and decide chose (act): in patch mode only the source's keys are
// merged and no owner is set; otherwise the Secret is replaced and owned
// (unless skipOwner). It records the content hashes that let later
// reconciles skip decryption and fetches. It is the only writer of target
// Secrets. After an update that changed the data, reload restarts the
// workloads that use the Secret (nil: rollout restarts are off).
func writeTargetSecret(ctx context.Context, c client.Client, owner client.Object, in policyInput, desired *corev1.Secret, keyName string, act action, reload *reloader) error {
	_, err := writeTarget(ctx, c, owner, in, desired, keyName, act, reload)
	return err
}

// writeTarget is writeTargetSecret, returning the Secret as the API server
// answered the write.
func writeTarget(ctx context.Context, c client.Client, owner client.Object, in policyInput, desired *corev1.Secret, keyName string, act action, reload *reloader) (*corev1.Secret, error) {
	current := in.secret
	if act != actionCreate {
		// The cache's copy has no data: patch mode merges into the
		// current data, and a rollout restart compares it.
		var err error
		if current, err = withData(ctx, c, current); err != nil {
			return nil, err
		}
	}
	var target *corev1.Secret
	if act == actionCreate {
		target = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: in.name, Namespace: owner.GetNamespace()}}
	} else {
		target = current.DeepCopy()
	}
	if target.Labels == nil {
		target.Labels = map[string]string{}
	}
	if target.Annotations == nil {
		target.Annotations = map[string]string{}
	}
	maps.Copy(target.Labels, desired.Labels)
	if !in.patch {
		target.Labels[LabelWrittenBy] = writtenByValue
	}
	maps.Copy(target.Annotations, desired.Annotations)
	delete(target.Annotations, v1alpha1.AnnotationPatch)
	if in.patch && current != nil {
		if target.Data == nil {
			target.Data = map[string][]byte{}
		}
		maps.Copy(target.Data, desired.Data)
	} else {
		target.Data = desired.Data
		target.Type = desired.Type
		target.Immutable = desired.Immutable
	}
	if act == actionCreate {
		target.Type = desired.Type
		target.Immutable = desired.Immutable
	}
	if !in.patch && !in.skipOwner {
		// A managed Secret may still be controlled by its former owner (a
		// sealed-secrets SealedSecret during migration): kseal takes over.
		if ref := metav1.GetControllerOf(target); ref != nil && ref.UID != owner.GetUID() && isManaged(target) {
			target.OwnerReferences = withoutOwner(target.OwnerReferences, ref.UID)
		}
		if err := controllerutil.SetControllerReference(owner, target, c.Scheme()); err != nil {
			return nil, err
		}
	}
	if in.patch {
		target.Annotations[AnnotationManagedKeys] = strings.Join(slices.Compact(slices.Sorted(slices.Values(in.keys))), ",")
	} else {
		delete(target.Annotations, AnnotationManagedKeys) // every key is managed
	}
	target.Annotations[AnnotationSealedHash] = in.sealedHash
	target.Annotations[AnnotationDataHash] = dataHash(target, in.keys)
	if keyName != "" {
		target.Annotations[AnnotationUnsealedWith] = keyName
	}
	if in.mark != "" {
		target.Annotations[AnnotationSealedMark] = in.mark
	} else {
		delete(target.Annotations, AnnotationSealedMark)
	}
	if act == actionCreate {
		return target, c.Create(ctx, target)
	}
	// Only an update can change data workloads already read.
	return target, reload.afterWrite(ctx, c.Update(ctx, target), owner, current, target)
}

// writtenByValue is the value of LabelWrittenBy.
const writtenByValue = "kseal"

// labelWritten adds LabelWrittenBy to an up-to-date Secret that kseal wrote
// before it set the label (the first start after an upgrade), so that the
// cache holds and watches it from then on: one metadata patch per such
// Secret, once. Patch-mode Secrets are not kseal's and stay unlabelled.
func labelWritten(ctx context.Context, c client.Client, in policyInput) error {
	s := in.secret
	if s == nil || in.patch || s.Labels[LabelWrittenBy] != "" {
		return nil
	}
	if in.adopted && s.Annotations[AnnotationSealedHash] == "" {
		return nil // another controller's Secret, kept untouched (not even labelled)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{LabelWrittenBy: writtenByValue}}})
	if err != nil {
		return err
	}
	return client.IgnoreNotFound(c.Patch(ctx, s.DeepCopy(), client.RawPatch(types.MergePatchType, patch)))
}

func withoutOwner(refs []metav1.OwnerReference, uid types.UID) []metav1.OwnerReference {
	out := refs[:0:0]
	for _, r := range refs {
		if r.UID != uid {
			out = append(out, r)
		}
	}
	return out
}
