package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// This file holds the ExternalSecret fields that shape templates, rename
// keys and decode values, with External Secrets Operator v1's names and
// values. Fields kseal does not implement are in the schema so that an ESO
// manifest is refused with a message that says what to write instead,
// rather than as an unknown field.

// RefreshPolicy says when an ExternalSecret fetches its values again.
// +kubebuilder:validation:Enum=CreatedOnce;Periodic;OnChange
type RefreshPolicy string

// Refresh policies (ESO semantics).
const (
	// RefreshPolicyPeriodic refreshes every refreshInterval and on every
	// spec change (default).
	RefreshPolicyPeriodic RefreshPolicy = "Periodic"
	// RefreshPolicyOnChange refreshes only when the spec (or the force-sync
	// annotation) changes.
	RefreshPolicyOnChange RefreshPolicy = "OnChange"
	// RefreshPolicyCreatedOnce fetches once: a Secret that exists and is
	// intact is never refreshed.
	RefreshPolicyCreatedOnce RefreshPolicy = "CreatedOnce"
)

// TemplateEngineVersion names a template engine; only v2 is supported.
// +kubebuilder:validation:Enum=v1;v2
// +kubebuilder:validation:XValidation:rule="self == 'v2'",message="template engineVersion v1 is not supported by kseal (ESO deprecated and removed it): write engineVersion: v2 and the v2 syntax ({{ .key }} instead of {{ .key | toString }})"
type TemplateEngineVersion string

// TemplateEngineV2 is ESO's v2 engine: Go templates with Sprig and ESO's
// functions.
const TemplateEngineV2 TemplateEngineVersion = "v2"

// TemplateMergePolicy says whether the templated keys replace or join the
// fetched ones.
// +kubebuilder:validation:Enum=Replace;Merge
type TemplateMergePolicy string

// Template merge policies.
const (
	// MergePolicyReplace: when the template has data or templateFrom, the
	// Secret holds only the templated keys (default).
	MergePolicyReplace TemplateMergePolicy = "Replace"
	// MergePolicyMerge: the templated keys are added to the fetched keys,
	// and win on a clash.
	MergePolicyMerge TemplateMergePolicy = "Merge"
)

// TemplateFrom renders the templates of a ConfigMap, a Secret or a literal.
// +kubebuilder:validation:XValidation:rule="(has(self.configMap) ? 1 : 0) + (has(self.secret) ? 1 : 0) + (has(self.literal) ? 1 : 0) <= 1",message="give at most one of configMap, secret and literal in one templateFrom entry"
type TemplateFrom struct {
	// ConfigMap holds templates, in the ExternalSecret's namespace.
	// +optional
	ConfigMap *TemplateRef `json:"configMap,omitempty"`
	// Secret holds templates, in the ExternalSecret's namespace.
	// +optional
	Secret *TemplateRef `json:"secret,omitempty"`
	// Target is where the output goes: Data (default), Annotations or
	// Labels (case-insensitive).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii() in ['data', 'annotations', 'labels']",message="templateFrom target must be Data, Annotations or Labels: kseal writes no other field of the Secret"
	Target string `json:"target,omitempty"`
	// Literal is a template rendered as KeysAndValues: its output is a
	// YAML map of keys to values.
	// +optional
	// +kubebuilder:validation:MaxLength=131072
	Literal *string `json:"literal,omitempty"`
	// ValuesDecodingStrategy decodes each rendered value: None (default),
	// Base64, Base64URL or Auto.
	// +optional
	ValuesDecodingStrategy DecodingStrategy `json:"valuesDecodingStrategy,omitempty"`
}

// TemplateScope says how a templateFrom item is used.
// +kubebuilder:validation:Enum=Values;KeysAndValues
type TemplateScope string

// Template scopes.
const (
	// TemplateScopeValues: the item's key is the output key and its value
	// the template (default).
	TemplateScopeValues TemplateScope = "Values"
	// TemplateScopeKeysAndValues: the item's value is a template whose
	// output is a YAML map of keys to values.
	TemplateScopeKeysAndValues TemplateScope = "KeysAndValues"
)

// TemplateRef names a ConfigMap or Secret and the keys of it that hold
// templates.
type TemplateRef struct {
	// Name of the ConfigMap or Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Items are the keys that hold templates.
	// +kubebuilder:validation:MaxItems=256
	Items []TemplateRefItem `json:"items"`
}

// TemplateRefItem is one key holding a template.
type TemplateRefItem struct {
	// Key in the ConfigMap or Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
	// TemplateAs: Values (default) or KeysAndValues.
	// +optional
	TemplateAs TemplateScope `json:"templateAs,omitempty"`
}

// ManifestReference names a resource kind other than Secret (not
// supported by kseal).
type ManifestReference struct {
	// APIVersion of the resource.
	APIVersion string `json:"apiVersion"`
	// Kind of the resource.
	Kind string `json:"kind"`
}

// MetadataPolicy says whether a reference reads a remote secret's value or
// its metadata.
// +kubebuilder:validation:Enum=None;Fetch
type MetadataPolicy string

// Metadata policies.
const (
	// MetadataPolicyNone reads the value (default).
	MetadataPolicyNone MetadataPolicy = "None"
	// MetadataPolicyFetch reads the metadata (Vault KV v2 custom_metadata,
	// AWS Secrets Manager tags).
	MetadataPolicyFetch MetadataPolicy = "Fetch"
)

// ConversionStrategy says how remote names become Secret keys.
// +kubebuilder:validation:Enum=Default;Unicode
type ConversionStrategy string

// Conversion strategies.
const (
	// ConversionDefault replaces every character a Secret key cannot hold
	// with "_" (default).
	ConversionDefault ConversionStrategy = "Default"
	// ConversionUnicode replaces it with "_U" + its code point as 4 hex
	// digits + "_" (for example "$" becomes "_U0024_").
	ConversionUnicode ConversionStrategy = "Unicode"
)

// DecodingStrategy says how a fetched value is decoded.
// +kubebuilder:validation:Enum=Auto;Base64;Base64URL;None
type DecodingStrategy string

// Decoding strategies.
const (
	// DecodeNone keeps the value as it is (default).
	DecodeNone DecodingStrategy = "None"
	// DecodeBase64 decodes standard, padded base64.
	DecodeBase64 DecodingStrategy = "Base64"
	// DecodeBase64URL decodes URL-safe, padded base64.
	DecodeBase64URL DecodingStrategy = "Base64URL"
	// DecodeAuto tries Base64, then Base64URL, and else keeps the value.
	DecodeAuto DecodingStrategy = "Auto"
)

// NullBytePolicy says whether a value may hold a NUL byte.
// +kubebuilder:validation:Enum=Ignore;Fail
type NullBytePolicy string

// Null byte policies.
const (
	// NullBytePolicyIgnore accepts NUL bytes (default).
	NullBytePolicyIgnore NullBytePolicy = "Ignore"
	// NullBytePolicyFail refuses a value that holds a NUL byte.
	NullBytePolicyFail NullBytePolicy = "Fail"
)

// ExternalSecretRewrite is one renaming of the keys of a dataFrom entry.
// +kubebuilder:validation:XValidation:rule="(has(self.regexp) ? 1 : 0) + (has(self.transform) ? 1 : 0) + (has(self.merge) ? 1 : 0) == 1",message="give exactly one of regexp, transform and merge in one rewrite entry"
type ExternalSecretRewrite struct {
	// Regexp replaces matches of source in each key with target (Go
	// regexp syntax; $1 and ${name} refer to groups).
	// +optional
	Regexp *ExternalSecretRewriteRegexp `json:"regexp,omitempty"`
	// Transform renders template over .value, the key, to give the new
	// key.
	// +optional
	Transform *ExternalSecretRewriteTransform `json:"transform,omitempty"`
	// Merge reads every value as a JSON object and merges their fields,
	// as External Secrets Operator does: into top-level keys (strategy
	// Extract) or into one key holding the merged JSON (strategy JSON).
	// +optional
	Merge *ExternalSecretRewriteMerge `json:"merge,omitempty"`
}

// ExternalSecretRewriteRegexp replaces regexp matches in keys.
type ExternalSecretRewriteRegexp struct {
	// Source is a Go regular expression.
	// +kubebuilder:validation:MaxLength=1024
	Source string `json:"source"`
	// Target replaces each match.
	// +kubebuilder:validation:MaxLength=1024
	Target string `json:"target"`
}

// ExternalSecretRewriteTransform renames keys with a template.
type ExternalSecretRewriteTransform struct {
	// Template is a Go template over .value (the key), for example
	// "{{ .value | upper }}".
	// +kubebuilder:validation:MaxLength=16384
	Template string `json:"template"`
}

// ExternalSecretRewriteMerge merges the JSON objects of all values of a
// dataFrom entry. Values are merged in the alphabetical order of their
// keys, then the keys of priority in the order given: a later value's field
// overwrites an earlier one's, and such a clash fails the sync unless
// conflictPolicy is Ignore.
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || self.strategy != 'JSON' || has(self.into)",message="merge strategy JSON needs into: the key that holds the merged JSON"
type ExternalSecretRewriteMerge struct {
	// Into is the key that receives the merged JSON (strategy JSON; it
	// replaces a key of that name). Ignored by strategy Extract.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Into string `json:"into,omitempty"`
	// Priority lists keys merged last, in this order, so their fields win.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	Priority []string `json:"priority,omitempty"`
	// PriorityPolicy says what a priority key missing from the values
	// does: Strict (default) fails the sync, IgnoreNotFound skips it.
	// +kubebuilder:default=Strict
	// +optional
	PriorityPolicy MergePriorityPolicy `json:"priorityPolicy,omitempty"`
	// ConflictPolicy says what a field present in more than one value
	// does: Error (default) fails the sync naming the fields, Ignore lets
	// the later value win.
	// +kubebuilder:default=Error
	// +optional
	ConflictPolicy MergeConflictPolicy `json:"conflictPolicy,omitempty"`
	// Strategy is Extract (default: the merged fields become the keys) or
	// JSON (the other keys are kept and into holds the merged object).
	// +kubebuilder:default=Extract
	// +optional
	Strategy MergeStrategy `json:"strategy,omitempty"`
}

// MergePriorityPolicy is what a missing priority key does.
// +kubebuilder:validation:Enum=IgnoreNotFound;Strict
type MergePriorityPolicy string

// Merge priority policies.
const (
	MergePriorityStrict         MergePriorityPolicy = "Strict"
	MergePriorityIgnoreNotFound MergePriorityPolicy = "IgnoreNotFound"
)

// MergeConflictPolicy is what a field in more than one value does.
// +kubebuilder:validation:Enum=Ignore;Error
type MergeConflictPolicy string

// Merge conflict policies.
const (
	MergeConflictError  MergeConflictPolicy = "Error"
	MergeConflictIgnore MergeConflictPolicy = "Ignore"
)

// MergeStrategy is where merged fields go.
// +kubebuilder:validation:Enum=Extract;JSON
// +kubebuilder:validation:MaxLength=16
type MergeStrategy string

// Merge strategies.
const (
	MergeStrategyExtract MergeStrategy = "Extract"
	MergeStrategyJSON    MergeStrategy = "JSON"
)

// StoreSourceRef names the store one data entry is fetched from.
type StoreSourceRef struct {
	// StoreRef names the store.
	// +optional
	StoreRef *SecretStoreRef `json:"storeRef,omitempty"`
	// GeneratorRef is accepted for ESO compatibility and refused: as in
	// ESO, generators work in dataFrom only.
	// +optional
	// +kubebuilder:validation:XValidation:rule="false",message="generatorRef is not allowed in data[].sourceRef (External Secrets Operator does not implement it there either): move it to dataFrom[].sourceRef.generatorRef"
	GeneratorRef *GeneratorRef `json:"generatorRef,omitempty"`
}

// StoreGeneratorSourceRef names the store or the generator one dataFrom
// entry takes its values from.
// +kubebuilder:validation:XValidation:rule="!(has(self.storeRef) && has(self.generatorRef))",message="give one of storeRef and generatorRef in one sourceRef"
type StoreGeneratorSourceRef struct {
	// StoreRef names the store.
	// +optional
	StoreRef *SecretStoreRef `json:"storeRef,omitempty"`
	// GeneratorRef names a generator of the ExternalSecret's namespace
	// whose output becomes the entry's keys (kind Password).
	// +optional
	GeneratorRef *GeneratorRef `json:"generatorRef,omitempty"`
}

// GeneratorRef names a generator in the ExternalSecret's namespace.
type GeneratorRef struct {
	// APIVersion of the generator: kseal.dev/v1alpha1, or ESO's
	// generators.external-secrets.io/v1alpha1 (which names the kseal
	// kind of the same name, so a manifest moves unchanged).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the generator: Password (other ESO generator kinds and
	// ClusterGenerator are refused with reason InvalidSpec).
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
	// Name of the generator.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ExternalSecretSyncWindows is ESO's sync windows (refused by kseal).
type ExternalSecretSyncWindows struct {
	// Kind is allow or deny.
	Kind string `json:"kind"`
	// Windows are the windows.
	Windows []ExternalSecretSyncWindow `json:"windows"`
}

// ExternalSecretSyncWindow is one sync window.
type ExternalSecretSyncWindow struct {
	// Schedule is a cron expression.
	Schedule string `json:"schedule"`
	// Duration is the window's length.
	Duration metav1.Duration `json:"duration"`
}
