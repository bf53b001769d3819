package aws

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/kseal-dev/kseal/providers"
)

// The default credential chain: the controller's own AWS credentials, for
// ClusterSecretStores (and SecretStores when the policy allows) that name
// none. The first source configured in the environment is used, in this
// order, as AWS SDKs do:
//
//  1. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN);
//  2. AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (EKS IRSA);
//  3. the shared profile (AWS_PROFILE, else "default") of
//     AWS_SHARED_CREDENTIALS_FILE / ~/.aws/credentials and AWS_CONFIG_FILE /
//     ~/.aws/config: static keys, credential_process, or role_arn with
//     web_identity_token_file;
//  4. container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod
//     Identity, with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) or
//     AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS);
//  5. the EC2 instance metadata service, IMDSv2 only (unless
//     AWS_EC2_METADATA_DISABLED=true).

const (
	// maxLocalAnswer bounds an answer of a local credential source.
	maxLocalAnswer = 64 << 10
	// localTimeout bounds one request to a local credential source.
	localTimeout = 5 * time.Second
	// processTimeout bounds a credential_process run.
	processTimeout = time.Minute
	// ecsHost is the ECS task metadata endpoint's address.
	ecsHost = "169.254.170.2"
)

// localHTTP talks to link-local credential endpoints: never through a
// proxy, with a short timeout.
var localHTTP = &http.Client{
	Timeout: localTimeout,
	// A link-local endpoint that is there connects at once; where there
	// is none (not on EC2), give up soon.
	Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: time.Second}).DialContext, MaxIdleConns: 2},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("credential endpoints do not redirect")
	},
}

func defaultChain(cfg Config, sts func(*credentialCache) (*client, error)) (credentialSource, error) {
	id := firstEnv("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := firstEnv("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	if id != "" && secret != "" {
		c := credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
		return func(context.Context) (credentials, error) { return c, nil }, nil
	}
	if file, role := os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), os.Getenv("AWS_ROLE_ARN"); file != "" && role != "" {
		return webIdentityFile(cfg, sts, file, role, os.Getenv("AWS_ROLE_SESSION_NAME"))
	}
	if src, ok, err := profileSource(cfg, sts); ok || err != nil {
		return src, err
	}
	if src, ok, err := containerSource(); ok || err != nil {
		return src, err
	}
	if envTrue("AWS_EC2_METADATA_DISABLED") {
		return func(context.Context) (credentials, error) { return credentials{}, errNoCredentials }, nil
	}
	return newIMDS(imdsEndpoint()).credentials, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// webIdentityFile assumes role with the token in file, read at every
// refresh (the kubelet rotates it).
func webIdentityFile(cfg Config, sts func(*credentialCache) (*client, error), file, role, session string) (credentialSource, error) {
	c, err := sts(nil)
	if err != nil {
		return nil, err
	}
	if session == "" {
		session = cfg.SessionName
	}
	return webIdentity(c, role, session, func(context.Context) (string, error) {
		b, err := readSmallFile(file, maxLocalAnswer)
		if err != nil {
			return "", fmt.Errorf("web identity token file: %w", err)
		}
		return string(bytes.TrimSpace(b)), nil
	}), nil
}

// readSmallFile reads a file of at most limit bytes.
func readSmallFile(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}

// Shared configuration files.

// parseINI reads the sections of an AWS shared configuration file: keys
// are lowercased, values trimmed; comments start with # or ;. Nested
// (indented) values are skipped.
func parseINI(b []byte) map[string]map[string]string {
	out := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			name, ok := strings.CutSuffix(line, "]")
			if !ok {
				cur = nil
				continue
			}
			name = strings.Join(strings.Fields(name[1:]), " ")
			if out[name] == nil {
				out[name] = map[string]string{}
			}
			cur = out[name]
			continue
		}
		if cur == nil || raw[0] == ' ' || raw[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		cur[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return out
}

// profileSource reads the shared profile; ok is false when it has no
// credentials (or there are no files).
func profileSource(cfg Config, sts func(*credentialCache) (*client, error)) (credentialSource, bool, error) {
	name := firstEnv("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
	explicit := name != ""
	if name == "" {
		name = "default"
	}
	home, _ := os.UserHomeDir()
	credFile := firstEnv("AWS_SHARED_CREDENTIALS_FILE")
	if credFile == "" && home != "" {
		credFile = filepath.Join(home, ".aws", "credentials")
	}
	confFile := firstEnv("AWS_CONFIG_FILE")
	if confFile == "" && home != "" {
		confFile = filepath.Join(home, ".aws", "config")
	}
	prof := map[string]string{}
	found := false
	// The config file names profiles "profile x" (but "default"); the
	// credentials file wins for the keys both hold.
	type section struct{ path, name string }
	sections := []section{{confFile, "profile " + name}}
	if name == "default" {
		sections = append(sections, section{confFile, "default"})
	}
	sections = append(sections, section{credFile, name})
	for _, f := range sections {
		if f.path == "" {
			continue
		}
		b, err := readSmallFile(f.path, 1<<20)
		if err != nil {
			continue
		}
		if s, ok := parseINI(b)[f.name]; ok {
			found = true
			for k, v := range s {
				prof[k] = v
			}
		}
	}
	if !found {
		if explicit {
			return nil, false, configErrorf("AWS profile %q is in none of the shared configuration files", name)
		}
		return nil, false, nil
	}
	switch {
	case prof["aws_access_key_id"] != "" && prof["aws_secret_access_key"] != "" && prof["role_arn"] == "":
		c := credentials{AccessKeyID: prof["aws_access_key_id"], SecretAccessKey: prof["aws_secret_access_key"], SessionToken: prof["aws_session_token"]}
		return func(context.Context) (credentials, error) { return c, nil }, true, nil
	case prof["role_arn"] != "" && prof["web_identity_token_file"] != "":
		src, err := webIdentityFile(cfg, sts, prof["web_identity_token_file"], prof["role_arn"], prof["role_session_name"])
		return src, true, err
	case prof["role_arn"] != "" || prof["sso_session"] != "" || prof["sso_start_url"] != "":
		return nil, true, configErrorf("AWS profile %q: role_arn with source_profile or credential_source, and SSO, are not supported by kseal; use static keys, credential_process, web_identity_token_file, or a store role", name)
	case prof["credential_process"] != "":
		return processSource(prof["credential_process"]), true, nil
	}
	return nil, false, nil
}

// processSource runs a credential_process command.
func processSource(command string) credentialSource {
	return func(ctx context.Context) (credentials, error) {
		ctx, cancel := context.WithTimeout(ctx, processTimeout)
		defer cancel()
		var cmd *exec.Cmd
		if runtime.GOOS == "windows" {
			cmd = exec.CommandContext(ctx, "cmd.exe", "/C", command)
		} else {
			cmd = exec.CommandContext(ctx, "sh", "-c", command)
		}
		var out limitedBuffer
		out.limit = maxLocalAnswer
		cmd.Stdout = &out
		cmd.Stderr = io.Discard
		if err := cmd.Run(); err != nil {
			return credentials{}, fmt.Errorf("credential_process failed: %w", err)
		}
		if out.over {
			return credentials{}, fmt.Errorf("credential_process wrote more than %d bytes", maxLocalAnswer)
		}
		return parseProcessCredentials(out.Bytes())
	}
}

type limitedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		b.over = true
		return 0, errors.New("too much output")
	}
	return b.Buffer.Write(p)
}

// parseProcessCredentials reads credential_process output (Version 1).
func parseProcessCredentials(b []byte) (credentials, error) {
	var v struct {
		Version         int    `json:"Version"`
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		SessionToken    string `json:"SessionToken"`
		Expiration      string `json:"Expiration"`
	}
	if decodeJSONObject(b, &v) != nil || v.Version != 1 || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return credentials{}, errors.New("credential_process output is not Version 1 JSON with AccessKeyId and SecretAccessKey")
	}
	c := credentials{AccessKeyID: v.AccessKeyID, SecretAccessKey: v.SecretAccessKey, SessionToken: v.SessionToken}
	if v.Expiration != "" {
		t, err := time.Parse(time.RFC3339, v.Expiration)
		if err != nil {
			return credentials{}, errors.New("credential_process output: Expiration is not an RFC 3339 time")
		}
		c.Expires = t
	}
	return c, nil
}

// Container credentials (ECS, EKS Pod Identity).

// containerSource reads AWS_CONTAINER_CREDENTIALS_*; ok is false when
// neither is set.
func containerSource() (credentialSource, bool, error) {
	rawURL := ""
	if rel := os.Getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		if !strings.HasPrefix(rel, "/") {
			return nil, true, configErrorf("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with /")
		}
		rawURL = "http://" + ecsHost + rel
	} else if full := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		if err := checkContainerURL(full); err != nil {
			return nil, true, configErrorf("AWS_CONTAINER_CREDENTIALS_FULL_URI: %v", err)
		}
		rawURL = full
	} else {
		return nil, false, nil
	}
	tokenFile, token := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	return func(ctx context.Context) (credentials, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return credentials{}, errors.New("container credentials: bad URL")
		}
		auth := token
		if tokenFile != "" {
			b, err := readSmallFile(tokenFile, maxLocalAnswer)
			if err != nil {
				return credentials{}, fmt.Errorf("container credentials: token file: %w", err)
			}
			auth = string(bytes.TrimSpace(b))
		}
		if strings.ContainsAny(auth, "\r\n") {
			return credentials{}, errors.New("container credentials: the authorization token holds a line break")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		b, err := localGet(req)
		if err != nil {
			return credentials{}, fmt.Errorf("container credentials: %w", err)
		}
		c, err := parseContainerCredentials(b)
		if err != nil {
			return credentials{}, fmt.Errorf("container credentials: %w", err)
		}
		return c, nil
	}, true, nil
}

// checkContainerURL allows https anywhere, and http only to the loopback
// interface or the ECS and EKS Pod Identity agents.
func checkContainerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("not a URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
	default:
		return fmt.Errorf("scheme %q, want http or https", u.Scheme)
	}
	host := u.Hostname()
	switch host {
	case ecsHost, "169.254.170.23", "fd00:ec2::23", "localhost":
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("http is allowed to loopback, %s, 169.254.170.23 and fd00:ec2::23 only, not %q", ecsHost, host)
}

// localGet sends req to a local credential endpoint and returns a bounded
// 200 body.
func localGet(req *http.Request) ([]byte, error) {
	resp, err := localHTTP.Do(req)
	if err != nil {
		return nil, providers.Retryable(fmt.Errorf("%s %s: no answer", req.Method, req.URL.Redacted()))
	}
	defer resp.Body.Close()
	b, err := readBounded(resp, maxLocalAnswer)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%s %s: HTTP %d", req.Method, req.URL.Redacted(), resp.StatusCode)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, providers.Retryable(err)
		}
		return nil, err
	}
	return b, nil
}

// parseContainerCredentials reads a container credentials answer.
func parseContainerCredentials(b []byte) (credentials, error) {
	var v struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		Token           string `json:"Token"`
		Expiration      string `json:"Expiration"`
	}
	if decodeJSONObject(b, &v) != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return credentials{}, errors.New("the answer is not JSON with AccessKeyId and SecretAccessKey")
	}
	return temporary(v.AccessKeyID, v.SecretAccessKey, v.Token, v.Expiration)
}

// temporary makes credentials of a source that issues temporary ones: an
// absent expiry means defaultLifetime.
func temporary(id, secret, token, expiration string) (credentials, error) {
	c := credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}
	if expiration == "" {
		c.Expires = time.Now().Add(defaultLifetime)
		return c, nil
	}
	t, err := time.Parse(time.RFC3339, expiration)
	if err != nil {
		return credentials{}, errors.New("Expiration is not an RFC 3339 time")
	}
	c.Expires = t
	return c, nil
}

// IMDSv2.

const (
	imdsTokenTTL = 6 * time.Hour
	imdsCredPath = "/latest/meta-data/iam/security-credentials/"
)

func imdsEndpoint() string {
	if e := os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"); e != "" {
		return strings.TrimSuffix(e, "/")
	}
	if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), "IPv6") {
		return "http://[fd00:ec2::254]"
	}
	return "http://169.254.169.254"
}

type imds struct {
	endpoint string
	mu       sync.Mutex
	token    string
	tokenExp time.Time
}

func newIMDS(endpoint string) *imds { return &imds{endpoint: endpoint} }

// roleName is what IMDS may name an instance profile role.
var roleName = regexp.MustCompile(`^[\w+=,.@-]+$`)

func (m *imds) credentials(ctx context.Context) (credentials, error) {
	tok, err := m.sessionToken(ctx)
	if err != nil {
		return credentials{}, fmt.Errorf("instance metadata (IMDSv2): %w", err)
	}
	b, err := m.get(ctx, imdsCredPath, tok)
	if err != nil {
		return credentials{}, fmt.Errorf("instance metadata: no role: %w", err)
	}
	role, err := parseIMDSRole(b)
	if err != nil {
		return credentials{}, fmt.Errorf("instance metadata: %w", err)
	}
	b, err = m.get(ctx, imdsCredPath+role, tok)
	if err != nil {
		return credentials{}, fmt.Errorf("instance metadata: role credentials: %w", err)
	}
	c, err := parseIMDSCredentials(b)
	if err != nil {
		return credentials{}, fmt.Errorf("instance metadata: %w", err)
	}
	return c, nil
}

func (m *imds) sessionToken(ctx context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.token != "" && time.Now().Before(m.tokenExp) {
		return m.token, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.endpoint+"/latest/api/token", nil)
	if err != nil {
		return "", errors.New("bad endpoint")
	}
	req.Header.Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", fmt.Sprint(int(imdsTokenTTL.Seconds())))
	b, err := localGet(req)
	if err != nil {
		return "", err
	}
	tok := string(bytes.TrimSpace(b))
	if tok == "" || strings.ContainsAny(tok, "\r\n") || len(tok) > 4096 {
		return "", errors.New("the session token answer is malformed")
	}
	m.token, m.tokenExp = tok, time.Now().Add(imdsTokenTTL-time.Minute)
	return tok, nil
}

func (m *imds) get(ctx context.Context, path, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint+path, nil)
	if err != nil {
		return nil, errors.New("bad endpoint")
	}
	req.Header.Set("X-Aws-Ec2-Metadata-Token", token)
	b, err := localGet(req)
	if err != nil && strings.Contains(err.Error(), "HTTP 401") {
		m.mu.Lock()
		m.token = "" // expired: the next refresh asks for a new one
		m.mu.Unlock()
	}
	return b, err
}

// parseIMDSRole reads the first role name of the security-credentials
// listing.
func parseIMDSRole(b []byte) (string, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) > 128 || !roleName.MatchString(line) || strings.Trim(line, ".") == "" {
			return "", errors.New("the role listing is malformed")
		}
		return line, nil
	}
	return "", errors.New("the instance has no IAM role")
}

// parseIMDSCredentials reads a role's credentials answer.
func parseIMDSCredentials(b []byte) (credentials, error) {
	var v struct {
		Code            string `json:"Code"`
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		Token           string `json:"Token"`
		Expiration      string `json:"Expiration"`
	}
	if decodeJSONObject(b, &v) != nil {
		return credentials{}, errors.New("the credentials answer is not a JSON object")
	}
	if v.Code != "Success" || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return credentials{}, errors.New("the credentials answer is not a success with keys")
	}
	return temporary(v.AccessKeyID, v.SecretAccessKey, v.Token, v.Expiration)
}
