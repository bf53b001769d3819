package awstest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// maxDescribeResults is the largest page AWS's DescribeParameters returns.
const maxDescribeResults = 50

// TagParameter adds tags to a parameter (AddTagsToResource, as
// `aws ssm add-tags-to-resource --resource-type Parameter` does).
func (s *Server) TagParameter(tb testing.TB, name string, tags map[string]string) {
	tb.Helper()
	in := &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name)}
	for k, v := range tags {
		in.Tags = append(in.Tags, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := s.SSMAdmin().AddTagsToResource(context.Background(), in); err != nil {
		tb.Fatalf("tag parameter %s: %v", name, err)
	}
}

// describeFilter is one ParameterStringFilter of a DescribeParameters call.
type describeFilter struct {
	Key    string
	Option string
	Values []string
}

// describeParameters serves DescribeParameters. kumo applies only Name
// filters and ignores "tag:<key>" and "Path" filters (it would answer every
// parameter); this stands in for AWS's: a tag filter keeps the parameters
// carrying the key with one of the values (Equals), a Path filter those
// under the path (Recursive) or directly in it (OneLevel, the default).
// Calls without those filters go to kumo unchanged.
func (s *Server) describeParameters(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		ParameterFilters []describeFilter
		MaxResults       int
		NextToken        string
	}
	_ = json.Unmarshal(body, &in)
	emulate := false
	for _, f := range in.ParameterFilters {
		emulate = emulate || f.Key == "Path" || strings.HasPrefix(f.Key, "tag:")
	}
	if !emulate {
		status, header, out := s.forward(r, body)
		writeRaw(w, status, header, out)
		return
	}
	if in.MaxResults > maxDescribeResults {
		writeFault(w, awsJSON, Fault{http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50"})
		return
	}
	all, ok := s.allParameterNames(r.Context())
	if !ok {
		writeFault(w, awsJSON, Fault{http.StatusInternalServerError, "InternalServerError", "kumo DescribeParameters failed"})
		return
	}
	var matched []string
	for _, name := range all {
		if s.parameterMatches(r.Context(), name, in.ParameterFilters) {
			matched = append(matched, name)
		}
	}
	start, _ := strconv.Atoi(in.NextToken)
	start = min(max(start, 0), len(matched))
	size := in.MaxResults
	if size <= 0 {
		size = maxDescribeResults
	}
	end := min(start+size, len(matched))
	page := []map[string]any{}
	for _, name := range matched[start:end] {
		page = append(page, map[string]any{"Name": name, "Type": "String"})
	}
	out := map[string]any{"Parameters": page}
	if end < len(matched) {
		out["NextToken"] = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, out)
}

// allParameterNames lists every parameter kumo holds, sorted by name.
func (s *Server) allParameterNames(ctx context.Context) ([]string, bool) {
	var names []string
	token := ""
	for {
		status, out := s.kumoCall(ctx, "ssm", ssmTargetPrefix+"DescribeParameters", map[string]any{"MaxResults": maxDescribeResults, "NextToken": token})
		if status != http.StatusOK {
			return nil, false
		}
		var page struct {
			Parameters []struct{ Name string }
			NextToken  string
		}
		if json.Unmarshal(out, &page) != nil {
			return nil, false
		}
		for _, p := range page.Parameters {
			names = append(names, p.Name)
		}
		if page.NextToken == "" || page.NextToken == token {
			return names, true
		}
		token = page.NextToken
	}
}

// parameterMatches applies the Path, tag and Name filters to one name.
func (s *Server) parameterMatches(ctx context.Context, name string, filters []describeFilter) bool {
	var tags map[string]string
	for _, f := range filters {
		switch {
		case f.Key == "Path":
			if !underPath(name, f) {
				return false
			}
		case strings.HasPrefix(f.Key, "tag:"):
			if tags == nil {
				tags = s.parameterTags(ctx, name)
			}
			v, ok := tags[strings.TrimPrefix(f.Key, "tag:")]
			if !ok || (len(f.Values) > 0 && !contains(f.Values, v)) {
				return false
			}
		case f.Key == "Name":
			if !contains(f.Values, name) {
				return false
			}
		}
	}
	return true
}

// underPath: the name is in a Path filter's path (one level, the default)
// or below it (Recursive).
func underPath(name string, f describeFilter) bool {
	for _, p := range f.Values {
		prefix := strings.TrimSuffix(p, "/") + "/"
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if f.Option == "Recursive" || !strings.Contains(strings.TrimPrefix(name, prefix), "/") {
			return true
		}
	}
	return false
}

// parameterTags reads a parameter's tags from kumo.
func (s *Server) parameterTags(ctx context.Context, name string) map[string]string {
	status, out := s.kumoCall(ctx, "ssm", ssmTargetPrefix+"ListTagsForResource", map[string]any{"ResourceType": "Parameter", "ResourceId": name})
	tags := map[string]string{}
	if status != http.StatusOK {
		return tags
	}
	var resp struct{ TagList []struct{ Key, Value string } }
	_ = json.Unmarshal(out, &resp)
	for _, t := range resp.TagList {
		tags[t.Key] = t.Value
	}
	return tags
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
