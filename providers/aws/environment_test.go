package aws

import (
	"testing"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestEnvironment_endpointsInEveryAuthMode: the environment's endpoint
// settings (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_STS), as AWS
// SDKs read them, apply with static keys and with an assumed role too, not
// only with the default credential chain; a store's own endpoint still
// wins; credentials never come from the environment when the store names
// its own.
func TestEnvironment_endpointsInEveryAuthMode(t *testing.T) {
	srv := awstest.NewServer(t)
	name := secretName(t, "db")
	srv.CreateSecret(t, name, "from-env-endpoint", nil)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT0")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-store-credentials")
	for _, tt := range []struct {
		name string
		mod  func(*Config)
	}{
		{"static keys", func(c *Config) { c.Endpoint, c.STSEndpoint = "", "" }},
		{"static keys and a role", func(c *Config) {
			c.Endpoint, c.STSEndpoint, c.Role = "", "", "arn:aws:iam::000000000000:role/reader"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProvider(t, srv, noBatch, tt.mod)
			v, err := p.GetSecret(t.Context(), providers.Ref{Key: name})
			if err != nil || string(v) != "from-env-endpoint" {
				t.Fatalf("got %q, %v", v, err)
			}
		})
	}
}
