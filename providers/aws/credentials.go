package aws

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

const (
	// tokenTimeout bounds one WebIdentityToken callback.
	tokenTimeout = 30 * time.Second
	// expiryWindow: temporary credentials are refreshed this long before
	// they expire (less for short-lived ones, see credentialCache).
	expiryWindow = 5 * time.Minute
	// defaultLifetime is how long credentials that state no expiry are used
	// when they come from a source that issues temporary ones.
	defaultLifetime = 15 * time.Minute
)

// credentials are AWS keys.
type credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	// Expires is zero for keys that do not expire.
	Expires time.Time
}

// credentialSource fetches fresh credentials.
type credentialSource func(ctx context.Context) (credentials, error)

// credentialCache holds the credentials of one source and refreshes them,
// one fetch at a time, before they expire.
type credentialCache struct {
	fetch credentialSource
	// sem admits one fetch; waiting callers give up with their context.
	sem chan struct{}
	cur credentials
	// refreshAt is when cur is due for a refresh; zero with no cur.
	refreshAt time.Time
	ok        bool
}

func newCredentialCache(fetch credentialSource) *credentialCache {
	return &credentialCache{fetch: fetch, sem: make(chan struct{}, 1)}
}

func staticCache(c credentials) *credentialCache {
	return &credentialCache{sem: make(chan struct{}, 1), cur: c, ok: true}
}

func (c *credentialCache) get(ctx context.Context) (credentials, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return credentials{}, ctx.Err()
	}
	defer func() { <-c.sem }()
	now := time.Now()
	if c.ok && (c.refreshAt.IsZero() || now.Before(c.refreshAt)) {
		return c.cur, nil
	}
	cr, err := c.fetch(ctx)
	if err != nil {
		return credentials{}, err
	}
	if cr.AccessKeyID == "" || cr.SecretAccessKey == "" {
		return credentials{}, errors.New("the credential source returned no access key")
	}
	c.cur, c.ok = cr, true
	c.refreshAt = time.Time{}
	if !cr.Expires.IsZero() {
		window := min(expiryWindow, cr.Expires.Sub(now)/2)
		c.refreshAt = cr.Expires.Add(-window)
	}
	return cr, nil
}

// sharedHTTPClient is the client of every provider whose Config names none:
// one connection pool for the process. AWS_CA_BUNDLE adds CAs to the
// system's.
var sharedHTTPClient = sync.OnceValues(func() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = attemptTimeout
	if f := os.Getenv("AWS_CA_BUNDLE"); f != "" {
		pem, err := readSmallFile(f, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("AWS_CA_BUNDLE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("AWS_CA_BUNDLE: no PEM certificate in the file")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
})

// newClient builds the client of svc for cfg, with its credentials.
func newClient(cfg Config, svc service, endpoint string, creds *credentialCache) (*client, error) {
	ep, err := resolveEndpoint(svc, endpoint, cfg.Region)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		if hc, err = sharedHTTPClient(); err != nil {
			return nil, configErrorf("%v", err)
		}
	}
	return &client{
		svc: svc, endpoint: ep, region: cfg.Region, http: hc, creds: creds,
		maxAttempts: cfg.MaxAttempts, maxBackoff: cfg.MaxBackoff, onCall: cfg.OnCall, now: time.Now,
	}, nil
}

// loadCredentials builds the credential chain: static keys, a web identity
// token, or the default chain of the controller's environment; then the
// role chain on top. Explicit credentials (static keys, web identity)
// never read credentials from the controller's environment; only the
// default chain does, which is its purpose (IRSA, Pod Identity, instance
// profiles).
func loadCredentials(cfg Config) (*credentialCache, error) {
	sts := func(creds *credentialCache) (*client, error) {
		return newClient(cfg, stsService, cfg.STSEndpoint, creds)
	}
	var creds *credentialCache
	switch {
	case cfg.Static != nil:
		s := cfg.Static
		creds = staticCache(credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken})
	case cfg.WebIdentityToken != nil:
		role := cfg.WebIdentityRole
		if role == "" {
			role, cfg.Role = cfg.Role, "" // Role is the web identity role
		}
		c, err := sts(nil)
		if err != nil {
			return nil, err
		}
		fetch := cfg.WebIdentityToken
		creds = newCredentialCache(webIdentity(c, role, cfg.SessionName, func(ctx context.Context) (string, error) {
			ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
			defer cancel()
			return fetch(ctx)
		}))
	default:
		src, err := defaultChain(cfg, sts)
		if err != nil {
			return nil, err
		}
		creds = newCredentialCache(src)
	}
	for _, r := range cfg.AdditionalRoles {
		c, err := sts(creds)
		if err != nil {
			return nil, err
		}
		creds = newCredentialCache(assumeRole(c, assumeRoleInput{role: r, session: cfg.SessionName}))
	}
	if cfg.Role != "" {
		c, err := sts(creds)
		if err != nil {
			return nil, err
		}
		creds = newCredentialCache(assumeRole(c, assumeRoleInput{
			role: cfg.Role, session: cfg.SessionName, externalID: cfg.ExternalID,
			tags: cfg.SessionTags, transitive: cfg.TransitiveTagKeys,
		}))
	}
	return creds, nil
}

// assumeRoleInput is one AssumeRole call.
type assumeRoleInput struct {
	role, session, externalID string
	tags                      []Tag
	transitive                []string
}

// assumeRole fetches the credentials of a role with AssumeRole, signed by
// sts's credentials.
func assumeRole(sts *client, in assumeRoleInput) credentialSource {
	return func(ctx context.Context) (credentials, error) {
		form := url.Values{"RoleArn": {in.role}, "RoleSessionName": {in.session}}
		if in.externalID != "" {
			form.Set("ExternalId", in.externalID)
		}
		for i, t := range in.tags {
			n := strconv.Itoa(i + 1)
			form.Set("Tags.member."+n+".Key", t.Key)
			form.Set("Tags.member."+n+".Value", t.Value)
		}
		for i, k := range in.transitive {
			form.Set("TransitiveTagKeys.member."+strconv.Itoa(i+1), k)
		}
		return stsCredentials(ctx, sts, "AssumeRole", form)
	}
}

// webIdentity fetches the credentials of role with
// AssumeRoleWithWebIdentity, an unsigned call: the token is the proof.
func webIdentity(sts *client, role, session string, token func(context.Context) (string, error)) credentialSource {
	return func(ctx context.Context) (credentials, error) {
		tok, err := token(ctx)
		if err != nil {
			return credentials{}, fmt.Errorf("get web identity token: %w", err)
		}
		if tok == "" {
			return credentials{}, errors.New("get web identity token: empty token")
		}
		form := url.Values{"RoleArn": {role}, "RoleSessionName": {session}, "WebIdentityToken": {tok}}
		return stsCredentials(ctx, sts, "AssumeRoleWithWebIdentity", form)
	}
}

func stsCredentials(ctx context.Context, sts *client, op string, form url.Values) (credentials, error) {
	form.Set("Action", op)
	form.Set("Version", stsVersion)
	var cr credentials
	err := sts.invoke(ctx, op, []byte(form.Encode()), func(b []byte) error {
		var err error
		cr, err = parseSTSCredentials(op, b)
		return err
	})
	return cr, err
}

// parseSTSCredentials reads the credentials of an AssumeRole or
// AssumeRoleWithWebIdentity answer.
func parseSTSCredentials(op string, b []byte) (credentials, error) {
	type creds struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	}
	var r struct {
		XMLName xml.Name
		Role    creds `xml:"AssumeRoleResult>Credentials"`
		Web     creds `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
	}
	if err := decodeXML(b, &r); err != nil {
		return credentials{}, err
	}
	c := r.Role
	if op == "AssumeRoleWithWebIdentity" {
		c = r.Web
	}
	if r.XMLName.Local != op+"Response" || c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" {
		return credentials{}, errMalformed
	}
	exp, err := time.Parse(time.RFC3339, c.Expiration)
	if err != nil {
		return credentials{}, errMalformed
	}
	return credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expires: exp}, nil
}

// errNoCredentials is the default chain finding nothing to use.
var errNoCredentials = errors.New("no AWS credentials in the controller's environment: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (IRSA), a shared credentials profile, AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity), or run where the instance metadata service serves a role")

// newServiceClient builds the credential chain of cfg and the client of
// svc at cfg.Endpoint (or the environment's, or AWS's).
func newServiceClient(cfg Config, svc service) (*client, error) {
	creds, err := loadCredentials(cfg)
	if err != nil {
		return nil, err
	}
	return newClient(cfg, svc, cfg.Endpoint, creds)
}
