package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// SecretStoreSpec says where an ExternalSecret fetches values and with which
// credentials. Field names follow External Secrets Operator v1, so an ESO
// store moves to kseal by changing its apiVersion.
type SecretStoreSpec struct {
	// Provider holds exactly one provider configuration.
	Provider SecretStoreProvider `json:"provider"`

	// Conditions restrict which namespaces may use a ClusterSecretStore; an
	// empty list allows all. Ignored on a namespaced SecretStore.
	// +optional
	Conditions []ClusterSecretStoreCondition `json:"conditions,omitempty"`

	// Controller is ESO's controller class; kseal has none, so a value is
	// refused rather than served by a controller it was not meant for.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == ''",message="spec.controller (ESO's controller class) is not supported by kseal: remove it (kseal serves every store)"
	Controller string `json:"controller,omitempty"`
	// RetrySettings is ESO's HTTP retry tuning, refused: kseal retries each
	// provider call itself and backs off exponentially between reconciles.
	// +optional
	// +kubebuilder:validation:XValidation:rule="false",message="retrySettings are not supported by kseal: remove them (kseal retries failed provider calls itself, with exponential backoff)"
	RetrySettings *SecretStoreRetrySettings `json:"retrySettings,omitempty"`
	// RefreshInterval is how often the store's credentials are checked
	// again: a number of seconds or a Go duration ("5m"), at least one
	// minute; empty or 0 means every 10 minutes.
	// +optional
	// +kubebuilder:validation:XIntOrString
	RefreshInterval *intstr.IntOrString `json:"refreshInterval,omitempty"`
}

// SecretStoreRetrySettings is ESO's retry tuning (refused by kseal).
type SecretStoreRetrySettings struct {
	// MaxRetries is ESO's retry count.
	// +optional
	MaxRetries *int32 `json:"maxRetries,omitempty"`
	// RetryInterval is ESO's wait between retries.
	// +optional
	RetryInterval *string `json:"retryInterval,omitempty"`
}

// ClusterSecretStoreCondition allows namespaces by name or by label. A
// namespace is allowed when it matches any condition.
type ClusterSecretStoreCondition struct {
	// Namespaces lists allowed namespace names.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector allows namespaces by label.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// NamespaceRegexes allows namespaces whose name matches one of these Go
	// regular expressions (unanchored, as in ESO: "^team-" for a prefix).
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=256
	NamespaceRegexes []string `json:"namespaceRegexes,omitempty"`
}

// SecretStoreProvider holds one provider configuration.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type SecretStoreProvider struct {
	// AWS configures AWS Secrets Manager.
	// +optional
	AWS *AWSProvider `json:"aws,omitempty"`
	// Vault configures HashiCorp Vault's KV secrets engine.
	// +optional
	Vault *VaultProvider `json:"vault,omitempty"`
}

// AWSService names the AWS service of an AWS provider.
// +kubebuilder:validation:Enum=SecretsManager;ParameterStore
type AWSService string

// AWSServiceSecretsManager is AWS Secrets Manager.
const AWSServiceSecretsManager AWSService = "SecretsManager"

// AWSServiceParameterStore is AWS Systems Manager Parameter Store.
const AWSServiceParameterStore AWSService = "ParameterStore"

// AWSProvider configures AWS Secrets Manager.
type AWSProvider struct {
	// Service is the AWS service: SecretsManager or ParameterStore.
	Service AWSService `json:"service"`
	// Region is the AWS region, for example eu-west-1.
	Region string `json:"region"`
	// Role is an IAM role ARN to assume with the credentials from Auth.
	// +optional
	Role string `json:"role,omitempty"`
	// Auth selects the credentials; the SDK's default chain (environment,
	// IRSA, instance profile) when empty.
	// +optional
	Auth AWSAuth `json:"auth,omitempty"`
	// Endpoint overrides the endpoint URL of the service (Secrets Manager
	// or SSM) (VPC endpoints, LocalStack). A kseal extension; ESO reads it
	// from the environment.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// STSEndpoint overrides the STS endpoint URL used to assume Role (VPC
	// endpoints, emulators). A kseal extension.
	// +optional
	STSEndpoint string `json:"stsEndpoint,omitempty"`
	// AWSRoleChain holds additionalRoles, externalID and session tags.
	AWSRoleChain `json:",inline"`
	// Prefix is put before every remote key the store reads.
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// SecretsManager holds Secrets Manager options of PushSecret deletion.
	// +optional
	SecretsManager *AWSSecretsManager `json:"secretsManager,omitempty"`
}

// AWSAuth selects AWS credentials.
type AWSAuth struct {
	// SecretRef reads static access keys from Secrets.
	// +optional
	SecretRef *AWSAuthSecretRef `json:"secretRef,omitempty"`
	// JWT uses a service account token (from the TokenRequest API) with
	// AssumeRoleWithWebIdentity on Role.
	// +optional
	JWT *AWSJWTAuth `json:"jwt,omitempty"`
}

// AWSAuthSecretRef points at static AWS credentials.
type AWSAuthSecretRef struct {
	// AccessKeyID is the access key id.
	AccessKeyID SecretKeySelector `json:"accessKeyIDSecretRef"`
	// SecretAccessKey is the secret access key.
	SecretAccessKey SecretKeySelector `json:"secretAccessKeySecretRef"`
	// SessionToken is an optional session token.
	// +optional
	SessionToken *SecretKeySelector `json:"sessionTokenSecretRef,omitempty"`
}

// AWSJWTAuth authenticates with a Kubernetes service account token.
type AWSJWTAuth struct {
	// ServiceAccountRef names the service account whose token is requested.
	ServiceAccountRef ServiceAccountSelector `json:"serviceAccountRef"`
}

// VaultKVVersion is the version of Vault's KV secrets engine.
// +kubebuilder:validation:Enum=v1;v2
type VaultKVVersion string

// Vault KV versions.
const (
	VaultKVv1 VaultKVVersion = "v1"
	VaultKVv2 VaultKVVersion = "v2"
)

// VaultProvider configures HashiCorp Vault's KV secrets engine.
type VaultProvider struct {
	// Server is Vault's address, for example https://vault.example.com:8200.
	Server string `json:"server"`
	// Path is the mount path of the KV engine, for example "secret".
	// +optional
	Path string `json:"path,omitempty"`
	// Version is the KV engine version; v2 when empty.
	// +optional
	Version VaultKVVersion `json:"version,omitempty"`
	// Namespace is a Vault Enterprise namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// CABundle is a PEM bundle (base64 in YAML) to verify Vault's TLS
	// certificate.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`
	// Auth selects how kseal logs in to Vault.
	Auth VaultAuth `json:"auth"`
	// VaultConnection holds caProvider, tls, headers and the consistency
	// options.
	VaultConnection `json:",inline"`
}

// VaultAuth selects one Vault login method.
type VaultAuth struct {
	// Namespace is the Vault Enterprise namespace of the login; the
	// provider's namespace when unset.
	// +optional
	Namespace *string `json:"namespace,omitempty"`
	// TokenSecretRef reads a Vault token from a Secret.
	// +optional
	TokenSecretRef *SecretKeySelector `json:"tokenSecretRef,omitempty"`
	// AppRole logs in with a role id and secret id.
	// +optional
	AppRole *VaultAppRole `json:"appRole,omitempty"`
	// Kubernetes logs in with a service account token.
	// +optional
	Kubernetes *VaultKubernetesAuth `json:"kubernetes,omitempty"`
	// JWT logs in with a JWT from a Secret or a service account token.
	// +optional
	JWT *VaultJWTAuth `json:"jwt,omitempty"`
	// VaultMoreAuth holds userPass, cert and the refused methods.
	VaultMoreAuth `json:",inline"`
}

// VaultAppRole is Vault's AppRole login.
type VaultAppRole struct {
	// Path is the auth mount path; "approle" when empty.
	// +optional
	Path string `json:"path,omitempty"`
	// RoleID is the role id.
	// +optional
	RoleID string `json:"roleId,omitempty"`
	// RoleRef reads the role id from a Secret instead.
	// +optional
	RoleRef *SecretKeySelector `json:"roleRef,omitempty"`
	// SecretRef reads the secret id from a Secret.
	SecretRef SecretKeySelector `json:"secretRef"`
}

// VaultKubernetesAuth is Vault's Kubernetes login.
type VaultKubernetesAuth struct {
	// MountPath is the auth mount path; "kubernetes" when empty.
	// +optional
	MountPath string `json:"mountPath,omitempty"`
	// Role is the Vault role.
	Role string `json:"role"`
	// ServiceAccountRef names the service account whose token is requested
	// from the TokenRequest API.
	// +optional
	ServiceAccountRef *ServiceAccountSelector `json:"serviceAccountRef,omitempty"`
	// SecretRef reads a token from a Secret instead.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`
}

// VaultJWTAuth is Vault's JWT/OIDC login.
type VaultJWTAuth struct {
	// Path is the auth mount path; "jwt" when empty.
	// +optional
	Path string `json:"path,omitempty"`
	// Role is the Vault role.
	// +optional
	Role string `json:"role,omitempty"`
	// SecretRef reads the JWT from a Secret.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`
	// KubernetesServiceAccountToken requests a service account token.
	// +optional
	KubernetesServiceAccountToken *VaultKubernetesServiceAccountTokenAuth `json:"kubernetesServiceAccountToken,omitempty"`
}

// VaultKubernetesServiceAccountTokenAuth requests a token for a service account.
type VaultKubernetesServiceAccountTokenAuth struct {
	// ServiceAccountRef names the service account and audiences.
	ServiceAccountRef ServiceAccountSelector `json:"serviceAccountRef"`
	// Audiences replaces the default audience "vault" that is requested in
	// addition to serviceAccountRef.audiences. Deprecated (as in External
	// Secrets Operator): use serviceAccountRef.audiences.
	// +optional
	Audiences *[]string `json:"audiences,omitempty"`
	// ExpirationSeconds is the lifetime of the requested token; 600 when
	// unset. Deprecated (as in External Secrets Operator).
	// +optional
	// +kubebuilder:validation:Minimum=600
	// +kubebuilder:validation:Maximum=86400
	ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
}

// SecretKeySelector names one key of a Secret. Namespace is honoured only in
// a ClusterSecretStore; a SecretStore reads its own namespace.
type SecretKeySelector struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key in the Secret's data.
	Key string `json:"key"`
	// Namespace of the Secret (ClusterSecretStore only).
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// ServiceAccountSelector names a service account and the token audiences.
type ServiceAccountSelector struct {
	// Name of the service account.
	Name string `json:"name"`
	// Namespace of the service account (ClusterSecretStore only).
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Audiences of the requested token.
	// +optional
	Audiences []string `json:"audiences,omitempty"`
}

// SecretStoreStatus is the observed state of a store.
type SecretStoreStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions holds Ready: True once the credentials were validated
	// against the provider; and Stalled or Reconciling (kstatus) while it
	// is not Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SecretStore lets ExternalSecrets in its namespace fetch values from a
// provider.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kseal
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SecretStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the provider configuration.
	Spec SecretStoreSpec `json:"spec"`
	// Status reports whether the store's credentials work.
	// +optional
	Status SecretStoreStatus `json:"status,omitempty,omitzero"`
}

// SecretStoreList is a list of SecretStores.
//
// +kubebuilder:object:root=true
type SecretStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecretStore `json:"items"`
}

// ClusterSecretStore is a SecretStore usable from every namespace its
// conditions allow.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=kseal
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterSecretStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the provider configuration and namespace conditions.
	Spec SecretStoreSpec `json:"spec"`
	// Status reports whether the store's credentials work.
	// +optional
	Status SecretStoreStatus `json:"status,omitempty,omitzero"`
}

// ClusterSecretStoreList is a list of ClusterSecretStores.
//
// +kubebuilder:object:root=true
type ClusterSecretStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterSecretStore `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SecretStore{}, &SecretStoreList{}, &ClusterSecretStore{}, &ClusterSecretStoreList{})
}
