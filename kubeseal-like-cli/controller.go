package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kseal-dev/kseal/httpapi/wire"
)

// DefaultControllerName is the name of the controller's Service.
const DefaultControllerName = "kseal-controller"

const (
	// requestTimeout bounds one request to the controller.
	requestTimeout = 30 * time.Second
	// maxResponse bounds a response body: a SealedSecret of at most 4 MiB
	// re-encrypted, with room to spare.
	maxResponse = 8 << 20
	// maxRetries is how often a request refused with 429 is tried again.
	maxRetries = 10
	// maxRetryWait caps the wait that a Retry-After header asks for.
	maxRetryWait = 30 * time.Second
)

// controllerFlags say how to reach the controller: through the API server's
// service proxy with a kubeconfig (kubeseal's flags), or at a URL.
type controllerFlags struct {
	name, namespace     string
	kubeconfig, context string
	url                 string
}

// register adds the flags to cmd.
func (f *controllerFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.name, "controller-name", DefaultControllerName, "name of the controller's Service")
	fs.StringVar(&f.namespace, "controller-namespace", DefaultControllerNamespace, "namespace of the controller")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "kubeconfig context (default the current context)")
	fs.StringVar(&f.url, "controller-url", "", "reach the controller at this http(s) URL instead of through the API server, for example http://localhost:8080 with kubectl port-forward")
}

// errNoKubeconfig: nothing says where the controller is.
var errNoKubeconfig = errors.New("no kubeconfig found and no --controller-url given")

// hintReachController tells how to reach the controller.
func (f *controllerFlags) hintReach() string {
	return fmt.Sprintf("pass --kubeconfig FILE (and --context), or --controller-url http://localhost:8080 after `kubectl -n %s port-forward svc/%s 8080`", f.namespace, f.name)
}

// client returns a client for the controller. Without --controller-url and
// without a kubeconfig it returns an error matching errNoKubeconfig.
func (f *controllerFlags) client() (*controllerClient, error) {
	if f.url != "" {
		u, err := url.Parse(f.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, withHint(fmt.Errorf("--controller-url %q is not an http(s) URL", f.url), "%s", f.hintReach())
		}
		return &controllerClient{base: u, http: &http.Client{Timeout: requestTimeout}, where: "the controller at " + u.Redacted()}, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context}).ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, withHint(errNoKubeconfig, "%s", f.hintReach())
	case err != nil:
		return nil, withHint(fmt.Errorf("kubeconfig: %w", err), "check --kubeconfig and --context, or pass --controller-url URL")
	}
	cfg.Timeout = requestTimeout
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, withHint(fmt.Errorf("kubeconfig: %w", err), "check the credentials of the kubeconfig context")
	}
	server, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, withHint(fmt.Errorf("kubeconfig: %w", err), "check the server of the kubeconfig context")
	}
	// The Service's port is named "http"; the API server proxies to it.
	base := server.JoinPath("api/v1/namespaces", f.namespace, "services", "http:"+f.name+":http", "proxy")
	return &controllerClient{
		base:  base,
		http:  hc,
		where: fmt.Sprintf("service %s/%s through the API server %s", f.namespace, f.name, server.Redacted()),
	}, nil
}

// controllerClient calls the controller's HTTP API.
type controllerClient struct {
	// base is the URL under which /v1/... is served.
	base *url.URL
	// http sends the requests; through the API server it authenticates as
	// the kubeconfig user.
	http *http.Client
	// where describes the controller for messages.
	where string
}

// controllerError is an unexpected response of the controller, or of the
// API server in front of it.
type controllerError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the first line of the response, or the message of a
	// Kubernetes Status.
	Message string
}

func (e *controllerError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// CertPEM returns the controller's current certificate.
func (c *controllerClient) CertPEM(ctx context.Context) ([]byte, error) {
	body, _, err := c.do(ctx, http.MethodGet, wire.PathCert, nil)
	if err != nil {
		return nil, err
	}
	return body, nil
}

// Verify asks whether the controller can unseal the SealedSecret in body.
// A refusal is a *controllerError with Status 409 whose Message says why.
func (c *controllerClient) Verify(ctx context.Context, body []byte) error {
	_, _, err := c.do(ctx, http.MethodPost, wire.PathVerify, body)
	return err
}

// Rotate returns the SealedSecret in body sealed to the controller's newest
// key, and whether it changed.
func (c *controllerClient) Rotate(ctx context.Context, body []byte) ([]byte, bool, error) {
	out, header, err := c.do(ctx, http.MethodPost, wire.PathRotate, body)
	if err != nil {
		return nil, false, err
	}
	switch header.Get(wire.HeaderRotated) {
	case "true":
		return out, true, nil
	case "false":
		return out, false, nil
	}
	return nil, false, fmt.Errorf("%s answered without a %s header: is it a kseal controller?", c.where, wire.HeaderRotated)
}

// do sends one request, tries again while the server answers 429, and
// returns the body of a 200 response.
func (c *controllerClient) do(ctx context.Context, method, path string, body []byte) ([]byte, http.Header, error) {
	u := c.base.JoinPath(path)
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/yaml")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, nil, err
		}
		data, err := readLimit("the response", resp.Body, maxResponse)
		resp.Body.Close()
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode == http.StatusTooManyRequests && attempt < maxRetries {
			if err := sleep(ctx, retryAfter(resp.Header)); err != nil {
				return nil, nil, err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, nil, &controllerError{Status: resp.StatusCode, Message: responseMessage(data)}
		}
		return data, resp.Header, nil
	}
}

// retryAfter reads a Retry-After header in seconds; one second by default.
func retryAfter(h http.Header) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || secs < 1 {
		return time.Second
	}
	return min(time.Duration(secs)*time.Second, maxRetryWait)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// responseMessage extracts a one-line message from an error response: the
// message of a Kubernetes Status (the API server's own errors), else the
// first line of the text.
func responseMessage(data []byte) string {
	var status struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &status) == nil && status.Kind == "Status" {
		data = []byte(status.Message)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	const maxLen = 2000
	if len(line) > maxLen {
		line = line[:maxLen] + "..."
	}
	return line
}

// reachError adds a hint to a failure to talk to the controller.
func (f *controllerFlags) reachError(what string, c *controllerClient, err error) error {
	err = fmt.Errorf("%s from %s: %w", what, c.where, err)
	var ce *controllerError
	if errors.As(err, &ce) {
		switch {
		case ce.Status == http.StatusUnauthorized || ce.Status == http.StatusForbidden:
			return withHint(err, "the kubeconfig user needs get and create on services/proxy in namespace %s", f.namespace)
		case ce.Status == http.StatusNotFound && f.url == "":
			return withHint(err, "is the controller installed? check --controller-namespace (%s) and --controller-name (%s)", f.namespace, f.name)
		case ce.Status == http.StatusServiceUnavailable:
			return withHint(err, "the controller is not ready: check `kubectl -n %s get pods` and its logs", f.namespace)
		case ce.Status == http.StatusTooManyRequests:
			return withHint(err, "the controller limits requests; wait a minute and run the command again")
		}
		return err
	}
	if f.url != "" {
		return withHint(err, "check --controller-url, and that kubectl port-forward is still running")
	}
	return withHint(err, "check that the API server is reachable with this kubeconfig (kubectl -n %s get svc %s)", f.namespace, f.name)
}
