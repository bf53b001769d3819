package controllers

import (
	"crypto/sha3"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// esoObjectHash is the hash ESO records on Secrets and in
// syncedResourceVersion: SHA3-224 of the value printed with %+v. Computed
// the same way, kseal can tell a Secret ESO wrote and did not see edited,
// and ESO can tell the Secrets kseal wrote after a way back.
func esoObjectHash(v any) string {
	sum := sha3.Sum224([]byte(fmt.Sprintf("%+v", v)))
	return hex.EncodeToString(sum[:])
}

// esoResourceVersion is ESO's syncedResourceVersion for an object:
// "<generation>-<hash of its annotations and labels>", so a change to the
// spec or to the metadata (the force-sync annotation) refreshes it.
func esoResourceVersion(m *metav1.ObjectMeta) string {
	type meta struct {
		annotations map[string]string
		labels      map[string]string
	}
	return fmt.Sprintf("%d-%s", m.Generation, esoObjectHash(meta{annotations: m.Annotations, labels: m.Labels}))
}

// esoIntact reports whether a Secret that kseal never wrote still holds the
// data ESO recorded in its data hash (nobody edited it since).
func esoIntact(s *corev1.Secret) bool {
	if _, stripped := cachedHash(s); stripped {
		return false // kseal wrote it (only those are cached): not ESO's write
	}
	h := s.Annotations[esov1.AnnotationDataHash]
	return s.Annotations[AnnotationDataHash] == "" && s.Labels[esov1.LabelManaged] == "true" && h != "" && h == esoObjectHash(s.Data)
}

// secretWrittenByESO recognises, for an ExternalSecret taken over from ESO,
// a Secret ESO wrote that already holds exactly what kseal would write:
// the same data (the fetched values, rendered), ESO's labels and a data
// hash that matches, and the owner kseal would set. Nothing is written; the
// Secret keeps ESO's bookkeeping until its data changes.
func secretWrittenByESO(in policyInput) (action, string, string, bool) {
	l, s := in.legacy, in.secret
	if _, stripped := cachedHash(s); stripped || !in.eso || l == nil || s.Annotations[AnnotationSealedHash] != "" || s.Labels[esov1.LabelManaged] != "true" {
		return 0, "", "", false
	}
	if dataHash(s, in.keys) != l.dataHash || !ownerCurrent(in) || !subset(l.labels, s.Labels) || !subset(l.annotations, s.Annotations) {
		return 0, "", "", false
	}
	return actionNone, v1alpha1.ReasonSecretSynced, messageUpToDate, true
}

// externalSecretFromESO is kseal's view of ESO's ExternalSecret: the same
// metadata and spec, and a status that says "synced" only when ESO's
// record matches this generation and metadata.
func externalSecretFromESO(eso *esov1.ExternalSecret) *v1alpha1.ExternalSecret {
	es := &v1alpha1.ExternalSecret{ObjectMeta: *eso.ObjectMeta.DeepCopy(), Spec: *eso.Spec.DeepCopy()}
	es.Status.ObservedGeneration = es.Generation
	es.Status.RefreshTime = eso.Status.RefreshTime
	if v := eso.Status.SyncedResourceVersion; v != "" && v == esoResourceVersion(&eso.ObjectMeta) {
		es.Status.SyncedResourceVersion = syncVersion(es)
		recordForceSync(es) // the annotation is part of ESO's version
	} else {
		es.Status.SyncedResourceVersion = "eso:" + v // never a kseal version: syncs
	}
	es.Status.Conditions = conditionsFromESO(eso.Status.Conditions, es.Generation)
	return es
}

// esoStatusFrom writes what the steps recorded on es (read from eso,
// before: as it was then) back into eso's status, in ESO's shape.
func esoStatusFrom(eso *esov1.ExternalSecret, before, es *v1alpha1.ExternalSecret) {
	eso.Status.RefreshTime = es.Status.RefreshTime
	if es.Status.SyncedResourceVersion == syncVersion(es) {
		eso.Status.SyncedResourceVersion = esoResourceVersion(&eso.ObjectMeta)
	}
	eso.Status.Conditions = esoConditions(eso.Status.Conditions, before.Status.Conditions, es.Status.Conditions, externalSecretReasonForESO)
	if apimeta.IsStatusConditionTrue(es.Status.Conditions, v1alpha1.ConditionReady) && creationPolicy(es) != v1alpha1.CreationPolicyNone {
		eso.Status.Binding = corev1.LocalObjectReference{Name: targetName(es)}
	}
}

// conditionsFromESO turns ESO's Ready condition into kseal's.
func conditionsFromESO(conds []esov1.Condition, generation int64) []metav1.Condition {
	for _, c := range conds {
		if c.Type != esov1.ConditionReady {
			continue
		}
		reason := c.Reason
		if reason == "" {
			reason = "Unknown"
		}
		return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionStatus(c.Status), Reason: reason,
			Message: c.Message, LastTransitionTime: c.LastTransitionTime, ObservedGeneration: generation}}
	}
	return nil
}

// esoConditions returns ESO's conditions after a reconcile: unchanged when
// kseal's Ready did not change (so a reconcile that found nothing to do
// patches nothing), else with Ready set from kseal's, its reason mapped by
// reasonFor. kseal's Stalled and Reconciling have no place in ESO's shape.
func esoConditions(current []esov1.Condition, before, after []metav1.Condition, reasonFor func(metav1.Condition) (string, string)) []esov1.Condition {
	a := apimeta.FindStatusCondition(after, v1alpha1.ConditionReady)
	if a == nil {
		return current
	}
	if b := apimeta.FindStatusCondition(before, v1alpha1.ConditionReady); b != nil && b.Status == a.Status && b.Reason == a.Reason && b.Message == a.Message {
		return current
	}
	reason, message := reasonFor(*a)
	ready := esov1.Condition{Type: esov1.ConditionReady, Status: corev1.ConditionStatus(a.Status), Reason: reason, Message: message, LastTransitionTime: a.LastTransitionTime}
	out := []esov1.Condition{ready}
	for _, c := range current {
		if c.Type != esov1.ConditionReady {
			out = append(out, c)
		}
	}
	return out
}

// externalSecretReasonForESO maps kseal's Ready reason to ESO's:
// SecretSynced and SecretDeleted are ESO's own; every failure is
// SecretSyncedError, with kseal's reason leading the message.
func externalSecretReasonForESO(c metav1.Condition) (string, string) {
	switch {
	case c.Status == metav1.ConditionTrue && (c.Reason == v1alpha1.ReasonSecretSynced || c.Reason == v1alpha1.ReasonSecretDeleted):
		return c.Reason, c.Message
	case c.Status == metav1.ConditionTrue:
		return esov1.ReasonSecretSynced, c.Message
	}
	return esov1.ReasonSecretSyncedError, c.Reason + ": " + c.Message
}

// storeReasonForESO maps a store's Ready reason: kseal's are ESO's (Valid,
// ValidationFailed); an invalid configuration is InvalidProviderConfig.
func storeReasonForESO(c metav1.Condition) (string, string) {
	switch c.Reason {
	case v1alpha1.ReasonStoreValid, v1alpha1.ReasonStoreInvalid:
		return c.Reason, c.Message
	}
	if c.Status == metav1.ConditionTrue {
		return esov1.ReasonStoreValid, c.Message
	}
	return esov1.ReasonInvalidProviderConfig, c.Message
}
