package v1alpha1

// ConditionReady is the condition type every kseal kind reports: True when the
// Secret matches the latest spec, False with a reason when it does not.
const ConditionReady = "Ready"

// Conditions that follow the kstatus convention
// (sigs.k8s.io/cli-utils/pkg/kstatus), read by Flux's and Argo CD's health
// checks. At most one of them is True; both are absent while Ready is True.
// Each carries the same reason and message as Ready.
const (
	// ConditionStalled is True when the last reconcile failed in a way that
	// retrying does not fix (UnknownKey, ScopeMismatch, CorruptData,
	// TemplateError, InvalidSpec, SecretNotOwned, SecretImmutable,
	// StoreNotAllowed, an invalid store): the object must be changed. kstatus
	// reads it as Failed.
	ConditionStalled = "Stalled"
	// ConditionReconciling is True while the controller is still working or
	// is retrying a failure that can heal by itself (keys loading, a failed
	// Secret write, ProviderError, StoreNotFound, RemoteNotFound). kstatus
	// reads it as InProgress.
	ConditionReconciling = "Reconciling"
)

// Reasons of the Ready condition of a SealedSecret.
const (
	// ReasonUnsealed: every item was decrypted and the Secret is up to date.
	ReasonUnsealed = "Unsealed"
	// ReasonUnknownKey: no key held by the controller opened an item (sealed
	// for another cluster, or with a key that was deleted).
	ReasonUnknownKey = "UnknownKey"
	// ReasonScopeMismatch: a key opened an item but it was sealed for another
	// namespace, name or scope (for example a strict SealedSecret copied to
	// another namespace).
	ReasonScopeMismatch = "ScopeMismatch"
	// ReasonCorruptData: an item is not valid base64 or is a truncated or
	// garbled ciphertext.
	ReasonCorruptData = "CorruptData"
	// ReasonTemplateError: spec.template.data could not be rendered.
	ReasonTemplateError = "TemplateError"
	// ReasonSecretNotOwned: a Secret of that name exists and is not owned by
	// this object; it is left untouched (annotate it kseal.dev/managed: "true"
	// to let kseal adopt it).
	ReasonSecretNotOwned = "SecretNotOwned"
	// ReasonSecretImmutable: the Secret is immutable and its data differ; it
	// must be deleted for the new data to be written.
	ReasonSecretImmutable = "SecretImmutable"
	// ReasonProgressing: the object is being reconciled.
	ReasonProgressing = "Progressing"
)

// Annotations and labels shared by the CLI and the controller.
const (
	// AnnotationScope selects the sealing scope of a Secret or SealedSecret:
	// "strict" (default), "namespace-wide" or "cluster-wide".
	AnnotationScope = "kseal.dev/scope"
	// AnnotationBitnamiNamespaceWide is sealed-secrets' namespace-wide
	// annotation, accepted for compatibility.
	AnnotationBitnamiNamespaceWide = "sealedsecrets.bitnami.com/namespace-wide"
	// AnnotationBitnamiClusterWide is sealed-secrets' cluster-wide annotation,
	// accepted for compatibility.
	AnnotationBitnamiClusterWide = "sealedsecrets.bitnami.com/cluster-wide"
	// AnnotationManaged: "true" on an existing Secret lets kseal adopt it.
	AnnotationManaged = "kseal.dev/managed"
	// AnnotationPatch: "true" merges the items into an existing Secret
	// without owning it.
	AnnotationPatch = "kseal.dev/patch"
	// AnnotationSkipSetOwnerReferences: "true" leaves the Secret without an
	// owner reference, so it outlives the SealedSecret.
	AnnotationSkipSetOwnerReferences = "kseal.dev/skip-set-owner-references"
	// AnnotationBitnamiManaged, AnnotationBitnamiPatch and
	// AnnotationBitnamiSkipSetOwnerReferences are sealed-secrets' spellings,
	// accepted with the same meaning.
	AnnotationBitnamiManaged                = "sealedsecrets.bitnami.com/managed"
	AnnotationBitnamiPatch                  = "sealedsecrets.bitnami.com/patch"
	AnnotationBitnamiSkipSetOwnerReferences = "sealedsecrets.bitnami.com/skip-set-owner-references"
	// LabelSealingKey marks a key-generation Secret; value "active".
	LabelSealingKey = "kseal.dev/sealing-key"
	// LabelBitnamiSealingKey marks a sealed-secrets key Secret; value "active".
	LabelBitnamiSealingKey = "sealedsecrets.bitnami.com/sealed-secrets-key"
)

// Reasons of the Ready condition of an ExternalSecret and of a store.
const (
	// ReasonSecretSynced: values were fetched and the Secret is up to date.
	ReasonSecretSynced = "SecretSynced"
	// ReasonSecretDeleted: every remote value is gone and, as
	// deletionPolicy Delete asks, the Secret was deleted (Ready stays True,
	// as External Secrets Operator reports it).
	ReasonSecretDeleted = "SecretDeleted"
	// ReasonProviderError: the provider failed (unreachable, throttled,
	// 5xx); the last good Secret is kept and the fetch is retried.
	ReasonProviderError = "ProviderError"
	// ReasonRemoteNotFound: a remote key or property does not exist.
	ReasonRemoteNotFound = "RemoteNotFound"
	// ReasonStoreNotFound: the referenced store does not exist.
	ReasonStoreNotFound = "StoreNotFound"
	// ReasonStoreNotAllowed: the ClusterSecretStore does not allow this
	// namespace.
	ReasonStoreNotAllowed = "StoreNotAllowed"
	// ReasonInvalidSpec: the ExternalSecret or store is invalid (for
	// example a property on a non-JSON value, a bad regexp).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonStoreValid: a store's credentials were validated.
	ReasonStoreValid = "Valid"
	// ReasonStoreInvalid: a store's credentials or configuration failed
	// validation.
	ReasonStoreInvalid = "ValidationFailed"
)
