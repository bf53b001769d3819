package awstest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

func client(s *Server, mod ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:           s.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint:     aws.String(s.URL),
		RetryMaxAttempts: 1,
	}, mod...)
}

func errorCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an AWS API error", err)
	}
	return ae.ErrorCode()
}

// tamper changes the body after the SDK signed it.
type tamper struct{}

func (tamper) Do(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	b = bytes.Replace(b, []byte(`"x"`), []byte(`"y"`), 1)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return http.DefaultClient.Do(r)
}

// unsigned drops the signature.
type unsigned struct{}

func (unsigned) Do(r *http.Request) (*http.Response, error) {
	r.Header.Del("Authorization")
	return http.DefaultClient.Do(r)
}

func TestServer_signature(t *testing.T) {
	s := NewServer(t)
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")}
	tests := []struct {
		name string
		mod  func(*secretsmanager.Options)
		want string
	}{
		{"tampered body", func(o *secretsmanager.Options) { o.HTTPClient = tamper{} }, "InvalidSignatureException"},
		{"unsigned", func(o *secretsmanager.Options) { o.HTTPClient = unsigned{} }, "MissingAuthenticationTokenException"},
		{"other region", func(o *secretsmanager.Options) { o.Region = "eu-west-1" }, "InvalidSignatureException"},
		{"unknown key", func(o *secretsmanager.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider("AKIAOTHER", SecretAccessKey, "")
		}, "UnrecognizedClientException"},
		{"wrong secret", func(o *secretsmanager.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(AccessKeyID, "nope", "")
		}, "InvalidSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(s, tt.mod).GetSecretValue(context.Background(), in)
			if got := errorCode(t, err); got != tt.want {
				t.Errorf("code %s, want %s", got, tt.want)
			}
		})
	}
	s.AddCredentials("AKIAOTHER", "other-secret")
	c := client(s, func(o *secretsmanager.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIAOTHER", "other-secret", "")
	})
	// Signed correctly, the call reaches kumo: the secret does not exist,
	// with AWS's status 400 rather than kumo's 404.
	_, err := c.GetSecretValue(context.Background(), in)
	if errorCode(t, err) != "ResourceNotFoundException" {
		t.Fatalf("err = %v", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		t.Errorf("status of ResourceNotFoundException is not 400: %v", err)
	}
}

func TestServer_BatchGetSecretValue(t *testing.T) {
	s := NewServer(t)
	arn, _ := s.CreateSecret(t, "TestServer_BatchGetSecretValue/a", "va", nil)
	s.CreateSecret(t, "TestServer_BatchGetSecretValue/b", []byte{1, 2}, nil)
	c := client(s)
	out, err := c.BatchGetSecretValue(context.Background(), &secretsmanager.BatchGetSecretValueInput{
		SecretIdList: []string{arn, "TestServer_BatchGetSecretValue/b", "TestServer_BatchGetSecretValue/missing"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SecretValues) != 2 || aws.ToString(out.SecretValues[0].SecretString) != "va" || !bytes.Equal(out.SecretValues[1].SecretBinary, []byte{1, 2}) {
		t.Errorf("values = %+v", out.SecretValues)
	}
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorCode) != "ResourceNotFoundException" ||
		aws.ToString(out.Errors[0].SecretId) != "TestServer_BatchGetSecretValue/missing" {
		t.Errorf("errors = %+v", out.Errors)
	}
	_, err = c.BatchGetSecretValue(context.Background(), &secretsmanager.BatchGetSecretValueInput{
		SecretIdList: make([]string, 21),
	})
	if code := errorCode(t, err); code != "InvalidParameterException" {
		t.Errorf("21 ids: code %s", code)
	}
}

func TestServer_ListSecrets_filters(t *testing.T) {
	s := NewServer(t)
	p := "TestServer_ListSecrets_filters/"
	s.CreateSecret(t, p+"a", "x", map[string]string{"env": "prod"})
	s.CreateSecret(t, p+"b", "x", map[string]string{"env": "dev"})
	s.CreateSecret(t, p+"c", "x", nil)
	list := func(fs ...types.Filter) string {
		var names []string
		pages := secretsmanager.NewListSecretsPaginator(client(s), &secretsmanager.ListSecretsInput{Filters: fs})
		for pages.HasMorePages() {
			page, err := pages.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.SecretList {
				names = append(names, strings.TrimPrefix(aws.ToString(e.Name), p))
			}
		}
		return strings.Join(names, ",")
	}
	name := types.Filter{Key: types.FilterNameStringTypeName, Values: []string{p}}
	tagKey := func(v string) types.Filter {
		return types.Filter{Key: types.FilterNameStringTypeTagKey, Values: []string{v}}
	}
	tagValue := func(v string) types.Filter {
		return types.Filter{Key: types.FilterNameStringTypeTagValue, Values: []string{v}}
	}
	for _, tt := range []struct {
		filters []types.Filter
		want    string
	}{
		{[]types.Filter{name}, "a,b,c"},
		{[]types.Filter{name, tagKey("env")}, "a,b"},
		{[]types.Filter{name, tagValue("pro")}, "a"},
		{[]types.Filter{name, tagValue("!prod")}, "b,c"},
		{[]types.Filter{name, {Key: types.FilterNameStringTypeTagValue, Values: []string{"prod", "dev"}}}, "a,b"},
	} {
		if got := list(tt.filters...); got != tt.want {
			t.Errorf("filters %+v: got %s, want %s", tt.filters, got, tt.want)
		}
	}
	_, err := client(s).ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{
		Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"a*"}}},
	})
	if code := errorCode(t, err); code != "ValidationException" {
		t.Errorf("bad filter value: code %s", code)
	}
}

func TestServer_faultsAndCounts(t *testing.T) {
	s := NewServer(t)
	c := client(s)
	in := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1)}
	s.Fail("ListSecrets", 2, Throttling)
	for range 2 {
		if _, err := c.ListSecrets(context.Background(), in); errorCode(t, err) != "ThrottlingException" {
			t.Fatalf("err = %v", err)
		}
	}
	if _, err := c.ListSecrets(context.Background(), in); err != nil {
		t.Fatalf("third call: %v", err)
	}
	s.Fail("", Always, Unavailable)
	for range 3 {
		if _, err := c.ListSecrets(context.Background(), in); errorCode(t, err) != "ServiceUnavailable" {
			t.Fatalf("err = %v", err)
		}
	}
	s.ClearFaults()
	if _, err := c.ListSecrets(context.Background(), in); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
	if n := s.Calls("ListSecrets"); n != 7 {
		t.Errorf("ListSecrets calls = %d, want 7", n)
	}
	s.ResetCalls()
	if n := s.TotalCalls(); n != 0 {
		t.Errorf("calls after reset = %d", n)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature=")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, ok := parseAuthorization(h)
		if ok && (a.accessKeyID == "" || a.signature == "" || len(a.signedHeaders) == 0) {
			t.Fatalf("parseAuthorization(%q) accepted an incomplete header: %+v", h, a)
		}
	})
}
