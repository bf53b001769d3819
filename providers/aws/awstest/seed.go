package awstest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Admin returns a client that talks to kumo directly: its calls are not
// counted and never see injected faults. Use it to seed and inspect.
func (s *Server) Admin() *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.kumo.URL),
	})
}

// CreateSecret creates a secret whose value is a string (SecretString) or
// []byte (SecretBinary) and returns its ARN and VersionId.
func (s *Server) CreateSecret(tb testing.TB, name string, value any, tags map[string]string) (arn, versionID string) {
	tb.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name)}
	setValue(tb, value, &in.SecretString, &in.SecretBinary)
	for k, v := range tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := s.Admin().CreateSecret(context.Background(), in)
	if err != nil {
		tb.Fatalf("create secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN), aws.ToString(out.VersionId)
}

// PutSecretValue stores a new version of a secret and returns its VersionId.
// Without stages it becomes AWSCURRENT and the former current version
// AWSPREVIOUS.
func (s *Server) PutSecretValue(tb testing.TB, name string, value any, stages ...string) (versionID string) {
	tb.Helper()
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), VersionStages: stages}
	setValue(tb, value, &in.SecretString, &in.SecretBinary)
	out, err := s.Admin().PutSecretValue(context.Background(), in)
	if err != nil {
		tb.Fatalf("put secret value %s: %v", name, err)
	}
	return aws.ToString(out.VersionId)
}

func setValue(tb testing.TB, value any, str **string, bin *[]byte) {
	tb.Helper()
	switch v := value.(type) {
	case string:
		*str = aws.String(v)
	case []byte:
		*bin = v
	default:
		tb.Fatalf("secret value must be a string or []byte, not %T", value)
	}
}
