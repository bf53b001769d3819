// Package vault reads secrets from HashiCorp Vault's KV secrets engine (v1 and
// v2) for ExternalSecrets.
//
// Start with New and a Config the controller fills from a SecretStore:
//
//	p, err := vault.New(ctx, vault.Config{
//		Server: "https://vault.example.com:8200",
//		Auth:   vault.Auth{AppRole: &vault.AppRoleAuth{RoleID: id, SecretID: secret}},
//	})
//	defer p.Close()
//	password, err := p.GetSecret(ctx, providers.Ref{Key: "app/db", Property: "password"})
//
// A Provider is safe for concurrent use and meant to be cached per store and
// credentials: with a login method it logs in once, renews its token in the
// background and logs in again only when it must (see Config.Auth). Close
// stops that and revokes the token.
//
// Values: without a property GetSecret returns the secret's fields as one
// JSON object (what dataFrom.extract splits with providers.ExtractAll); a
// property selects one field, with dotted paths into nested objects and into
// string fields that hold JSON. Errors follow the providers package: missing
// secrets wrap providers.ErrNotFound, refused credentials providers.ErrAuth,
// and throttling, 5xx answers and network failures are providers.Retryable.
package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

// Provider reads one Vault KV mount with one set of credentials.
type Provider struct {
	// cfg is the normalized configuration.
	cfg Config
	// http carries every request.
	http *http.Client
	// login is the login method; nil for a static token.
	login *loginMethod

	// mu guards cur and closed.
	mu sync.Mutex
	// cur is the session in use.
	cur *session
	// closed is set by Close.
	closed bool

	// loginMu serializes logins, so concurrent calls that find the token
	// stale log in once.
	loginMu sync.Mutex

	// bg is cancelled by Close; it bounds the renewal goroutine's calls.
	bg     context.Context
	cancel context.CancelFunc
	// wake tells the renewal goroutine that a new session was installed.
	wake chan struct{}
	// done is closed when the renewal goroutine has stopped (nil when none
	// was started).
	done      chan struct{}
	closeOnce sync.Once
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Finder    = (*Provider)(nil)
	_ providers.Validator = (*Provider)(nil)
	_ providers.Closer    = (*Provider)(nil)
)

// New returns a provider for cfg. With a login method (AppRole, Kubernetes,
// JWT) it logs in before returning, so bad credentials show at once (wrapped
// providers.ErrAuth) and an unreachable Vault is providers.Retryable. With a
// static token it makes no call; use Validate to check the token.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	hc, err := cfg.httpClient()
	if err != nil {
		return nil, err
	}
	login, err := cfg.Auth.login()
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, http: hc, login: login, wake: make(chan struct{}, 1)}
	p.bg, p.cancel = context.WithCancel(context.Background())
	if login == nil {
		c, err := p.newClient(cfg.Auth.Token)
		if err != nil {
			return nil, err
		}
		p.cur = &session{client: c, token: cfg.Auth.Token}
		return p, nil
	}
	if _, err := p.relogin(ctx, nil); err != nil {
		p.cancel()
		return nil, err
	}
	p.done = make(chan struct{})
	go p.renewLoop()
	return p, nil
}

// Close stops token renewal and revokes the token the provider obtained by
// logging in (a static token is left alone). Later calls fail. Close may be
// called more than once; only the first does anything.
func (p *Provider) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.mu.Lock()
		s := p.cur
		p.cur, p.closed = nil, true
		p.mu.Unlock()
		p.cancel()
		if p.done != nil {
			<-p.done
		}
		if s != nil && s.login {
			ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
			defer cancel()
			err = p.revoke(ctx, s)
		}
	})
	return err
}

// Validate checks the credentials with a token self-lookup (logging in first
// when the provider has no valid token).
func (p *Provider) Validate(ctx context.Context) error {
	return p.call(ctx, "lookup", "token", func(c *api.Client) error {
		_, err := c.Auth().Token().LookupSelfWithContext(ctx)
		return err
	})
}

// GetSecret reads the secret at ref.Key in the mount: <mount>/data/<key>
// for KV v2 (ref.Version selects a version number), <mount>/<key> for KV v1
// (which has no versions). A key may also be written with the mount in front,
// as External Secrets Operator accepts ("secret/app" or "secret/data/app" for
// mount "secret").
func (p *Provider) GetSecret(ctx context.Context, ref providers.Ref) ([]byte, error) {
	key, err := p.key(ref.Key)
	if err != nil {
		return nil, err
	}
	if ref.Metadata {
		return p.metadataValue(ctx, key, ref)
	}
	var params map[string][]string
	if ref.Version != "" {
		if p.cfg.KVVersion == KVv1 {
			return nil, fmt.Errorf("vault %s: versions need KV v2: %w", ref, providers.ErrUnsupported)
		}
		if n, err := strconv.ParseUint(ref.Version, 10, 31); err != nil || n == 0 {
			return nil, fmt.Errorf("vault %s: version must be a positive integer", ref)
		}
		params = map[string][]string{"version": {ref.Version}}
	}
	path := p.dataPath(key)
	var secret *api.Secret
	err = p.call(ctx, "read", path, func(c *api.Client) error {
		var err error
		secret, err = c.Logical().ReadWithDataWithContext(ctx, path, params)
		return err
	})
	if err != nil {
		return nil, err
	}
	value, err := p.secretJSON(secret)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", ref, err)
	}
	if ref.Property == "" {
		return value, nil
	}
	v, err := extractProperty(value, ref.Property)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", ref, err)
	}
	return v, nil
}

// key checks a remote key and removes an ESO-style mount prefix.
func (p *Provider) key(key string) (string, error) {
	key = p.trimMount(strings.Trim(key, "/"), "data/")
	if err := checkPath(key); err != nil {
		return "", fmt.Errorf("vault key %q: %v", key, err)
	}
	return key, nil
}

// trimMount removes a leading "<mount>/" from path, and after it, for KV v2,
// the API segment api ("data/" or "metadata/").
func (p *Provider) trimMount(path, api string) string {
	rest, ok := strings.CutPrefix(path, p.cfg.MountPath+"/")
	if !ok {
		return path
	}
	if p.cfg.KVVersion == KVv2 {
		rest = strings.TrimPrefix(rest, api)
	}
	return rest
}

// dataPath is the API path that reads key.
func (p *Provider) dataPath(key string) string {
	if p.cfg.KVVersion == KVv1 {
		return p.cfg.MountPath + "/" + key
	}
	return p.cfg.MountPath + "/data/" + key
}

// secretJSON returns a read's fields as one JSON object; ErrNotFound when
// there is no secret (or, in KV v2, the version is deleted or destroyed).
func (p *Provider) secretJSON(secret *api.Secret) ([]byte, error) {
	if secret == nil || secret.Data == nil {
		return nil, providers.ErrNotFound
	}
	data := secret.Data
	if p.cfg.KVVersion == KVv2 {
		inner, ok := secret.Data["data"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w (no data: the version is deleted or destroyed)", providers.ErrNotFound)
		}
		data = inner
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode secret fields: %w", err)
	}
	if len(b) > providers.MaxValueSize {
		return nil, fmt.Errorf("secret is %d bytes, more than the %d a Secret can hold", len(b), providers.MaxValueSize)
	}
	return b, nil
}

// maxFindEntries bounds how many list entries one Find walks.
const maxFindEntries = 10000

// Find lists the secrets whose path (relative to the mount) starts with
// q.Path, walking folders recursively (KV v2 metadata listing, or KV v1
// listing), keeps those whose path matches q.NameRegexp, and returns each
// one's fields as a JSON object (as GetSecret does), keyed by path relative
// to the mount, for example "app/db" (the caller turns "/" into something a
// Secret key may hold). Secrets whose latest version is deleted are left out.
// q.Tags keeps the secrets whose KV v2 custom_metadata holds every tag (see
// checkTagQuery).
func (p *Provider) Find(ctx context.Context, q providers.Query) (map[string][]byte, error) {
	if err := p.checkTagQuery(q); err != nil {
		return nil, err
	}
	prefix := p.trimMount(strings.TrimLeft(q.Path, "/"), "metadata/")
	if dir := strings.TrimSuffix(prefix[:strings.LastIndex(prefix, "/")+1], "/"); dir != "" {
		if err := checkPath(dir); err != nil {
			return nil, fmt.Errorf("vault find path %q: %v", q.Path, err)
		}
	}
	keys, err := p.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte)
	for _, k := range keys {
		if q.NameRegexp != nil && !q.NameRegexp.MatchString(k) {
			continue
		}
		if len(q.Tags) > 0 {
			ok, err := p.hasTags(ctx, k, q.Tags)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		v, err := p.GetSecret(ctx, providers.Ref{Key: k})
		if errors.Is(err, providers.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// list returns every secret path under the folder of prefix that starts with
// prefix, descending only into folders that can hold such paths.
func (p *Provider) list(ctx context.Context, prefix string) ([]string, error) {
	listPath := func(dir string) string {
		if p.cfg.KVVersion == KVv1 {
			return strings.TrimSuffix(p.cfg.MountPath+"/"+dir, "/")
		}
		return p.cfg.MountPath + "/metadata/" + dir
	}
	var keys []string
	seen := 0
	queue := []string{prefix[:strings.LastIndex(prefix, "/")+1]}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		path := listPath(dir)
		var secret *api.Secret
		err := p.call(ctx, "list", path, func(c *api.Client) error {
			var err error
			secret, err = c.Logical().ListWithContext(ctx, path)
			return err
		})
		if err != nil {
			return nil, err
		}
		entries, err := listEntries(secret)
		if err != nil {
			return nil, fmt.Errorf("vault list %s: %w", path, err)
		}
		for _, e := range entries {
			if seen++; seen > maxFindEntries {
				return nil, fmt.Errorf("vault list %s: more than %d entries; narrow the path", prefix, maxFindEntries)
			}
			full := dir + e
			if checkPath(strings.TrimSuffix(full, "/")) != nil {
				continue
			}
			switch {
			case strings.HasSuffix(e, "/"):
				if strings.HasPrefix(full, prefix) || strings.HasPrefix(prefix, full) {
					queue = append(queue, full)
				}
			case strings.HasPrefix(full, prefix):
				keys = append(keys, full)
			}
		}
	}
	return keys, nil
}

// listEntries returns the "keys" of a LIST answer; none when the folder does
// not exist.
func listEntries(secret *api.Secret) ([]string, error) {
	if secret == nil || secret.Data == nil {
		return nil, nil
	}
	raw, ok := secret.Data["keys"].([]any)
	if !ok {
		return nil, errors.New("answer has no key list")
	}
	entries := make([]string, 0, len(raw))
	for _, r := range raw {
		s, ok := r.(string)
		if !ok {
			return nil, errors.New("key list holds a non-string")
		}
		entries = append(entries, s)
	}
	return entries, nil
}
