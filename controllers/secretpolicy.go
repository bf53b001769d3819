package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"

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
	// AnnotationManagedKeys lists (comma-separated) the data keys a
	// patch-mode write (SealedSecret patch, ExternalSecret Merge) manages,
	// so drift is checked only on those.
	AnnotationManagedKeys = "kseal.dev/managed-keys"
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
// source object (a SealedSecret, SopsSecret or ExternalSecret) by what the
// policies need, so all three kinds share one rule set and one writer.
type policyInput struct {
	// kind names the source kind in messages.
	kind string
	// name is the target Secret's name.
	name string
	// ownerUID is the source object's UID.
	ownerUID types.UID
	// patch merges into a Secret without owning it; keys then lists the
	// data keys the source manages.
	patch bool
	keys  []string
	// requireExisting refuses to create the Secret (ExternalSecret's
	// creationPolicy Merge).
	requireExisting bool
	// skipOwner writes the Secret without an owner reference.
	skipOwner bool
	// secret is the current target Secret, nil when absent.
	secret *corev1.Secret
	// sealedHash fingerprints the source content (for an ExternalSecret:
	// its target spec and the fetched data).
	sealedHash string
	// legacy, when set, recognises a Secret an earlier kseal wrote without
	// a source fingerprint (ExternalSecrets before one writer served all
	// kinds), so an upgrade rewrites nothing.
	legacy *legacyWrite
	// adopted: the Secret is another controller's write of the source's
	// current generation (sealed-secrets' Synced=True at this generation,
	// see adopt_bitnami.go), kept as it is until the source changes.
	adopted bool
	// mark, when set, is the sealed mark the Secret is written with (kseal's
	// own SealedSecrets, not in patch mode; see sealedmark.go).
	mark string
	// eso: the source is one of ESO's own ExternalSecrets, taken over in
	// place; a Secret ESO wrote that already holds the wanted data is
	// correct as it is (secretWrittenByESO).
	eso bool
}

// legacyWrite is what an earlier ExternalSecret writer recorded: the data
// hash of what it wrote, and the labels and annotations it copied.
type legacyWrite struct {
	dataHash    string
	labels      map[string]string
	annotations map[string]string
}

// sealedSecretInput builds the policy input for a SealedSecret.
func sealedSecretInput(ss *v1alpha1.SealedSecret, secret *corev1.Secret) policyInput {
	hash, ok := cachedHash(ss)
	if !ok {
		hash = sealedHash(ss)
	}
	in := policyInput{kind: "SealedSecret", name: ss.Name, ownerUID: ss.UID, patch: isPatchMode(ss), skipOwner: skipOwnerReferences(ss), secret: secret, sealedHash: hash}
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
// functions, table-tested in secretpolicy_test.go.
var secretPolicies = []policy{
	secretAbsent,
	secretAdopted,
	secretNotOurs,
	secretUpToDate,
	secretWrittenBefore,
	secretWrittenByESO,
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
	if in.secret != nil {
		return 0, "", "", false
	}
	if in.requireExisting {
		return actionRefuse, v1alpha1.ReasonInvalidSpec, "creationPolicy Merge needs an existing Secret " + in.name, true
	}
	return actionCreate, v1alpha1.ReasonUnsealed, "Secret does not exist", true
}

// secretAdopted keeps a Secret another controller wrote from the source's
// current content: nothing is decrypted or written.
func secretAdopted(in policyInput) (action, string, string, bool) {
	if !in.adopted || in.secret.Annotations[AnnotationSealedHash] != "" {
		return 0, "", "", false
	}
	return actionNone, v1alpha1.ReasonUnsealed, messageUpToDate, true
}

func secretNotOurs(in policyInput) (action, string, string, bool) {
	if in.patch || ownedBy(in.secret, in.ownerUID, in.skipOwner) || isManaged(in.secret) {
		return 0, "", "", false
	}
	return actionRefuse, v1alpha1.ReasonSecretNotOwned,
		"a Secret named " + in.secret.Name + " exists and is not managed by this " + in.kind + "; kseal leaves it untouched (annotate it kseal.dev/managed=true to let kseal take it over)", true
}

func secretUpToDate(in policyInput) (action, string, string, bool) {
	if in.secret.Annotations[AnnotationSealedHash] != in.sealedHash || !dataIntact(in.secret, in.keys) || !ownerCurrent(in) {
		return 0, "", "", false
	}
	return actionNone, v1alpha1.ReasonUnsealed, messageUpToDate, true
}

// secretWrittenBefore recognises a Secret written before the source
// fingerprint existed: its recorded data hash is that of the data the
// source wants, its data is intact, and the labels and annotations are in
// place. Nothing needs writing; the fingerprint is added on the next change.
func secretWrittenBefore(in policyInput) (action, string, string, bool) {
	l, a := in.legacy, in.secret.Annotations
	if l == nil || a[AnnotationSealedHash] != "" || a[AnnotationDataHash] != l.dataHash || !dataIntact(in.secret, in.keys) || !ownerCurrent(in) {
		return 0, "", "", false
	}
	if !subset(l.labels, in.secret.Labels) || !subset(l.annotations, a) {
		return 0, "", "", false
	}
	return actionNone, v1alpha1.ReasonUnsealed, messageUpToDate, true
}

// ownerCurrent: the Secret is owned as the writer would own it (an owned
// Secret that is only managed, not yet controlled, must be adopted).
func ownerCurrent(in policyInput) bool {
	return in.patch || in.skipOwner || ownedBy(in.secret, in.ownerUID, false)
}

func secretImmutable(in policyInput) (action, string, string, bool) {
	if in.secret.Immutable != nil && *in.secret.Immutable {
		return actionRefuse, v1alpha1.ReasonSecretImmutable,
			"the Secret is immutable and differs from the " + in.kind + "; delete it and kseal will create it again", true
	}
	return 0, "", "", false
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// dataIntact reports whether the data kseal recorded (only keys, when
// given) is still in the Secret. For the cache's copy without data
// (secretTransform) it compares the digest the cache took of the data as
// the API server last sent it; that digest covers every key, so only
// keys == nil can be decided from it.
func dataIntact(s *corev1.Secret, keys []string) bool {
	h := s.Annotations[AnnotationDataHash]
	if digest, stripped := cachedHash(s); stripped {
		return keys == nil && h != "" && h == digest
	}
	return h != "" && h == dataHash(s, keys)
}

// managedKeys returns the keys a patch-mode write recorded, nil when all
// keys are managed.
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
	// A Secret written without an owner carries kseal's hashes (the data
	// hash alone for ExternalSecrets written by earlier versions).
	return skipOwner && (secret.Annotations[AnnotationSealedHash] != "" || secret.Annotations[AnnotationDataHash] != "")
}

// sealedHash fingerprints everything that decides the Secret's content:
// namespace, name, scope annotations and spec.
func sealedHash(ss *v1alpha1.SealedSecret) string {
	scopeAnn := sealedInputAnnotations(ss.Annotations)
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
