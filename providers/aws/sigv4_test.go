package aws

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// randomText draws n characters from alphabet.
func randomText(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
	// printable is what a header value or query part may hold here:
	// spaces in runs, reserved and non-ASCII bytes included.
	printable = unreserved + "   !\"#$%&'()*+,/:;<=>?@[\\]^`{|}" + "é"
)

// randomRequest is a request of the kind kseal sends, with everything the
// signature covers drawn at random: method, host and port, path, query,
// headers (repeated, mixed case, padded and inner runs of spaces), body,
// session token and clock.
func randomRequest(t *testing.T, r *rand.Rand) (*http.Request, []byte, credentials, string, string, time.Time) {
	t.Helper()
	scheme := []string{"https", "http"}[r.IntN(2)]
	host := randomText(r, "abcdefghijklmnopqrstuvwxyz0123456789", 1+r.IntN(12)) + ".example.com"
	switch r.IntN(4) {
	case 0:
		host += ":443"
	case 1:
		host += ":80"
	case 2:
		host += ":" + strings.TrimLeft(randomText(r, "0123456789", 4), "0") + "1"
	}
	path := ""
	for range r.IntN(4) {
		path += "/" + url.PathEscape(randomText(r, printable, r.IntN(8)))
	}
	q := url.Values{}
	for range r.IntN(5) {
		k := randomText(r, printable, 1+r.IntN(6))
		for range 1 + r.IntN(2) {
			q.Add(k, randomText(r, printable, r.IntN(8)))
		}
	}
	raw := scheme + "://" + host + path
	if len(q) > 0 {
		raw += "?" + q.Encode()
	}
	body := []byte(randomText(r, printable, r.IntN(200)))
	method := []string{http.MethodPost, http.MethodGet, http.MethodPut}[r.IntN(3)]
	req, err := http.NewRequest(method, raw, strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("request %q: %v", raw, err)
	}
	if len(body) == 0 {
		req.ContentLength = 0
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager."+randomText(r, unreserved, 1+r.IntN(20)))
	req.Header.Set("User-Agent", "kseal")
	for range r.IntN(4) {
		name := "X-" + randomText(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-", 1+r.IntN(8))
		for range 1 + r.IntN(2) {
			req.Header.Add(name, strings.Repeat(" ", r.IntN(3))+randomText(r, printable, r.IntN(16))+strings.Repeat(" ", r.IntN(3)))
		}
	}
	c := credentials{AccessKeyID: "AKIA" + randomText(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16), SecretAccessKey: randomText(r, unreserved+"/+", 40)}
	if r.IntN(2) == 0 {
		c.SessionToken = randomText(r, unreserved+"/+=", 1+r.IntN(300))
	}
	region := []string{"us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1"}[r.IntN(4)]
	svc := []string{"secretsmanager", "ssm", "sts"}[r.IntN(3)]
	at := time.Unix(r.Int64N(4_000_000_000), 0)
	return req, body, c, svc, region, at
}

// TestSignV4_sameAsSDKSigner signs random requests with kseal's signer and
// with the AWS SDK's v4 signer and compares the Authorization headers (and
// the headers each adds).
func TestSignV4_sameAsSDKSigner(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 2026))
	sdk := v4.NewSigner()
	for i := range 2000 {
		ours, body, c, svc, region, at := randomRequest(t, r)
		theirs := ours.Clone(context.Background())
		theirs.Header = ours.Header.Clone()
		hash := payloadHash(body)

		signV4(ours, hash, c, svc, region, at)
		creds := awssdk.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
		if err := sdk.SignHTTP(context.Background(), creds, theirs, hash, svc, region, at); err != nil {
			t.Fatalf("SDK signer: %v", err)
		}
		for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
			if got, want := ours.Header.Get(h), theirs.Header.Get(h); got != want {
				t.Fatalf("request %d (%s %s, headers %v):\n%s = %q\nSDK:  %q", i, ours.Method, ours.URL, ours.Header, h, got, want)
			}
		}
	}
}

// TestSignV4_knownAnswer: the example of AWS's SigV4 documentation
// (IAM ListUsers, GET with a query, credentials AKIDEXAMPLE).
func TestSignV4_knownAnswer(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	signV4(req, payloadHash(nil), credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, "iam", "us-east-1", at)
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization = %q\nwant %q", got, want)
	}
}
