package awstest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// AssumeRoleCall is an AssumeRole request the server answered, as STS
// received it.
type AssumeRoleCall struct {
	// RoleARN is the role asked for.
	RoleARN string
	// SignedBy is the access key id that signed the request: the base
	// credentials, or those an earlier AssumeRole issued.
	SignedBy string
	// Issued is the access key id of the credentials the answer carried
	// ("" when it failed).
	Issued string
	// ExternalID is the ExternalId parameter.
	ExternalID string
	// Tags are the session tags, "key=value", in request order.
	Tags []string
	// TransitiveTagKeys are the transitive tag keys, in request order.
	TransitiveTagKeys []string
}

// AssumeRoleCalls returns the AssumeRole requests answered so far, in order.
func (s *Server) AssumeRoleCalls() []AssumeRoleCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.assumed)
}

// assumeRole lets kumo answer AssumeRole, accepts the issued credentials
// and records the call.
func (s *Server) assumeRole(w http.ResponseWriter, r *http.Request, body []byte, form url.Values) {
	status, header, out := s.forward(r, body)
	call := AssumeRoleCall{RoleARN: form.Get("RoleArn"), ExternalID: form.Get("ExternalId")}
	if a, ok := parseAuthorization(r.Header.Get("Authorization")); ok {
		call.SignedBy = a.accessKeyID
	}
	for i := 1; form.Has(fmt.Sprintf("Tags.member.%d.Key", i)); i++ {
		call.Tags = append(call.Tags, form.Get(fmt.Sprintf("Tags.member.%d.Key", i))+"="+form.Get(fmt.Sprintf("Tags.member.%d.Value", i)))
	}
	for i := 1; form.Has(fmt.Sprintf("TransitiveTagKeys.member.%d", i)); i++ {
		call.TransitiveTagKeys = append(call.TransitiveTagKeys, form.Get(fmt.Sprintf("TransitiveTagKeys.member.%d", i)))
	}
	if status == http.StatusOK {
		s.acceptIssued(out)
		var resp struct {
			AccessKeyID string `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
		}
		if xml.Unmarshal(out, &resp) == nil {
			call.Issued = resp.AccessKeyID
		}
	}
	s.mu.Lock()
	s.assumed = append(s.assumed, call)
	s.mu.Unlock()
	writeRaw(w, status, header, out)
}
