package aws

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

func TestParameterStore_findByTags(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration
	}{{"coalesced", 50 * time.Millisecond}, {"batching off", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := awstest.NewServer(t)
			p := newTestParameterStore(t, srv, func(c *Config) { c.BatchWindow = tc.window })
			root := paramName(t, "tags")
			for i := range 12 {
				name := fmt.Sprintf("%s/shop/p%02d", root, i)
				srv.PutParameter(t, name, fmt.Sprintf("v%d", i), i%2 == 0)
				srv.TagParameter(t, name, map[string]string{"team": "shop", "env": "prod"})
			}
			srv.PutParameter(t, root+"/shop/dev", "dev", false)
			srv.TagParameter(t, root+"/shop/dev", map[string]string{"team": "shop", "env": "dev"})
			srv.PutParameter(t, root+"/other/p", "other", false)
			srv.TagParameter(t, root+"/other/p", map[string]string{"team": "shop", "env": "prod"})
			srv.PutParameter(t, root+"/shop/untagged", "none", false)
			srv.ResetCalls()

			got, err := p.Find(context.Background(), providers.Query{Path: root + "/shop", Tags: map[string]string{"team": "shop", "env": "prod"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 12 {
				t.Fatalf("found %d parameters, want 12: %v", len(got), keysOf(got))
			}
			for i := range 12 {
				if v := string(got[fmt.Sprintf("%s/shop/p%02d", root, i)]); v != fmt.Sprintf("v%d", i) {
					t.Errorf("p%02d = %q", i, v)
				}
			}
			// One DescribeParameters page, the values in GetParameters
			// calls of at most ten names, no GetParameter per name.
			if n := srv.Calls("DescribeParameters"); n != 1 {
				t.Errorf("%d DescribeParameters calls, want 1", n)
			}
			if n := srv.Calls("GetParameters"); n < 2 || n > 3 {
				t.Errorf("%d GetParameters calls for 12 names, want 2 or 3", n)
			}
			if n := srv.Calls("GetParameter"); n != 0 {
				t.Errorf("%d GetParameter calls, want 0", n)
			}

			// Without a path: every tagged parameter; with name.regexp
			// too, both must match.
			got, err = p.Find(context.Background(), providers.Query{Tags: map[string]string{"env": "prod"}, NameRegexp: regexp.MustCompile("^" + regexp.QuoteMeta(root) + `/(other/p|shop/p01)$`)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || string(got[root+"/other/p"]) != "other" || string(got[root+"/shop/p01"]) != "v1" {
				t.Fatalf("found %v, want other/p and shop/p01", keysOf(got))
			}
		})
	}
}

func TestParameterStore_findByTags_bounded(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 1,001 parameters")
	}
	srv := awstest.NewServer(t)
	p := newTestParameterStore(t, srv)
	root := paramName(t, "manytags")
	for i := range MaxFindParameters + 1 {
		name := fmt.Sprintf("%s/p%04d", root, i)
		srv.PutParameter(t, name, "v", false)
		srv.TagParameter(t, name, map[string]string{"bulk": "yes"})
	}
	srv.ResetCalls()
	_, err := p.Find(context.Background(), providers.Query{Tags: map[string]string{"bulk": "yes"}})
	if err == nil || !strings.Contains(err.Error(), "narrow find.tags") {
		t.Fatalf("err = %v, want the parameter bound", err)
	}
	// The bound is checked before any value is read.
	if n := srv.Calls("GetParameters") + srv.Calls("GetParameter"); n != 0 {
		t.Fatalf("%d value reads before the bound was checked", n)
	}
	tags := map[string]string{}
	for i := range maxFindTags + 1 {
		tags[fmt.Sprint("k", i)] = "v"
	}
	if _, err := p.Find(context.Background(), providers.Query{Tags: tags}); err == nil || !strings.Contains(err.Error(), "tags") {
		t.Fatalf("err = %v, want the tag bound", err)
	}
}
