package aws

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// notAnObject are 200 answers that are not one JSON object.
var notAnObject = []string{"", hostileBody, "[]", "null", `"` + hostileBody + `"`, "42", `{"a":1} trailing`, `{"a":`, "<xml/>"}

// TestProvider_hostile200_validate: a 200 that is not a JSON object fails
// even the calls whose answer kseal ignores (Validate), for Secrets
// Manager and Parameter Store, without the body in the error.
func TestProvider_hostile200_validate(t *testing.T) {
	for _, body := range notAnObject {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_, _ = w.Write([]byte(body))
		}))
		cfg := Config{Region: "us-east-1", Endpoint: srv.URL, MaxAttempts: 1, BatchWindow: -1,
			Static: &StaticCredentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "x"}}
		sm, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := NewParameterStore(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for name, validate := range map[string]func(context.Context) error{"secretsmanager": sm.Validate, "parameterstore": ps.Validate} {
			err := validate(context.Background())
			if err == nil || !errors.Is(err, errMalformed) {
				t.Errorf("%s Validate on 200 %q: err = %v, want malformed", name, body, err)
			}
			if err != nil && strings.Contains(err.Error(), hostileBody) {
				t.Errorf("%s: the error carries the body: %v", name, err)
			}
		}
		_ = sm.Close()
		_ = ps.Close()
		srv.Close()
	}
}

// TestProvider_hostile200_wrongTypes: JSON objects of the wrong shape are
// malformed, not an empty value.
func TestProvider_hostile200_wrongTypes(t *testing.T) {
	for _, body := range []string{`{"SecretString":5}`, `{"SecretBinary":"not base64!"}`, `{"Name":{"x":1}}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(body))
		}))
		p := newHostileProvider(t, Config{Endpoint: srv.URL})
		_, err := p.GetSecret(context.Background(), providers.Ref{Key: "k"})
		if !errors.Is(err, errMalformed) {
			t.Errorf("200 %s: err = %v, want malformed", body, err)
		}
		srv.Close()
	}
}

func newHostileProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	cfg.Region, cfg.MaxAttempts, cfg.BatchWindow = "us-east-1", 1, -1
	if cfg.Static == nil && cfg.Role == "" {
		cfg.Static = &StaticCredentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "x"}
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestProvider_hostileSTS: an STS endpoint that is not STS fails the role
// assumption clearly; its body never reaches the error, an oversized one
// is refused.
func TestProvider_hostileSTS(t *testing.T) {
	srv := awstest.NewServer(t)
	for _, tt := range []struct {
		name   string
		status int
		body   string
		want   func(error) bool
	}{
		{"200 text", 200, hostileBody, func(err error) bool { return errors.Is(err, errMalformed) }},
		{"200 json", 200, `{"Credentials":"` + hostileBody + `"}`, func(err error) bool { return errors.Is(err, errMalformed) }},
		{"200 other xml", 200, `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>` + hostileBody + `</AccessKeyId></Credentials></AssumeRoleResult></AssumeRoleResponse>`, func(err error) bool { return errors.Is(err, errMalformed) }},
		{"200 wrong root", 200, `<Other><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>` + hostileBody + `</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></Other>`, func(err error) bool { return errors.Is(err, errMalformed) }},
		{"403 sts error", 403, `<ErrorResponse><Error><Code>AccessDenied</Code><Message>` + hostileBody + `</Message></Error></ErrorResponse>`, func(err error) bool { return errors.Is(err, providers.ErrAuth) }},
		{"400 unknown code", 400, `<ErrorResponse><Error><Code>` + hostileBody + `</Code></Error></ErrorResponse>`, func(err error) bool { return err != nil }},
		{"huge", 200, strings.Repeat("<a>", providers.MaxResponseSize/3+10), func(err error) bool { return errors.Is(err, providers.ErrResponseTooLarge) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer sts.Close()
			p := newHostileProvider(t, Config{Endpoint: srv.URL, STSEndpoint: sts.URL, Role: testRole,
				Static: &StaticCredentials{AccessKeyID: awstest.AccessKeyID, SecretAccessKey: awstest.SecretAccessKey}})
			_, err := p.GetSecret(context.Background(), providers.Ref{Key: "k"})
			if !tt.want(err) {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), hostileBody) {
				t.Fatalf("the error carries the body: %v", err)
			}
		})
	}
}
