package awstest

import (
	"encoding/xml"
	"net/http"
	"net/url"
)

// assumeRoleWithWebIdentity checks the token with the TokenVerifier (kumo's
// STS accepts any token; AWS checks it against the OIDC provider trusted by
// the role), then lets kumo issue the temporary credentials and accepts
// them for later calls.
func (s *Server) assumeRoleWithWebIdentity(w http.ResponseWriter, r *http.Request, body []byte, form url.Values) {
	s.mu.Lock()
	verify := s.verify
	s.mu.Unlock()
	token, role := form.Get("WebIdentityToken"), form.Get("RoleArn")
	if verify == nil || token == "" || verify(r.Context(), token, role) != nil {
		writeFault(w, awsQuery, Fault{http.StatusBadRequest, "InvalidIdentityToken", "The web identity token could not be verified."})
		return
	}
	status, header, out := s.forward(r, body)
	if status == http.StatusOK {
		s.acceptIssued(out)
	}
	writeRaw(w, status, header, out)
}

// acceptIssued registers credentials in an STS answer (AssumeRole,
// AssumeRoleWithWebIdentity), so that calls signed with them pass.
func (s *Server) acceptIssued(answer []byte) {
	type credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
	}
	var resp struct {
		Web  *credentials `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
		Role *credentials `xml:"AssumeRoleResult>Credentials"`
	}
	if xml.Unmarshal(answer, &resp) != nil {
		return
	}
	for _, c := range []*credentials{resp.Web, resp.Role} {
		if c != nil && c.AccessKeyID != "" {
			s.mu.Lock()
			s.keys[c.AccessKeyID] = credential{secret: c.SecretAccessKey, sessionToken: c.SessionToken}
			s.mu.Unlock()
		}
	}
}
