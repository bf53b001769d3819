package aws

import (
	"net/http"
	"strings"
	"testing"
)

// Fuzz targets of every parser of the client: error answers, STS XML,
// JSON answers, credential_process output, container and IMDS answers,
// shared configuration files. None may panic; what they accept must be
// usable, and a rejected answer's bytes must not reach the error.

func FuzzDecodeError(f *testing.F) {
	for _, s := range []string{
		`{"__type":"com.amazonaws#ThrottlingException","message":"x"}`, `{"code":"AccessDeniedException"}`,
		`<ErrorResponse><Error><Code>ExpiredToken</Code></Error></ErrorResponse>`, "", "null", `{"__type":5}`,
	} {
		f.Add(s, "", 400, false)
		f.Add(s, "ResourceNotFoundException:http://internal", 500, true)
	}
	f.Fuzz(func(t *testing.T, body, header string, status int, query bool) {
		h := http.Header{}
		if !strings.ContainsAny(header, "\r\n") {
			h.Set("X-Amzn-ErrorType", header)
		}
		e := decodeError("GetSecretValue", status, h, []byte(body), query)
		if e.code != "" && knownCode(e.code) != e.code {
			t.Fatalf("unknown code %q kept", e.code)
		}
		msg := e.Error()
		if len(body) > 40 && strings.Contains(msg, body) {
			t.Fatalf("error %q carries the body", msg)
		}
		_ = classify(e)
	})
}

func FuzzParseSTSCredentials(f *testing.F) {
	f.Add("AssumeRole", `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`)
	f.Add("AssumeRoleWithWebIdentity", `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>A</AccessKeyId></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`)
	f.Add("AssumeRole", `<!DOCTYPE x [<!ENTITY a "aaaa">]><AssumeRoleResponse>&a;</AssumeRoleResponse>`)
	f.Fuzz(func(t *testing.T, op, body string) {
		c, err := parseSTSCredentials(op, []byte(body))
		if err != nil {
			if err != errMalformed {
				t.Fatalf("err = %v, want errMalformed", err)
			}
			return
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" || c.Expires.IsZero() {
			t.Fatalf("accepted incomplete credentials %+v", c)
		}
	})
}

func FuzzDecodeJSONObject(f *testing.F) {
	for _, s := range []string{`{"SecretValues":[{"Name":"a","SecretBinary":"AAE="}],"Errors":[{"SecretId":"b","ErrorCode":"x"}]}`, `[]`, `{"NextToken":1}`, "", `{}`, `{"a":1}{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var out batchGetSecretValueOutput
		err := decodeJSONObject([]byte(body), &out)
		if err != nil && err != errMalformed {
			t.Fatalf("err = %v, want errMalformed", err)
		}
		if err == nil && !strings.HasPrefix(strings.TrimSpace(body), "{") {
			t.Fatalf("accepted %q, not an object", body)
		}
	})
}

func FuzzParseProcessCredentials(f *testing.F) {
	f.Add(`{"Version":1,"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":"T","Expiration":"2030-01-01T00:00:00Z"}`)
	f.Add(`{"Version":2,"AccessKeyId":"A","SecretAccessKey":"S"}`)
	f.Add(`{"Version":1,"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"soon"}`)
	f.Fuzz(func(t *testing.T, body string) {
		c, err := parseProcessCredentials([]byte(body))
		checkParsed(t, body, c, err)
	})
}

func FuzzParseContainerCredentials(f *testing.F) {
	f.Add(`{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2030-01-01T00:00:00Z"}`)
	f.Add(`{"code":"InvalidToken","message":"x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		c, err := parseContainerCredentials([]byte(body))
		checkParsed(t, body, c, err)
		if err == nil && c.Expires.IsZero() {
			t.Fatal("container credentials without an expiry")
		}
	})
}

func FuzzParseIMDS(f *testing.F) {
	f.Add("node-role\n", `{"Code":"Success","AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2030-01-01T00:00:00Z"}`)
	f.Add("../../etc\n", `{"Code":"AssumeRoleUnauthorizedAccess"}`)
	f.Fuzz(func(t *testing.T, listing, body string) {
		role, err := parseIMDSRole([]byte(listing))
		if err == nil && (!roleName.MatchString(role) || strings.ContainsAny(role, "/?#%")) {
			t.Fatalf("role %q accepted: it could change the request path", role)
		}
		c, err := parseIMDSCredentials([]byte(body))
		checkParsed(t, body, c, err)
	})
}

// checkParsed: accepted credentials have keys; an error never carries
// the body.
func checkParsed(t *testing.T, body string, c credentials, err error) {
	t.Helper()
	if err != nil {
		if len(body) > 20 && strings.Contains(err.Error(), body) {
			t.Fatalf("error %q carries the body", err)
		}
		return
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		t.Fatalf("accepted credentials without keys from %q", body)
	}
}

func FuzzParseINI(f *testing.F) {
	f.Add("[default]\naws_access_key_id = A\n[profile x]\n  nested = 1\ncredential_process=cat f\n; c\n# c\n")
	f.Add("[broken\nk=v\n[ a   b ]\nK = V = W\n")
	f.Fuzz(func(t *testing.T, s string) {
		for name, sec := range parseINI([]byte(s)) {
			if name != strings.Join(strings.Fields(name), " ") {
				t.Fatalf("section %q not normalized", name)
			}
			for k := range sec {
				if k != strings.ToLower(k) {
					t.Fatalf("key %q not lowercased", k)
				}
			}
		}
	})
}
