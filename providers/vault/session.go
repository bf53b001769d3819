package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

// Token lifecycle. A provider built with a login method logs in once (in New)
// and reuses the token for every call. A background goroutine renews it when
// two thirds of its TTL have passed, and logs in again instead when the token
// is not renewable, when renewal fails, or when Vault grants less than the
// original TTL (the token is near its max TTL). A token that Vault refuses
// during a call (revoked out of band) is replaced by a new login, and the
// call is repeated once. Close stops the goroutine and revokes the token.

const (
	// maxExpirySkew: a token this close to its expiry (or a sixth of its
	// TTL, when shorter) is not used any more. It stays well after the
	// renewal time at two thirds of the TTL.
	maxExpirySkew = time.Second
	// Backoff of the renewal goroutine after a failed renewal and login.
	minRetryWait = time.Second
	maxRetryWait = 30 * time.Second
)

// errClosed is returned by calls on a closed provider.
var errClosed = errors.New("vault provider is closed")

// session is one Vault token and the client that sends it. A session is
// never modified; renewal installs a copy with the new lifetime.
type session struct {
	// client sends token with every request.
	client *api.Client
	// token is the Vault token; sessions with the same token are the same
	// login.
	token string
	// login is true when the provider obtained the token by logging in: it
	// then renews, replaces and finally revokes it. A static token is false.
	login bool
	// loginTTL is the TTL granted at login, asked for again at each renewal.
	loginTTL time.Duration
	// ttl is the TTL granted at login or at the last renewal; 0 means the
	// token does not expire.
	ttl time.Duration
	// renewable is Vault's word on whether renew-self may extend the token.
	renewable bool
	// issued is when the login or renewal request was sent (so expiry is
	// computed conservatively).
	issued time.Time
	// capped: the last renewal granted less than loginTTL, so the token is
	// near its max TTL and the next refresh logs in again.
	capped bool
}

// expires returns when the token stops working; zero for never.
func (s *session) expires() time.Time {
	if s.ttl <= 0 {
		return time.Time{}
	}
	return s.issued.Add(s.ttl)
}

// usable reports whether the token can still be sent at now.
func (s *session) usable(now time.Time) bool {
	exp := s.expires()
	return exp.IsZero() || now.Before(exp.Add(-min(maxExpirySkew, s.ttl/6)))
}

// refreshAt is when the renewal goroutine renews or replaces the token;
// zero when it never needs to.
func (s *session) refreshAt() time.Time {
	if !s.login || s.ttl <= 0 {
		return time.Time{}
	}
	return s.issued.Add(s.ttl * 2 / 3)
}

// newClient returns a Vault client for the provider's server that sends
// token (none when empty). It ignores the VAULT_* environment variables the
// api package would otherwise pick up.
func (p *Provider) newClient(token string) (*api.Client, error) {
	c, err := api.NewClient(&api.Config{
		Address:    p.cfg.Server,
		HttpClient: p.http,
		Timeout:    p.cfg.Timeout,
		// One HTTP request per call: the controller retries retryable
		// errors with its own backoff, and OnCall counts real calls.
		MaxRetries: 0,
	})
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	if token == "" {
		c.ClearToken()
	} else {
		c.SetToken(token)
	}
	setNamespace(c, p.cfg.Namespace)
	p.cfg.configure(c)
	return c, nil
}

// current returns the session in use (nil before the first login) and
// whether the provider is closed.
func (p *Provider) current() (*session, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur, p.closed
}

// session returns a usable session, logging in when there is none.
func (p *Provider) session(ctx context.Context) (*session, error) {
	s, closed := p.current()
	if closed {
		return nil, errClosed
	}
	if s != nil && s.usable(time.Now()) {
		return s, nil
	}
	if p.login == nil {
		// Not reached: a static token's session never expires.
		return nil, errors.New("vault: no token")
	}
	return p.relogin(ctx, s)
}

// relogin logs in and installs the new session, replacing stale (nil for
// none). When another goroutine has already replaced stale with a usable
// session, that one is returned and no login happens.
func (p *Provider) relogin(ctx context.Context, stale *session) (*session, error) {
	p.loginMu.Lock()
	defer p.loginMu.Unlock()
	cur, closed := p.current()
	if closed {
		return nil, errClosed
	}
	if cur != nil && (stale == nil || cur.token != stale.token) && cur.usable(time.Now()) {
		return cur, nil
	}
	s, err := p.doLogin(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	closed = p.closed
	if !closed {
		p.cur = s
	}
	p.mu.Unlock()
	if closed {
		// Close ran during the login; do not leave the token behind.
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
		defer cancel()
		_ = p.revoke(ctx, s)
		return nil, errClosed
	}
	p.wakeRenewer()
	return s, nil
}

// doLogin performs one login request.
func (p *Provider) doLogin(ctx context.Context) (*session, error) {
	body, err := p.login.body(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault login (%s): %w", p.login.name, err)
	}
	c, err := p.newClient("")
	if err != nil {
		return nil, err
	}
	if ns := p.cfg.AuthNamespace; ns != nil {
		setNamespace(c, *ns)
	}
	issued := time.Now()
	secret, err := c.Logical().WriteWithContext(ctx, p.login.path, body)
	setNamespace(c, p.cfg.Namespace)
	err = classifyLogin(p.login.name, err)
	if err == nil {
		switch {
		case secret == nil || secret.Auth == nil:
			err = errors.New("vault login: Vault returned no token")
		case secret.Auth.MFARequirement != nil && secret.Auth.ClientToken == "":
			err = fmt.Errorf("vault login (%s): %w: the method requires MFA, which kseal does not support", p.login.name, providers.ErrAuth)
		case secret.Auth.ClientToken == "":
			err = errors.New("vault login: Vault returned no token")
		}
	}
	p.observe("login", err)
	if err != nil {
		return nil, err
	}
	c.SetToken(secret.Auth.ClientToken)
	ttl := time.Duration(secret.Auth.LeaseDuration) * time.Second
	return &session{
		client:    c,
		token:     secret.Auth.ClientToken,
		login:     true,
		loginTTL:  ttl,
		ttl:       ttl,
		renewable: secret.Auth.Renewable,
		issued:    issued,
	}, nil
}

// classifyLogin is classify for logins, where Vault answers bad credentials
// with 400 (AppRole, JWT) as well as 403.
func classifyLogin(method string, err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
		return fmt.Errorf("vault login (%s): %w (HTTP 400: %s)", method, providers.ErrAuth, responseMessage(re))
	}
	return classify("login", "("+method+")", err)
}

// call runs fn with the current session's client and classifies its error.
// When Vault refuses a login token (HTTP 403) and a self-lookup confirms the
// token itself is no longer valid, the provider logs in again and runs fn
// once more. A 403 that is about the token's policy is returned as ErrAuth.
func (p *Provider) call(ctx context.Context, op, what string, fn func(*api.Client) error) error {
	s, err := p.session(ctx)
	if err != nil {
		return err
	}
	raw := fn(s.client)
	err = p.observe(op, classify(op, what, raw))
	if raw == nil || !s.login || !isForbidden(raw) || !p.tokenRejected(ctx, s) {
		return err
	}
	if s, err = p.relogin(ctx, s); err != nil {
		return err
	}
	return p.observe(op, classify(op, what, fn(s.client)))
}

// tokenRejected reports whether s's token is no longer valid: it has been
// replaced already, or Vault refuses even a self-lookup with it.
func (p *Provider) tokenRejected(ctx context.Context, s *session) bool {
	if cur, _ := p.current(); cur == nil || cur.token != s.token {
		return true
	}
	_, err := s.client.Auth().Token().LookupSelfWithContext(ctx)
	p.observe("lookup", classify("lookup", "token", err))
	return isForbidden(err)
}

// observe reports one Vault call to Config.OnCall and returns err.
func (p *Provider) observe(op string, err error) error {
	if p.cfg.OnCall != nil {
		p.cfg.OnCall(op, err)
	}
	return err
}

func (p *Provider) wakeRenewer() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// renewLoop keeps the login token fresh until the provider is closed.
func (p *Provider) renewLoop() {
	defer close(p.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		s       *session // the session the schedule below is for
		next    time.Time
		backoff time.Duration
	)
	for {
		if cur, _ := p.current(); cur != s {
			s, backoff = cur, 0
			next = time.Time{}
			if s != nil {
				next = s.refreshAt()
			}
		}
		var fire <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			fire = timer.C
		}
		select {
		case <-p.bg.Done():
			timer.Stop()
			return
		case <-p.wake:
			timer.Stop()
			continue
		case <-fire:
		}
		if err := p.refresh(s); err != nil {
			backoff = min(max(2*backoff, minRetryWait), maxRetryWait)
			next = time.Now().Add(backoff)
		}
	}
}

// refresh renews s or replaces it by a new login.
func (p *Provider) refresh(s *session) error {
	ctx, cancel := context.WithTimeout(p.bg, p.cfg.Timeout)
	defer cancel()
	if s.renewable && !s.capped {
		renewed, err := p.renew(ctx, s)
		if err == nil {
			p.mu.Lock()
			if p.cur != nil && p.cur.token == s.token {
				p.cur = renewed
			}
			p.mu.Unlock()
			return nil
		}
		// The token may be revoked or expired; a new login fixes that, and
		// fails too if Vault is unreachable.
		_, err = p.relogin(ctx, s)
		return err
	}
	// Not renewable, or near its max TTL: the token still works, so revoke
	// it once a new one is in place.
	if _, err := p.relogin(ctx, s); err != nil {
		return err
	}
	_ = p.revoke(ctx, s)
	return nil
}

// renew extends s's token by its login TTL and returns the renewed session.
func (p *Provider) renew(ctx context.Context, s *session) (*session, error) {
	issued := time.Now()
	secret, err := s.client.Auth().Token().RenewSelfWithContext(ctx, int(s.loginTTL/time.Second))
	err = classify("renew", "token", err)
	if err == nil && (secret == nil || secret.Auth == nil) {
		err = errors.New("vault renew token: Vault returned no token information")
	}
	p.observe("renew", err)
	if err != nil {
		return nil, err
	}
	r := *s
	r.ttl = time.Duration(secret.Auth.LeaseDuration) * time.Second
	r.renewable = secret.Auth.Renewable
	r.issued = issued
	r.capped = r.ttl < s.loginTTL
	return &r, nil
}

// revoke revokes s's token (best effort: a token Vault already refuses
// counts as revoked).
func (p *Provider) revoke(ctx context.Context, s *session) error {
	if !s.usable(time.Now()) {
		return nil
	}
	err := s.client.Auth().Token().RevokeSelfWithContext(ctx, "")
	if isForbidden(err) {
		err = nil
	}
	return p.observe("revoke", classify("revoke", "token", err))
}
