// Package aws fetches values from AWS Secrets Manager.
//
// Build a Provider with New from a Config that the controller fills from a
// SecretStore's spec.provider.aws and the credentials it resolved (this
// package never reads Kubernetes). One Provider serves one store and one set
// of credentials; it is safe for concurrent use and is meant to be cached.
//
//	p, err := aws.New(ctx, aws.Config{Region: "eu-west-1", Static: &aws.StaticCredentials{...}})
//	defer p.Close()
//	v, err := p.GetSecret(ctx, providers.Ref{Key: "db/creds", Property: "password"})
//
// Concurrent GetSecret calls for the current version that arrive within
// Config.BatchWindow are coalesced into one BatchGetSecretValue call (up to
// Config.MaxBatch distinct secrets), so a burst of reconciles costs a few API
// calls instead of one per secret; a call alone in its window uses
// GetSecretValue. The price is up to one window of added latency per read.
// Without the BatchGetSecretValue permission (or on an endpoint that lacks
// the operation) reads fall back to GetSecretValue. Find lists secrets with
// ListSecrets and fetches their values in batches too.
//
// Errors follow the providers contract: ErrNotFound, ErrAuth, Retryable for
// throttling, 5xx and network failures; no error contains a secret value.
package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kseal-dev/kseal/providers"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultBatchWindow is how long GetSecret waits for other calls to
	// coalesce with.
	DefaultBatchWindow = 20 * time.Millisecond
	// DefaultMaxBatch is the most secrets fetched by one BatchGetSecretValue
	// call; it is also the limit AWS accepts.
	DefaultMaxBatch = 20
	// DefaultMaxAttempts bounds the client's own retries of one API call; the
	// controller's backoff handles longer outages.
	DefaultMaxAttempts = 3
	// DefaultSessionName is the role session name used when assuming a role.
	DefaultSessionName = "kseal"
)

// Version prefixes and stages understood in a providers.Ref.
const (
	// VersionIDPrefix marks a Ref.Version that is a VersionId
	// ("uuid/6c1d...") rather than a staging label ("AWSPREVIOUS").
	VersionIDPrefix = "uuid/"
	// StageCurrent is the staging label of the current version.
	StageCurrent = "AWSCURRENT"
)

// Config is everything New needs, as plain data.
type Config struct {
	// Region is the AWS region, for example "eu-west-1". Required.
	Region string
	// Endpoint overrides the Secrets Manager endpoint URL (VPC endpoints,
	// LocalStack, test emulators). Empty means the regional AWS endpoint.
	Endpoint string
	// STSEndpoint overrides the STS endpoint URL used to assume Role.
	STSEndpoint string
	// Role is an IAM role ARN. With WebIdentityToken it is the role of
	// AssumeRoleWithWebIdentity; otherwise it is assumed with AssumeRole on
	// top of the static or default credentials.
	Role string
	// WebIdentityRole, when set, is the role of AssumeRoleWithWebIdentity
	// (EKS IRSA: the service account's eks.amazonaws.com/role-arn), and Role,
	// if also set, is assumed on top of it with AssumeRole.
	WebIdentityRole string
	// SessionName is the role session name; DefaultSessionName when empty.
	SessionName string
	// RoleChain holds the roles assumed before Role and the options of
	// Role's AssumeRole call.
	RoleChain
	// Prefix is put before every key GetSecret reads.
	Prefix string
	// Static holds access keys; when nil, WebIdentityToken or the
	// default credential chain is used.
	Static *StaticCredentials
	// WebIdentityToken returns a fresh OIDC token (a Kubernetes service
	// account token from the TokenRequest API) for
	// AssumeRoleWithWebIdentity on Role. It is called whenever the
	// temporary credentials need refreshing.
	WebIdentityToken func(ctx context.Context) (string, error)
	// HTTPClient sends every request; a shared default client when nil.
	HTTPClient *http.Client
	// BatchWindow is how long a GetSecret call waits for others to share a
	// BatchGetSecretValue call with. Zero means DefaultBatchWindow; a
	// negative value disables coalescing (one GetSecretValue per call).
	BatchWindow time.Duration
	// MaxBatch is the most distinct secrets in one BatchGetSecretValue call
	// (1 to 20); zero means DefaultMaxBatch.
	MaxBatch int
	// MaxAttempts bounds the attempts per API call (retries included);
	// zero means DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the delay between attempts; zero means 20s.
	MaxBackoff time.Duration
	// OnCall, when set, is called once per AWS API call (after the client's
	// retries) with the operation name ("GetSecretValue",
	// "BatchGetSecretValue", "ListSecrets", "AssumeRole",
	// "AssumeRoleWithWebIdentity", ...) and its error. It must be fast and
	// safe for concurrent use (a Prometheus counter).
	OnCall func(operation string, err error)
}

// StaticCredentials are AWS access keys.
type StaticCredentials struct {
	// AccessKeyID is the access key id ("AKIA...").
	AccessKeyID string
	// SecretAccessKey is the secret access key.
	SecretAccessKey string
	// SessionToken is set for temporary credentials only.
	SessionToken string
}

// Provider reads AWS Secrets Manager with one set of credentials. It
// implements providers.Provider, Finder, Validator and Closer.
type Provider struct {
	client *client
	// batch coalesces current-version reads; nil when BatchWindow < 0.
	batch *batcher
	// maxBatch bounds the ids of one BatchGetSecretValue call.
	maxBatch int
	// prefix is Config.Prefix.
	prefix string

	// mu guards batchOffUntil.
	mu sync.Mutex
	// batchOffUntil: until then BatchGetSecretValue is not tried, because
	// the endpoint or the IAM policy refused it.
	batchOffUntil time.Time

	// ctx is cancelled by Close; it bounds calls made for several callers.
	ctx    context.Context
	cancel context.CancelFunc
	// closeOnce makes Close idempotent.
	closeOnce sync.Once
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Finder    = (*Provider)(nil)
	_ providers.Validator = (*Provider)(nil)
	_ providers.Closer    = (*Provider)(nil)
)

// errClosed is returned by calls made after or during Close. It is marked
// retryable: the controller closes a provider it replaces, and a retry uses
// the new one.
var errClosed = errors.New("aws provider is closed")

// New checks cfg, builds the credential chain and the Secrets Manager
// client, and starts the coalescing goroutine. It makes no API call (use
// Validate); only the default chain reads the controller's environment and
// shared config files. Call Close when done.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	c, err := newServiceClient(cfg, secretsManagerService)
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Provider{client: c, maxBatch: cfg.MaxBatch, prefix: cfg.Prefix, ctx: base, cancel: cancel}
	if cfg.BatchWindow > 0 {
		p.batch = newBatcher(base, cfg.BatchWindow, cfg.MaxBatch, p.fetchMany)
	}
	return p, nil
}

// ErrConfig is wrapped by every error New returns for an unusable Config.
var ErrConfig = errors.New("invalid aws configuration")

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// withDefaults validates cfg and fills its zero fields.
func withDefaults(cfg Config) (Config, error) {
	if !validRegion.MatchString(cfg.Region) {
		return cfg, configErrorf("region %q is not an AWS region name (letters, digits and dashes, for example eu-west-1)", cfg.Region)
	}
	for name, u := range map[string]string{"endpoint": cfg.Endpoint, "STS endpoint": cfg.STSEndpoint} {
		if err := checkEndpoint(u); err != nil {
			return cfg, configErrorf("%s: %v", name, err)
		}
	}
	if s := cfg.Static; s != nil && (s.AccessKeyID == "" || s.SecretAccessKey == "") {
		return cfg, configErrorf("static credentials need an access key id and a secret access key")
	}
	if cfg.Static != nil && cfg.WebIdentityToken != nil {
		return cfg, configErrorf("choose static credentials or a web identity token, not both")
	}
	if cfg.WebIdentityToken != nil && cfg.Role == "" && cfg.WebIdentityRole == "" {
		return cfg, configErrorf("web identity needs a role to assume: set the store's role, or annotate the service account eks.amazonaws.com/role-arn")
	}
	if err := cfg.checkChain(); err != nil {
		return cfg, err
	}
	switch {
	case cfg.MaxBatch == 0:
		cfg.MaxBatch = DefaultMaxBatch
	case cfg.MaxBatch < 1 || cfg.MaxBatch > DefaultMaxBatch:
		return cfg, configErrorf("max batch %d is outside 1..%d", cfg.MaxBatch, DefaultMaxBatch)
	}
	if cfg.BatchWindow == 0 {
		cfg.BatchWindow = DefaultBatchWindow
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxAttempts < 0 || cfg.MaxBackoff < 0 {
		return cfg, configErrorf("max attempts and max backoff must not be negative")
	}
	if cfg.SessionName == "" {
		cfg.SessionName = DefaultSessionName
	}
	return cfg, nil
}

// validRegion is the shape of an AWS region name; it keeps a region from
// steering the endpoint host.
var validRegion = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func checkEndpoint(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("want an http(s)://host URL, got scheme %q", u.Scheme)
	}
	return nil
}

// GetSecret returns the value at ref. ref.Version is a staging label
// ("AWSPREVIOUS"), or "uuid/" followed by a VersionId; empty means the
// current version. Current-version reads are coalesced with concurrent ones.
func (p *Provider) GetSecret(ctx context.Context, ref providers.Ref) ([]byte, error) {
	if ref.Key == "" {
		return nil, errors.New("aws: empty secret key")
	}
	ref.Key = p.prefix + ref.Key
	var (
		val []byte
		err error
	)
	if ref.Metadata {
		val, err = p.tagsJSON(ctx, ref.Key)
	} else if ref.Version == "" && p.batch != nil {
		val, err = p.batch.get(ctx, ref.Key)
	} else {
		val, err = p.getOne(ctx, ref.Key, ref.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("secretsmanager get %s: %w", ref, err)
	}
	if ref.Property == "" {
		return val, nil
	}
	out, err := providers.ExtractProperty(val, ref.Property)
	if err != nil {
		return nil, fmt.Errorf("secretsmanager get %s: %w", ref, err)
	}
	return out, nil
}

// getOne reads one secret version with GetSecretValue.
func (p *Provider) getOne(ctx context.Context, id, version string) ([]byte, error) {
	if p.ctx.Err() != nil {
		return nil, providers.Retryable(errClosed)
	}
	in := getSecretValueInput{SecretID: id}
	versionID, stage := ParseVersion(version)
	if versionID != "" {
		in.VersionID = str(versionID)
	} else {
		in.VersionStage = str(stage)
	}
	var out smValue
	if err := p.client.jsonCall(ctx, "GetSecretValue", in, &out); err != nil {
		return nil, classify(err)
	}
	return secretValue(out.SecretString, out.SecretBinary)
}

// ParseVersion splits a Ref.Version into a VersionId ("uuid/<id>") or a
// staging label; empty means StageCurrent. Exactly one result is non-empty.
func ParseVersion(version string) (versionID, stage string) {
	if id, ok := strings.CutPrefix(version, VersionIDPrefix); ok && id != "" {
		return id, ""
	}
	if version == "" {
		return "", StageCurrent
	}
	return "", version
}

// secretValue picks SecretString, else SecretBinary, within the size cap.
func secretValue(s *string, b []byte) ([]byte, error) {
	var v []byte
	switch {
	case s != nil:
		v = []byte(*s)
	case b != nil:
		v = b
	default:
		return nil, fmt.Errorf("%w: the version has no value", providers.ErrNotFound)
	}
	if len(v) > providers.MaxValueSize {
		return nil, fmt.Errorf("value of %d bytes exceeds the %d byte limit", len(v), providers.MaxValueSize)
	}
	return v, nil
}

// Close stops the coalescing goroutine and fails calls still waiting for
// it; it waits for in-flight batch calls to return. It is safe to call more
// than once.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		if p.batch != nil {
			p.batch.close()
		}
	})
	return nil
}
