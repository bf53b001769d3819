package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Password generator bounds. A generated password is never longer than
// MaxPasswordLength characters, and one generator writes at most
// MaxPasswordKeys keys.
const (
	MaxPasswordLength = 1024
	MaxPasswordKeys   = 64
)

// PasswordSpec says how a Password generator draws its passwords. Field names
// and defaults follow External Secrets Operator's Password generator.
// +kubebuilder:validation:XValidation:rule="(has(self.digits) ? self.digits : 0) + (has(self.symbols) ? self.symbols : 0) <= (has(self.length) && self.length > 0 ? self.length : 24)",message="digits + symbols must not exceed length: lower digits or symbols, or raise length"
type PasswordSpec struct {
	// Length of each password, in characters; 24 when unset or 0.
	// +optional
	// +kubebuilder:default=24
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1024
	Length int `json:"length,omitempty"`
	// Digits is how many digits each password holds; 25% of the length
	// when unset.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1024
	Digits *int `json:"digits,omitempty"`
	// Symbols is how many symbol characters each password holds; 25% of
	// the length when unset.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1024
	Symbols *int `json:"symbols,omitempty"`
	// SymbolCharacters are the symbols to draw from; when unset
	// ~!@#$%^&*()_+`-={}|[]\:"<>?,./
	// +optional
	// +kubebuilder:validation:MaxLength=256
	SymbolCharacters *string `json:"symbolCharacters,omitempty"`
	// NoUpper leaves out upper-case letters.
	// +optional
	// +kubebuilder:default=false
	NoUpper bool `json:"noUpper,omitempty"`
	// AllowRepeat lets a character appear more than once; without it every
	// character of a password is different, which limits the length to
	// the number of characters available.
	// +optional
	// +kubebuilder:default=false
	AllowRepeat bool `json:"allowRepeat,omitempty"`
	// SecretKeys are the keys to write, each with its own password;
	// ["password"] when unset.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:XValidation:rule="self.all(k, self.exists_one(o, o == k))",message="secretKeys must be unique"
	SecretKeys []string `json:"secretKeys,omitempty"`
	// Encoding of each password: raw (default), base64, base64url, base32
	// or hex.
	// +optional
	// +kubebuilder:default=raw
	// +kubebuilder:validation:Enum=base64;base64url;base32;hex;raw
	Encoding *string `json:"encoding,omitempty"`
}

// Password generates random passwords for an ExternalSecret that names it in
// dataFrom[].sourceRef.generatorRef. Every sync draws new passwords (use
// refreshPolicy CreatedOnce to keep the first ones); they come from the
// operating system's secure random source and are written only to the
// target Secret.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kseal
// +kubebuilder:printcolumn:name="Length",type=integer,JSONPath=`.spec.length`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Password struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says how passwords are drawn.
	// +optional
	Spec PasswordSpec `json:"spec,omitempty"`
}

// PasswordList is a list of Passwords.
//
// +kubebuilder:object:root=true
type PasswordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Password `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Password{}, &PasswordList{})
}

// ReasonGeneratorNotFound: an ExternalSecret's generatorRef names a
// generator that does not exist in its namespace; the Secret is left as it
// is, and the ExternalSecret is tried again later.
const ReasonGeneratorNotFound = "GeneratorNotFound"
