package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/kseal-dev/kseal/providers"
)

// tokenTimeout bounds one WebIdentityToken callback: the SDK's token
// retriever takes no context, so the provider's own one is used with this
// limit.
const tokenTimeout = 30 * time.Second

// loadConfig builds the SDK configuration: transport, retries, the metrics
// hook and the credential chain. The SDK's shared configuration (region,
// endpoints such as AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_STS,
// retry settings) is loaded the SDK's way in every auth mode, as External
// Secrets Operator does; a store's own endpoint and region win over it.
// Explicit credentials (static keys, web identity) never read credentials
// from the controller's environment; only the default chain does, which is
// its purpose (IRSA, instance profiles).
func loadConfig(ctx, base context.Context, cfg Config) (awssdk.Config, error) {
	var apiOptions []func(*middleware.Stack) error
	if cfg.OnCall != nil {
		apiOptions = append(apiOptions, callHook(cfg.OnCall))
	}
	retryer := newRetryer(cfg.MaxAttempts, cfg.MaxBackoff)
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithRetryer(retryer),
		config.WithAPIOptions(apiOptions),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	switch {
	case cfg.Static != nil:
		s := cfg.Static
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, s.SessionToken)))
	case cfg.WebIdentityToken != nil:
		// Replaced below; set so the SDK resolves no credentials of its own.
		opts = append(opts, config.WithCredentialsProvider(awssdk.AnonymousCredentials{}))
	}
	// The SDK's own client: the default chain may need to add a CA bundle
	// (AWS_CA_BUNDLE) to it. The credential providers it builds talk to the
	// controller's environment (IMDS, STS, SSO); the clients kseal builds
	// below, for endpoints a store names, are limited.
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("aws: load default config: %w", err)
	}
	var next awssdk.HTTPClient = awshttp.NewBuildableClient()
	if awsCfg.HTTPClient != nil {
		next = awsCfg.HTTPClient
	}
	awsCfg.HTTPClient = limitedClient{next: next}
	if cfg.WebIdentityToken != nil {
		// AssumeRoleWithWebIdentity is an unsigned call: the STS client
		// needs no credentials of its own.
		retriever := tokenRetriever{ctx: base, fetch: cfg.WebIdentityToken}
		role := cfg.WebIdentityRole
		if role == "" {
			role, cfg.Role = cfg.Role, "" // Role is the web identity role
		}
		provider := stscreds.NewWebIdentityRoleProvider(stsClient(awsCfg, cfg), role, retriever,
			func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = cfg.SessionName })
		awsCfg.Credentials = awssdk.NewCredentialsCache(provider)
	}
	assumeChain(&awsCfg, cfg)
	return awsCfg, nil
}

// limitedClient limits every response body to providers.MaxResponseSize
// (AWS answers, STS answers, and those of whatever server a store names).
type limitedClient struct{ next awssdk.HTTPClient }

func (c limitedClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err != nil {
		return resp, err
	}
	if err := providers.LimitBody(resp, providers.MaxResponseSize); err != nil {
		return nil, err
	}
	return resp, nil
}

func stsClient(awsCfg awssdk.Config, cfg Config) *sts.Client {
	return sts.NewFromConfig(awsCfg, func(o *sts.Options) {
		if cfg.STSEndpoint != "" {
			o.BaseEndpoint = awssdk.String(cfg.STSEndpoint)
		}
	})
}

// newRetryer is the SDK's standard retryer (exponential backoff with jitter
// on throttling, 5xx and connection errors) with a small attempt budget and
// no client-side retry quota: a quota error would hide the AWS error that
// tells the controller to back off.
func newRetryer(maxAttempts int, maxBackoff time.Duration) func() awssdk.Retryer {
	return func() awssdk.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			if maxBackoff > 0 {
				o.MaxBackoff = maxBackoff
			}
			o.RateLimiter = ratelimit.None
		})
	}
}

// callHook reports every API call, once, after the SDK's retries.
func callHook(onCall func(string, error)) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kseal.dev/OnCall",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				onCall(middleware.GetOperationName(ctx), err)
				return out, md, err
			}), middleware.Before)
	}
}

// tokenRetriever adapts Config.WebIdentityToken to the SDK's context-free
// stscreds.IdentityTokenRetriever.
type tokenRetriever struct {
	// ctx is the provider's context, cancelled by Close.
	ctx   context.Context
	fetch func(context.Context) (string, error)
}

func (t tokenRetriever) GetIdentityToken() ([]byte, error) {
	ctx, cancel := context.WithTimeout(t.ctx, tokenTimeout)
	defer cancel()
	tok, err := t.fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("get web identity token: %w", err)
	}
	if tok == "" {
		return nil, errors.New("get web identity token: empty token")
	}
	return []byte(tok), nil
}
