package awstest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// ssmTargetPrefix starts the X-Amz-Target of every Parameter Store call.
const ssmTargetPrefix = "AmazonSSM."

// SSMAdmin returns a Parameter Store client that talks to kumo directly:
// its calls are not counted and never see injected faults.
func (s *Server) SSMAdmin() *ssm.Client {
	return ssm.New(ssm.Options{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.kumo.URL),
	})
}

// PutParameter stores a new version of a parameter (a SecureString when
// secure) and returns its version number.
func (s *Server) PutParameter(tb testing.TB, name, value string, secure bool) int64 {
	tb.Helper()
	typ := ssmtypes.ParameterTypeString
	if secure {
		typ = ssmtypes.ParameterTypeSecureString
	}
	out, err := s.SSMAdmin().PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true),
	})
	if err != nil {
		tb.Fatalf("put parameter %s: %v", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.history == nil {
		s.history = map[string][]string{}
	}
	h := s.history[name]
	for int64(len(h)) < out.Version {
		h = append(h, value)
	}
	s.history[name] = h
	return out.Version
}

// getParameter serves GetParameter. A name with a version selector
// ("name:3") is answered from the versions PutParameter recorded, as AWS
// answers it; kumo knows only the latest value. Labels are not emulated
// (ParameterVersionNotFound). Other names go to kumo.
func (s *Server) getParameter(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct{ Name string }
	_ = json.Unmarshal(body, &in)
	name, selector, ok := strings.Cut(in.Name, ":")
	if !ok || strings.HasPrefix(in.Name, "arn:") {
		status, header, out := s.forward(r, body)
		writeRaw(w, status, header, out)
		return
	}
	s.mu.Lock()
	h := s.history[name]
	s.mu.Unlock()
	n, err := strconv.Atoi(selector)
	if err != nil || n < 1 || n > len(h) {
		writeFault(w, awsJSON, Fault{http.StatusBadRequest, "ParameterVersionNotFound", "Systems Manager could not find version " + selector + " of " + name + "."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Parameter": map[string]any{
		"Name": name, "Value": h[n-1], "Version": n, "Type": "String", "Selector": ":" + selector,
	}})
}

// maxGetParameters is the most names AWS accepts in one GetParameters call.
const maxGetParameters = 10

// getParameters serves GetParameters, refusing more than ten names as AWS
// does (kumo accepts any number).
func (s *Server) getParameters(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct{ Names []string }
	_ = json.Unmarshal(body, &in)
	if len(in.Names) > maxGetParameters {
		writeFault(w, awsJSON, Fault{http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10"})
		return
	}
	status, header, out := s.forward(r, body)
	writeRaw(w, status, header, out)
}
