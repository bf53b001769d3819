package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
)

// srv is the Vault dev server shared by the tests in this package; nil when
// the vault binary is missing (the tests that need it skip).
var srv *vaulttest.Server

// srvErr says why srv is nil.
var srvErr error

// TestMain starts one dev server for the package. Without the vault binary
// the server tests skip, unless KSEAL_REQUIRE_TOOLS is set (as `make test`
// does), in which case they fail.
func TestMain(m *testing.M) {
	srv, srvErr = vaulttest.Start()
	if srvErr != nil && !errors.Is(srvErr, vaulttest.ErrBinaryNotFound) {
		fmt.Fprintln(os.Stderr, srvErr)
		os.Exit(1)
	}
	code := m.Run()
	if srv != nil {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// needVault returns the shared dev server, or skips the test when there is
// no vault binary (fails instead under KSEAL_REQUIRE_TOOLS).
func needVault(t *testing.T) *vaulttest.Server {
	t.Helper()
	if srv == nil {
		if os.Getenv("KSEAL_REQUIRE_TOOLS") != "" {
			t.Fatalf("KSEAL_REQUIRE_TOOLS is set: %v", srvErr)
		}
		t.Skipf("no Vault dev server: %v (or set %s to a vault binary)", srvErr, vaulttest.BinaryEnvVar)
	}
	return srv
}

// startVault starts a dev server of the test's own, for tests that stop it.
func startVault(t *testing.T) *vaulttest.Server {
	t.Helper()
	needVault(t)
	s, err := vaulttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// rootClient is a root-token client for s, for setting Vault up.
func rootClient(t *testing.T, s *vaulttest.Server) *api.Client {
	t.Helper()
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// names numbers the names uniqueName hands out.
var names atomic.Int64

// uniqueName returns a new path segment made from the test name, so tests
// sharing the server (also across -count runs) use their own keys, mounts
// and roles.
func uniqueName(t *testing.T) string {
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	return fmt.Sprintf("%s-%d", name, names.Add(1))
}

// write sets Vault path p (a raw API path) as root.
func write(t *testing.T, c *api.Client, p string, data map[string]any) *api.Secret {
	t.Helper()
	s, err := c.Logical().Write(p, data)
	if err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
	return s
}

// putKV2 stores data at key in the KV v2 mount "secret".
func putKV2(t *testing.T, c *api.Client, key string, data map[string]any) {
	t.Helper()
	if _, err := c.KVv2("secret").Put(context.Background(), key, data); err != nil {
		t.Fatalf("put secret/%s: %v", key, err)
	}
}

// readerPolicy creates a policy that may read and list everything in the
// mounts "secret" and those given, and returns its name.
func readerPolicy(t *testing.T, c *api.Client, mounts ...string) string {
	t.Helper()
	name := uniqueName(t) + "-reader"
	var rules strings.Builder
	for _, m := range append([]string{"secret"}, mounts...) {
		fmt.Fprintf(&rules, "path %q { capabilities = [\"read\", \"list\"] }\n", m+"/*")
	}
	if err := c.Sys().PutPolicy(name, rules.String()); err != nil {
		t.Fatal(err)
	}
	return name
}

// appRole enables AppRole at a mount of the test's own, creates a role with
// the given settings (token_policies, token_ttl, ...) and returns the auth
// config that logs in to it.
func appRole(t *testing.T, c *api.Client, role map[string]any) *AppRoleAuth {
	t.Helper()
	mount := uniqueName(t) + "-approle"
	if err := c.Sys().EnableAuthWithOptions(mount, &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	write(t, c, "auth/"+mount+"/role/kseal", role)
	id, err := c.Logical().Read("auth/" + mount + "/role/kseal/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid := write(t, c, "auth/"+mount+"/role/kseal/secret-id", nil)
	return &AppRoleAuth{Path: mount, RoleID: id.Data["role_id"].(string), SecretID: sid.Data["secret_id"].(string)}
}

// calls counts OnCall reports by operation and outcome.
type calls struct {
	mu   sync.Mutex
	ok   map[string]int
	fail map[string][]error
}

func newCalls() *calls {
	return &calls{ok: map[string]int{}, fail: map[string][]error{}}
}

func (c *calls) record(op string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.ok[op]++
	} else {
		c.fail[op] = append(c.fail[op], err)
	}
}

// count returns the number of successful calls of op.
func (c *calls) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[op]
}

// failures returns the failed calls of op.
func (c *calls) failures(op string) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.fail[op]...)
}

// newProvider builds a provider for the dev server s with auth, reporting
// calls to the returned counter, and closes it when the test ends.
func newProvider(t *testing.T, s *vaulttest.Server, auth Auth, modify ...func(*Config)) (*Provider, *calls) {
	t.Helper()
	counts := newCalls()
	cfg := Config{Server: s.Addr, AllowHTTP: true, Auth: auth, OnCall: counts.record}
	for _, m := range modify {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, counts
}

// token returns the Vault token the provider currently uses.
func (p *Provider) token() string {
	s, _ := p.current()
	if s == nil {
		return ""
	}
	return s.token
}
