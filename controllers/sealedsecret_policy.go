package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// Annotations kseal records on the Secrets it writes.
const (
	// AnnotationSealedHash is the hash of the SealedSecret content the
	// Secret was made from; equal hashes mean nothing needs decrypting.
	AnnotationSealedHash = "kseal.dev/sealed-hash"
	// AnnotationDataHash is the hash of the data kseal wrote; a different
	// hash of the current data means the Secret was edited by hand.
	AnnotationDataHash = "kseal.dev/data-hash"
	// AnnotationUnsealedWith names the key that opened the SealedSecret, so
	// v1 items try it first next time.
	AnnotationUnsealedWith = "kseal.dev/unsealed-with"
)

// messageUpToDate is the Ready message of a source whose Secret matches it;
// one message for both paths, so confirming a Secret writes no status.
const messageUpToDate = "Secret is up to date"

// action is what the reconciler does with the target Secret.
type action int

const (
	actionCreate action = iota
	actionUpdate
	actionNone
	actionRefuse
)

// policyInput is what the target-Secret policies look at. It describes the
// source object (a SealedSecret or SopsSecret) by what the policies need.
type policyInput struct {
	// ownerUID is the source object's UID.
	ownerUID types.UID
	// patch merges into a Secret without owning it; keys then lists the
	// data keys the source manages.
	patch bool
	keys  []string
	// skipOwner writes the Secret without an owner reference.
	skipOwner bool
	// secret is the current target Secret, nil when absent.
	secret *corev1.Secret
	// sealedHash fingerprints the source content.
	sealedHash string
}

// sealedSecretInput builds the policy input for a SealedSecret.
func sealedSecretInput(ss *v1alpha1.SealedSecret, secret *corev1.Secret) policyInput {
	in := policyInput{ownerUID: ss.UID, patch: isPatchMode(ss), skipOwner: skipOwnerReferences(ss), secret: secret, sealedHash: sealedHash(ss)}
	if in.patch {
		in.keys = slices.Collect(maps.Keys(ss.Spec.EncryptedData))
		in.keys = append(in.keys, slices.Collect(maps.Keys(ss.Spec.Template.Data))...)
	}
	return in
}

// policy inspects the input and, when it applies, returns the action with
// the Ready reason and message; ok=false passes to the next policy.
type policy func(in policyInput) (act action, reason, message string, ok bool)

// secretPolicies run in order; the first that applies decides. They are pure
// functions, table-tested in sealedsecret_policy_test.go.
var secretPolicies = []policy{
	secretAbsent,
	secretNotOurs,
	secretUpToDate,
	secretImmutable,
}

func decide(in policyInput) (action, string, string) {
	for _, p := range secretPolicies {
		if act, reason, msg, ok := p(in); ok {
			return act, reason, msg
		}
	}
	return actionUpdate, v1alpha1.ReasonUnsealed, "Secret is out of date"
}

func secretAbsent(in policyInput) (action, string, string, bool) {
	if in.secret == nil {
		return actionCreate, v1alpha1.ReasonUnsealed, "Secret does not exist", true
	}
	return 0, "", "", false
}

func secretNotOurs(in policyInput) (action, string, string, bool) {
	if in.patch || ownedBy(in.secret, in.ownerUID, in.skipOwner) || isManaged(in.secret) {
		return 0, "", "", false
	}
	return actionRefuse, v1alpha1.ReasonSecretNotOwned,
		"a Secret named " + in.secret.Name + " exists and is not managed by this SealedSecret; kseal leaves it untouched (annotate it kseal.dev/managed=true to let kseal take it over)", true
}

func secretUpToDate(in policyInput) (action, string, string, bool) {
	a := in.secret.Annotations
	if a[AnnotationSealedHash] != in.sealedHash {
		return 0, "", "", false
	}
	if a[AnnotationDataHash] != dataHash(in.secret, in.keys) {
		return 0, "", "", false
	}
	if !in.patch && !in.skipOwner && !ownedBy(in.secret, in.ownerUID, false) {
		return 0, "", "", false // adopt a managed Secret
	}
	return actionNone, v1alpha1.ReasonUnsealed, messageUpToDate, true
}

func secretImmutable(in policyInput) (action, string, string, bool) {
	if in.secret.Immutable != nil && *in.secret.Immutable {
		return actionRefuse, v1alpha1.ReasonSecretImmutable,
			"the Secret is immutable and differs from the SealedSecret; delete it and kseal will create it again", true
	}
	return 0, "", "", false
}

// annotated reports whether any of the names is "true" in any of the maps.
func annotated(names []string, maps ...map[string]string) bool {
	for _, m := range maps {
		for _, n := range names {
			if m[n] == "true" {
				return true
			}
		}
	}
	return false
}

// isManaged: the existing Secret may be taken over (kseal.dev/managed or
// sealed-secrets' managed annotation).
func isManaged(secret *corev1.Secret) bool {
	return annotated([]string{v1alpha1.AnnotationManaged, v1alpha1.AnnotationBitnamiManaged}, secret.Annotations)
}

func isPatchMode(ss *v1alpha1.SealedSecret) bool {
	return annotated([]string{v1alpha1.AnnotationPatch, v1alpha1.AnnotationBitnamiPatch}, ss.Annotations, ss.Spec.Template.Metadata.Annotations)
}

func skipOwnerReferences(ss *v1alpha1.SealedSecret) bool {
	return annotated([]string{v1alpha1.AnnotationSkipSetOwnerReferences, v1alpha1.AnnotationBitnamiSkipSetOwnerReferences}, ss.Annotations, ss.Spec.Template.Metadata.Annotations)
}

// ownedBy reports whether secret is controlled by the object with uid, or
// was created by it without an owner reference (skipOwner).
func ownedBy(secret *corev1.Secret, uid types.UID, skipOwner bool) bool {
	if ref := metav1.GetControllerOf(secret); ref != nil {
		return ref.UID == uid
	}
	return skipOwner && secret.Annotations[AnnotationSealedHash] != ""
}

// sealedHash fingerprints everything that decides the Secret's content:
// namespace, name, scope annotations and spec.
func sealedHash(ss *v1alpha1.SealedSecret) string {
	scopeAnn := map[string]string{}
	for _, k := range []string{v1alpha1.AnnotationScope, v1alpha1.AnnotationBitnamiNamespaceWide, v1alpha1.AnnotationBitnamiClusterWide,
		v1alpha1.AnnotationPatch, v1alpha1.AnnotationBitnamiPatch, v1alpha1.AnnotationSkipSetOwnerReferences, v1alpha1.AnnotationBitnamiSkipSetOwnerReferences} {
		if v, ok := ss.Annotations[k]; ok {
			scopeAnn[k] = v
		}
	}
	b, _ := json.Marshal(struct {
		Namespace, Name string
		Annotations     map[string]string
		Spec            v1alpha1.SealedSecretSpec
	}{ss.Namespace, ss.Name, scopeAnn, ss.Spec})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// dataHash fingerprints the Secret's data (only keys, when given) and type.
// Anyone who can read the annotation can read the data itself, so the hash
// reveals nothing new.
func dataHash(secret *corev1.Secret, keys []string) string {
	data := secret.Data
	if keys != nil {
		data = map[string][]byte{}
		for _, k := range keys {
			if v, ok := secret.Data[k]; ok {
				data[k] = v
			}
		}
	}
	h := sha256.New()
	h.Write([]byte(secret.Type))
	for _, k := range slices.Sorted(maps.Keys(data)) {
		h.Write([]byte{0})
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(data[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
