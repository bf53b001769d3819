package aws

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestProvider_roleChain: additionalRoles are assumed in order, each signed
// with the credentials of the one before, then role, the only call with the
// external id and session tags; the secret is read with role's credentials.
func TestProvider_roleChain(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "v", nil)
	first, second := "arn:aws:iam::111111111111:role/hop-1", "arn:aws:iam::222222222222:role/hop-2"
	p := newTestProvider(t, srv, noBatch, func(c *Config) {
		c.Role = testRole
		c.AdditionalRoles = []string{first, second}
		c.ExternalID = "tenant-42"
		c.SessionTags = []Tag{{"team", "payments"}, {"env", "prod"}}
		c.TransitiveTagKeys = []string{"team"}
	})
	if v, err := p.GetSecret(context.Background(), providers.Ref{Key: key}); err != nil || string(v) != "v" {
		t.Fatalf("GetSecret = %q, %v", v, err)
	}
	calls := srv.AssumeRoleCalls()
	var roles []string
	for _, c := range calls {
		roles = append(roles, c.RoleARN)
	}
	if want := []string{first, second, testRole}; !slices.Equal(roles, want) {
		t.Fatalf("assumed %v, want %v", roles, want)
	}
	signer := awstest.AccessKeyID
	for i, c := range calls {
		if c.SignedBy != signer || c.Issued == "" {
			t.Errorf("call %d (%s) signed by %q, want %q (the credentials before it)", i, c.RoleARN, c.SignedBy, signer)
		}
		signer = c.Issued
	}
	for _, c := range calls[:2] {
		if c.ExternalID != "" || len(c.Tags) > 0 || len(c.TransitiveTagKeys) > 0 {
			t.Errorf("additional role %s got external id or tags: %+v", c.RoleARN, c)
		}
	}
	last := calls[2]
	if last.ExternalID != "tenant-42" || !slices.Equal(last.Tags, []string{"team=payments", "env=prod"}) || !slices.Equal(last.TransitiveTagKeys, []string{"team"}) {
		t.Errorf("role call = %+v, want external id, tags and transitive keys", last)
	}
}

func TestProvider_prefix(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "app/db")
	srv.CreateSecret(t, key, `{"password":"p"}`, nil)
	prefix, rest, _ := strings.Cut(key, "/")
	for _, mode := range []func(*Config){noBatch, func(*Config) {}} {
		p := newTestProvider(t, srv, mode, func(c *Config) { c.Prefix = prefix + "/" })
		if v, err := p.GetSecret(context.Background(), providers.Ref{Key: rest, Property: "password"}); err != nil || string(v) != "p" {
			t.Fatalf("GetSecret(%q) with prefix %q = %q, %v", rest, prefix+"/", v, err)
		}
	}
}

func TestConfig_checkChain(t *testing.T) {
	token := func(context.Context) (string, error) { return "t", nil }
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"external id without role", func(c *Config) { c.ExternalID = "abc" }, "set role"},
		{"tags without role", func(c *Config) { c.SessionTags = []Tag{{"a", "b"}} }, "set role"},
		{"transitive key not a tag", func(c *Config) {
			c.Role, c.SessionTags, c.TransitiveTagKeys = testRole, []Tag{{"a", "b"}}, []string{"c"}
		}, "not the key"},
		{"not an ARN", func(c *Config) { c.AdditionalRoles = []string{"admin"} }, "not an IAM role ARN"},
		{"too many roles", func(c *Config) { c.AdditionalRoles = slices.Repeat([]string{testRole}, 9) }, "at most 8"},
		{"bad external id", func(c *Config) { c.Role, c.ExternalID = testRole, "a b" }, "externalID must be"},
		{"web identity role then chain", func(c *Config) {
			c.Static, c.WebIdentityToken, c.Role, c.AdditionalRoles = nil, token, testRole, []string{testRole}
		}, "eks.amazonaws.com/role-arn"},
		{"web identity role with external id", func(c *Config) {
			c.Static, c.WebIdentityToken, c.Role, c.ExternalID = nil, token, testRole, "abc"
		}, "set role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Region: "us-east-1", Static: &StaticCredentials{AccessKeyID: "a", SecretAccessKey: "b"}}
			tt.mod(&cfg)
			_, err := New(context.Background(), cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
	// IRSA: the annotation's role, then additionalRoles, then role.
	cfg := Config{Region: "us-east-1", WebIdentityToken: token, WebIdentityRole: testRole, Role: testRole, RoleChain: RoleChain{AdditionalRoles: []string{testRole}, ExternalID: "abc"}}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("web identity role, chain and role: %v", err)
	}
	_ = p.Close()
}

// FuzzCheckChain: role chains from a store never panic, and what is
// accepted holds no control characters.
func FuzzCheckChain(f *testing.F) {
	f.Add(testRole, "ext-1", "team", "a", "team")
	f.Add("admin", "a b", "", "", "x")
	f.Fuzz(func(t *testing.T, role, ext, key, value, transitive string) {
		cfg := Config{Role: testRole, RoleChain: RoleChain{AdditionalRoles: []string{role}, ExternalID: ext,
			SessionTags: []Tag{{key, value}}, TransitiveTagKeys: []string{transitive}}}
		if cfg.checkChain() == nil && strings.ContainsFunc(role+ext+key+value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("accepted control characters: %+v", cfg.RoleChain)
		}
	})
}
