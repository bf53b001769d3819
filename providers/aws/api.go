package aws

import (
	"crypto/rand"
	"fmt"
)

// The operations kseal calls, with only the fields it sends and reads.
// Optional fields are pointers or omitted when empty, as AWS expects.

type tag struct {
	Key   *string `json:"Key,omitempty"`
	Value *string `json:"Value,omitempty"`
}

// smValue is a secret value as GetSecretValue and BatchGetSecretValue
// answer it; SecretBinary travels base64-encoded.
type smValue struct {
	ARN          *string `json:"ARN,omitempty"`
	Name         *string `json:"Name,omitempty"`
	SecretString *string `json:"SecretString,omitempty"`
	SecretBinary []byte  `json:"SecretBinary,omitempty"`
}

type getSecretValueInput struct {
	SecretID     string  `json:"SecretId"`
	VersionID    *string `json:"VersionId,omitempty"`
	VersionStage *string `json:"VersionStage,omitempty"`
}

type batchGetSecretValueInput struct {
	SecretIDList []string `json:"SecretIdList"`
	NextToken    *string  `json:"NextToken,omitempty"`
}

type batchGetSecretValueOutput struct {
	SecretValues []smValue `json:"SecretValues"`
	Errors       []struct {
		SecretID  *string `json:"SecretId"`
		ErrorCode *string `json:"ErrorCode"`
		Message   *string `json:"Message"`
	} `json:"Errors"`
	NextToken *string `json:"NextToken"`
}

type filter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// ListSecrets filter keys.
const (
	filterName     = "name"
	filterTagKey   = "tag-key"
	filterTagValue = "tag-value"
)

type listSecretsInput struct {
	Filters    []filter `json:"Filters,omitempty"`
	MaxResults int32    `json:"MaxResults,omitempty"`
	NextToken  *string  `json:"NextToken,omitempty"`
}

type listSecretsOutput struct {
	SecretList []struct {
		ARN  *string `json:"ARN"`
		Name *string `json:"Name"`
		Tags []tag   `json:"Tags"`
	} `json:"SecretList"`
	NextToken *string `json:"NextToken"`
}

type secretIDInput struct {
	SecretID string `json:"SecretId"`
}

type describeSecretOutput struct {
	Tags []tag `json:"Tags"`
}

type putSecretValueInput struct {
	SecretID           string `json:"SecretId"`
	SecretBinary       []byte `json:"SecretBinary"`
	ClientRequestToken string `json:"ClientRequestToken"`
}

type createSecretInput struct {
	Name               string `json:"Name"`
	SecretBinary       []byte `json:"SecretBinary,omitempty"`
	Tags               []tag  `json:"Tags,omitempty"`
	ClientRequestToken string `json:"ClientRequestToken"`
}

// Parameter Store.

type parameter struct {
	Name  *string `json:"Name"`
	ARN   *string `json:"ARN"`
	Value *string `json:"Value"`
}

type getParameterInput struct {
	Name           string `json:"Name"`
	WithDecryption bool   `json:"WithDecryption"`
}

type getParameterOutput struct {
	Parameter *parameter `json:"Parameter"`
}

type getParametersInput struct {
	Names          []string `json:"Names"`
	WithDecryption bool     `json:"WithDecryption"`
}

type getParametersOutput struct {
	Parameters        []parameter `json:"Parameters"`
	InvalidParameters []string    `json:"InvalidParameters"`
}

type getParametersByPathInput struct {
	Path           string  `json:"Path"`
	Recursive      bool    `json:"Recursive"`
	WithDecryption bool    `json:"WithDecryption"`
	MaxResults     int32   `json:"MaxResults,omitempty"`
	NextToken      *string `json:"NextToken,omitempty"`
}

type parametersPage struct {
	Parameters []parameter `json:"Parameters"`
	NextToken  *string     `json:"NextToken"`
}

type parameterFilter struct {
	Key    string   `json:"Key"`
	Option string   `json:"Option,omitempty"`
	Values []string `json:"Values,omitempty"`
}

type describeParametersInput struct {
	ParameterFilters []parameterFilter `json:"ParameterFilters,omitempty"`
	MaxResults       int32             `json:"MaxResults,omitempty"`
	NextToken        *string           `json:"NextToken,omitempty"`
}

func str(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// idempotencyToken is a random UUID (version 4) for ClientRequestToken.
func idempotencyToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// nextToken returns the token of the next page, or "" to stop: no token,
// the same token again, or more than maxPages pages.
func nextToken(prev string, next *string, page int) (string, error) {
	t := deref(next)
	if t == "" || t == prev {
		return "", nil
	}
	if page >= maxPages {
		return "", fmt.Errorf("more than %d pages", maxPages)
	}
	return t, nil
}
