package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// AWSRoleChain is how an AWS provider assumes roles on top of its
// credentials, as in External Secrets Operator: each of AdditionalRoles in
// order, then Role, which gets ExternalID and the session tags.
type AWSRoleChain struct {
	// AdditionalRoles are IAM role ARNs assumed in order before Role, each
	// with the credentials of the one before.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	AdditionalRoles []string `json:"additionalRoles,omitempty"`
	// ExternalID is the external id sent when assuming Role.
	// +optional
	ExternalID string `json:"externalID,omitempty"`
	// SessionTags are STS session tags set when assuming Role.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	SessionTags []*AWSTag `json:"sessionTags,omitempty"`
	// TransitiveTagKeys are the keys of SessionTags that persist into
	// roles assumed later in a chain.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	TransitiveTagKeys []string `json:"transitiveTagKeys,omitempty"`
	// SessionTagsPolicy: kseal supports None (the default) only; Simple and
	// Custom are refused with a message.
	// +optional
	SessionTagsPolicy AWSSessionTagsPolicy `json:"sessionTagsPolicy,omitempty"`
	// CustomSessionTags go with SessionTagsPolicy Custom, which kseal
	// refuses; use SessionTags.
	// +optional
	CustomSessionTags map[string]string `json:"customSessionTags,omitempty"`
}

// AWSSessionTagsPolicy is External Secrets Operator's automatic session
// tagging.
// +kubebuilder:validation:Enum=None;Simple;Custom
type AWSSessionTagsPolicy string

// AWSTag is an STS session tag.
type AWSTag struct {
	// Key is the tag key.
	Key string `json:"key"`
	// Value is the tag value.
	Value string `json:"value"`
}

// AWSSecretsManager holds how PushSecret deletes Secrets Manager secrets
// (deletionPolicy Delete); reads ignore it, as in External Secrets Operator.
type AWSSecretsManager struct {
	// ForceDeleteWithoutRecovery deletes with no recovery window.
	// +optional
	ForceDeleteWithoutRecovery bool `json:"forceDeleteWithoutRecovery,omitempty"`
	// RecoveryWindowInDays (7 to 30) is the recovery window of a deletion;
	// AWS's 30 when unset.
	// +optional
	// +kubebuilder:validation:Minimum=7
	// +kubebuilder:validation:Maximum=30
	RecoveryWindowInDays int64 `json:"recoveryWindowInDays,omitempty"`
}

// VaultConnection holds how kseal talks to a Vault server, beyond its
// address.
type VaultConnection struct {
	// CAProvider reads the CA bundle that verifies Vault's certificate from
	// a Secret or ConfigMap instead of caBundle.
	// +optional
	CAProvider *CAProvider `json:"caProvider,omitempty"`
	// ClientTLS is a client certificate for Vault servers that require
	// mutual TLS.
	// +optional
	ClientTLS *VaultClientTLS `json:"tls,omitempty"`
	// ReadYourWrites sends the replication state Vault returned with each
	// later request (Vault Enterprise read-after-write consistency).
	// +optional
	ReadYourWrites bool `json:"readYourWrites,omitempty"`
	// ForwardInconsistent, with ReadYourWrites, asks a standby to forward
	// requests it cannot yet serve consistently to the active node.
	// +optional
	ForwardInconsistent bool `json:"forwardInconsistent,omitempty"`
	// Headers are added to every Vault request.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Headers map[string]string `json:"headers,omitempty"`
	// CheckAndSet holds the check-and-set setting of PushSecret writes to
	// KV v2; reads ignore it.
	// +optional
	CheckAndSet *VaultCheckAndSet `json:"checkAndSet,omitempty"`
}

// CAProvider names a CA bundle in a Secret or ConfigMap.
type CAProvider struct {
	// Type is Secret or ConfigMap.
	// +kubebuilder:validation:Enum=Secret;ConfigMap
	Type string `json:"type"`
	// Name of the Secret or ConfigMap.
	Name string `json:"name"`
	// Key holding the PEM bundle.
	Key string `json:"key,omitempty"`
	// Namespace of the Secret or ConfigMap (ClusterSecretStore only).
	// +optional
	Namespace *string `json:"namespace,omitempty"`
}

// CAProvider types.
const (
	CAProviderSecret    = "Secret"
	CAProviderConfigMap = "ConfigMap"
)

// VaultClientTLS names a client certificate and key for mutual TLS.
type VaultClientTLS struct {
	// CertSecretRef holds the PEM certificate (key tls.crt when empty).
	// +optional
	CertSecretRef *OptionalKeySelector `json:"certSecretRef,omitempty"`
	// KeySecretRef holds the PEM private key (key tls.key when empty).
	// +optional
	KeySecretRef *OptionalKeySelector `json:"keySecretRef,omitempty"`
}

// OptionalKeySelector names a Secret and, optionally, one of its keys.
type OptionalKeySelector struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key in the Secret's data; a default the field names when empty.
	// +optional
	Key string `json:"key,omitempty"`
	// Namespace of the Secret (ClusterSecretStore only).
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// VaultCheckAndSet is the check-and-set setting of KV v2 writes.
type VaultCheckAndSet struct {
	// Required makes every write name the version it replaces.
	// +optional
	Required bool `json:"required,omitempty"`
}

// VaultMoreAuth holds the Vault login methods beyond token, appRole,
// kubernetes and jwt. Ldap, Iam and GCP are accepted by the schema so that
// External Secrets Operator manifests parse, and refused by the controller
// with a message.
type VaultMoreAuth struct {
	// UserPass logs in with a username and a password from a Secret.
	// +optional
	UserPass *VaultUserPassAuth `json:"userPass,omitempty"`
	// Cert logs in with a TLS client certificate from a Secret.
	// +optional
	Cert *VaultCertAuth `json:"cert,omitempty"`
	// Ldap is refused: use userPass with Vault's LDAP method mounted as
	// path, or appRole.
	// +optional
	Ldap *VaultUserPassAuth `json:"ldap,omitempty"`
	// Iam (Vault's AWS method) is refused; use kubernetes, jwt or appRole.
	// +optional
	// +kubebuilder:validation:Type=object
	Iam *apiextensionsv1.JSON `json:"iam,omitempty"`
	// GCP is refused; use kubernetes, jwt or appRole.
	// +optional
	// +kubebuilder:validation:Type=object
	GCP *apiextensionsv1.JSON `json:"gcp,omitempty"`
}

// VaultUserPassAuth is Vault's userpass (or ldap) login.
type VaultUserPassAuth struct {
	// Path is the auth mount path; "userpass" ("ldap") when empty.
	// +optional
	Path string `json:"path,omitempty"`
	// Username is the user name.
	Username string `json:"username"`
	// SecretRef reads the password from a Secret.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`
}

// VaultCertAuth is Vault's TLS certificate login.
type VaultCertAuth struct {
	// Path is the auth mount path; "cert" when empty.
	// +optional
	Path string `json:"path,omitempty"`
	// VaultRole is the certificate role to log in to; Vault tries every
	// role when empty.
	// +optional
	VaultRole string `json:"vaultRole,omitempty"`
	// ClientCert reads the PEM client certificate from a Secret.
	// +optional
	ClientCert *SecretKeySelector `json:"clientCert,omitempty"`
	// SecretRef reads the PEM private key from a Secret.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`
}
