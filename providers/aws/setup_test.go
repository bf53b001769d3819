package aws

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// testConfig is a Config for srv with the server's static credentials and
// fast SDK retries.
func testConfig(srv *awstest.Server) Config {
	return Config{
		Region:      srv.Region,
		Endpoint:    srv.URL,
		STSEndpoint: srv.URL,
		Static:      &StaticCredentials{AccessKeyID: awstest.AccessKeyID, SecretAccessKey: awstest.SecretAccessKey},
		MaxBackoff:  time.Millisecond,
	}
}

// newTestProvider builds a Provider for srv; mods adjust the Config.
func newTestProvider(t testing.TB, srv *awstest.Server, mods ...func(*Config)) *Provider {
	t.Helper()
	cfg := testConfig(srv)
	for _, m := range mods {
		m(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9/_+=.@-]`)

// secretName is a name unique to the test: kumo's store is shared by every
// server in the test binary.
func secretName(t testing.TB, name string) string {
	return unsafeName.ReplaceAllString(t.Name(), "-") + "/" + name
}

// noBatch disables coalescing.
func noBatch(c *Config) { c.BatchWindow = -1 }

func mustContainNone(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q contains a secret value", err)
		}
	}
}
