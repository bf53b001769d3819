package awstest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// maxBatchIDs is the most ids BatchGetSecretValue accepts.
const maxBatchIDs = 20

// filterValue is the pattern AWS enforces on ListSecrets filter values.
var filterValue = regexp.MustCompile(`^!?[a-zA-Z0-9 :_@/+=.\-]{1,512}$`)

type apiError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

type filter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// batchGetSecretValue stands in for AWS BatchGetSecretValue with a
// SecretIdList (kumo has no such operation): each id is read with kumo's
// GetSecretValue; values go to SecretValues, failures to Errors with the
// id asked for, and the call itself succeeds.
func (s *Server) batchGetSecretValue(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		SecretIdList []string        `json:"SecretIdList"`
		Filters      json.RawMessage `json:"Filters"`
		MaxResults   *int            `json:"MaxResults"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeFault(w, awsJSON, Fault{http.StatusBadRequest, "SerializationException", "malformed request"})
		return
	}
	switch {
	case len(req.Filters) > 0:
		writeFault(w, awsJSON, Fault{http.StatusBadRequest, "InvalidParameterException", "awstest supports BatchGetSecretValue with SecretIdList only"})
		return
	case len(req.SecretIdList) == 0 || len(req.SecretIdList) > maxBatchIDs:
		writeFault(w, awsJSON, Fault{http.StatusBadRequest, "InvalidParameterException", "SecretIdList must hold 1 to 20 ids"})
		return
	case req.MaxResults != nil:
		writeFault(w, awsJSON, Fault{http.StatusBadRequest, "InvalidParameterException", "MaxResults needs Filters"})
		return
	}
	type entryError struct {
		SecretID  string `json:"SecretId"`
		ErrorCode string `json:"ErrorCode"`
		Message   string `json:"Message"`
	}
	resp := struct {
		SecretValues []json.RawMessage `json:"SecretValues"`
		Errors       []entryError      `json:"Errors"`
	}{SecretValues: []json.RawMessage{}, Errors: []entryError{}}
	for _, id := range req.SecretIdList {
		status, out := s.kumoJSON(r.Context(), "secretsmanager", "GetSecretValue", map[string]string{"SecretId": id})
		if status == http.StatusOK {
			resp.SecretValues = append(resp.SecretValues, out)
			continue
		}
		var e apiError
		if json.Unmarshal(out, &e) != nil || e.Type == "" {
			e = apiError{Type: "InternalServiceError", Message: "emulator error"}
		}
		resp.Errors = append(resp.Errors, entryError{SecretID: id, ErrorCode: e.Type, Message: e.Message})
	}
	writeJSON(w, http.StatusOK, resp)
}

// listSecrets applies ListSecrets Filters, which kumo ignores, to each page
// kumo returns. Like AWS, a page may come back short or empty with a
// NextToken.
func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Filters []filter `json:"Filters"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeFault(w, awsJSON, Fault{http.StatusBadRequest, "SerializationException", "malformed request"})
		return
	}
	if f, ok := validFilters(req.Filters); !ok {
		writeFault(w, awsJSON, f)
		return
	}
	status, header, out := s.forward(r, body)
	if status != http.StatusOK || len(req.Filters) == 0 {
		writeRaw(w, status, header, out)
		return
	}
	var page map[string]any
	if err := json.Unmarshal(out, &page); err != nil {
		writeFault(w, awsJSON, InternalError)
		return
	}
	list, _ := page["SecretList"].([]any)
	kept := []any{}
	for _, e := range list {
		if entry, ok := e.(map[string]any); ok && matchAll(req.Filters, entry) {
			kept = append(kept, entry)
		}
	}
	page["SecretList"] = kept
	writeJSON(w, http.StatusOK, page)
}

func validFilters(fs []filter) (Fault, bool) {
	bad := Fault{Status: http.StatusBadRequest, Code: "ValidationException"}
	if len(fs) > 10 {
		bad.Message = "at most 10 filters"
		return bad, false
	}
	for _, f := range fs {
		switch f.Key {
		case "name", "description", "tag-key", "tag-value":
		default:
			bad.Message = "awstest does not support filter " + f.Key
			return bad, false
		}
		for _, v := range f.Values {
			if !filterValue.MatchString(v) {
				bad.Message = "filter value does not match the allowed pattern"
				return bad, false
			}
		}
	}
	return Fault{}, true
}

// matchAll is ListSecrets filtering: every filter must match; a filter
// matches when any of its values does; values are prefixes ("!" negates).
func matchAll(fs []filter, entry map[string]any) bool {
	for _, f := range fs {
		var attrs []string
		switch f.Key {
		case "name":
			attrs = []string{str(entry["Name"])}
		case "description":
			attrs = []string{strings.ToLower(str(entry["Description"]))}
		case "tag-key", "tag-value":
			field := "Key"
			if f.Key == "tag-value" {
				field = "Value"
			}
			tags, _ := entry["Tags"].([]any)
			for _, t := range tags {
				if m, ok := t.(map[string]any); ok {
					attrs = append(attrs, str(m[field]))
				}
			}
		}
		if !matchAny(f, attrs) {
			return false
		}
	}
	return true
}

func matchAny(f filter, attrs []string) bool {
	for _, v := range f.Values {
		prefix, negate := strings.CutPrefix(v, "!")
		if f.Key == "description" {
			prefix = strings.ToLower(prefix)
		}
		hit := false
		for _, a := range attrs {
			if strings.HasPrefix(a, prefix) {
				hit = true
				break
			}
		}
		if hit != negate {
			return true
		}
	}
	return false
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
