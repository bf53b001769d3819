package aws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// cleanEnvironment unsets every variable the default chain reads and
// points HOME at an empty directory.
func cleanEnvironment(t *testing.T) {
	t.Helper()
	for _, v := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSM",
	} {
		t.Setenv(v, "")
	}
	t.Setenv("HOME", t.TempDir())
	// Nothing configured must never reach a real metadata service.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// defaultChainProvider is a Provider for srv on the controller's own
// credentials.
func defaultChainProvider(t *testing.T, srv *awstest.Server) *Provider {
	t.Helper()
	return newTestProvider(t, srv, noBatch, func(c *Config) { c.Static = nil })
}

func mustRead(t *testing.T, p *Provider, key, want string) {
	t.Helper()
	v, err := p.GetSecret(context.Background(), providers.Ref{Key: key})
	if err != nil || string(v) != want {
		t.Fatalf("GetSecret = %q, %v; want %q", v, err, want)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultChain_environmentKeys(t *testing.T) {
	cleanEnvironment(t)
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "from-env", nil)
	t.Setenv("AWS_ACCESS_KEY_ID", awstest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awstest.SecretAccessKey)
	mustRead(t, defaultChainProvider(t, srv), key, "from-env")
}

func TestDefaultChain_nothingConfigured(t *testing.T) {
	cleanEnvironment(t)
	srv := awstest.NewServer(t)
	_, err := defaultChainProvider(t, srv).GetSecret(context.Background(), providers.Ref{Key: "x"})
	if !errors.Is(err, errNoCredentials) || srv.TotalCalls() != 0 {
		t.Fatalf("err = %v (calls %d), want errNoCredentials and no call", err, srv.TotalCalls())
	}
}

// IRSA: the token file is read at every refresh and sent to STS (at the
// environment's STS endpoint) with the role.
func TestDefaultChain_webIdentityTokenFile(t *testing.T) {
	cleanEnvironment(t)
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "irsa", nil)
	srv.SetTokenVerifier(func(_ context.Context, token, role string) error {
		if token != "projected-token" || role != testRole {
			return errors.New("rejected")
		}
		return nil
	})
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", writeFile(t, "token", "projected-token\n"))
	t.Setenv("AWS_ROLE_ARN", testRole)
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	p := newTestProvider(t, srv, noBatch, func(c *Config) { c.Static, c.STSEndpoint = nil, "" })
	mustRead(t, p, key, "irsa")
	mustRead(t, p, key, "irsa")
	if n := srv.Calls("AssumeRoleWithWebIdentity"); n != 1 {
		t.Errorf("AssumeRoleWithWebIdentity calls = %d, want 1", n)
	}
}

// EKS Pod Identity: the agent's URL with the token of the token file in
// Authorization.
func TestDefaultChain_containerCredentials(t *testing.T) {
	cleanEnvironment(t)
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "pod-identity", nil)
	var calls atomic.Int32
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "agent-token" || r.URL.Path != "/v1/credentials" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": awstest.AccessKeyID, "SecretAccessKey": awstest.SecretAccessKey,
			"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
	}))
	defer agent.Close()
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.URL+"/v1/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", writeFile(t, "token", "agent-token\n"))
	p := defaultChainProvider(t, srv)
	mustRead(t, p, key, "pod-identity")
	mustRead(t, p, key, "pod-identity")
	if n := calls.Load(); n != 1 {
		t.Errorf("agent calls = %d, want 1 (credentials cached until they expire)", n)
	}

	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://metadata.example.com/creds")
	if _, err := New(context.Background(), Config{Region: "us-east-1"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("plain http to a remote host: err = %v, want ErrConfig", err)
	}
}

// IMDSv2: a session token first, then the role, then its credentials,
// every request carrying the token.
func TestDefaultChain_instanceMetadata(t *testing.T) {
	cleanEnvironment(t)
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "imds", nil)
	var tokens atomic.Int32
	metadata := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			tokens.Add(1)
			_, _ = w.Write([]byte("session-token"))
			return
		}
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "session-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/iam/security-credentials/":
			_, _ = w.Write([]byte("node-role\n"))
		case "/latest/meta-data/iam/security-credentials/node-role":
			_ = json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "AccessKeyId": awstest.AccessKeyID, "SecretAccessKey": awstest.SecretAccessKey,
				"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer metadata.Close()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.URL)
	mustRead(t, defaultChainProvider(t, srv), key, "imds")
	if n := tokens.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestDefaultChain_sharedProfile(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "profile", nil)

	t.Run("credentials file", func(t *testing.T) {
		cleanEnvironment(t)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, "credentials",
			"# comment\n[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n\n[reader]\naws_access_key_id = "+awstest.AccessKeyID+"\naws_secret_access_key = "+awstest.SecretAccessKey+"\n"))
		t.Setenv("AWS_PROFILE", "reader")
		mustRead(t, defaultChainProvider(t, srv), key, "profile")
	})
	t.Run("credential_process", func(t *testing.T) {
		cleanEnvironment(t)
		out := `{"Version": 1, "AccessKeyId": "` + awstest.AccessKeyID + `", "SecretAccessKey": "` + awstest.SecretAccessKey + `"}`
		script := writeFile(t, "creds.json", out)
		t.Setenv("AWS_CONFIG_FILE", writeFile(t, "config", "[profile reader]\nregion = us-east-1\ncredential_process = cat "+script+"\n"))
		t.Setenv("AWS_PROFILE", "reader")
		mustRead(t, defaultChainProvider(t, srv), key, "profile")
	})
	t.Run("unsupported", func(t *testing.T) {
		cleanEnvironment(t)
		t.Setenv("AWS_CONFIG_FILE", writeFile(t, "config", "[profile chained]\nrole_arn = "+testRole+"\nsource_profile = default\n"))
		t.Setenv("AWS_PROFILE", "chained")
		_, err := New(context.Background(), Config{Region: "us-east-1"})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "source_profile") {
			t.Fatalf("err = %v, want ErrConfig naming source_profile", err)
		}
	})
	t.Run("missing profile", func(t *testing.T) {
		cleanEnvironment(t)
		t.Setenv("AWS_PROFILE", "nowhere")
		if _, err := New(context.Background(), Config{Region: "us-east-1"}); !errors.Is(err, ErrConfig) {
			t.Fatalf("err = %v, want ErrConfig", err)
		}
	})
}

// The cache refetches expired credentials, and only those.
func TestCredentialCache_refresh(t *testing.T) {
	var fetched int
	expires := time.Now().Add(-time.Minute)
	c := newCredentialCache(func(context.Context) (credentials, error) {
		fetched++
		return credentials{AccessKeyID: "a", SecretAccessKey: "s", Expires: expires}, nil
	})
	for range 3 {
		if _, err := c.get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if fetched != 3 {
		t.Fatalf("expired credentials fetched %d times, want 3", fetched)
	}
	expires = time.Now().Add(time.Hour)
	for range 3 {
		if _, err := c.get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if fetched != 4 {
		t.Fatalf("fresh credentials fetched %d times in all, want 4", fetched)
	}
}
