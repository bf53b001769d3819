package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

func TestProvider_Find(t *testing.T) {
	srv := awstest.NewServer(t)
	base := secretName(t, "")
	create := func(name string, tags map[string]string) {
		srv.CreateSecret(t, base+name, name, tags)
	}
	create("app/db", map[string]string{"env": "prod", "team": "a"})
	create("app/api", map[string]string{"env": "production"})
	create("app/cache", map[string]string{"env": "prod", "team": "b"})
	create("other/x", map[string]string{"env": "prod", "ünïcode": "ok"})
	// A secret without a current version is listed but has no value.
	if _, err := srv.Admin().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: awssdk.String(base + "app/empty"),
		Tags: []types.Tag{{Key: awssdk.String("env"), Value: awssdk.String("prod")}},
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		q    providers.Query
		want []string
	}{
		{"path", providers.Query{Path: base + "app/"}, []string{"app/api", "app/cache", "app/db"}},
		{"path and regexp", providers.Query{Path: base + "app/", NameRegexp: regexp.MustCompile(`/(db|api)$`)}, []string{"app/api", "app/db"}},
		{"regexp only", providers.Query{NameRegexp: regexp.MustCompile("^" + regexp.QuoteMeta(base) + "other/")}, []string{"other/x"}},
		{"tag is exact, not a prefix", providers.Query{Path: base, Tags: map[string]string{"env": "prod"}}, []string{"app/cache", "app/db", "other/x"}},
		{"all tags", providers.Query{Path: base, Tags: map[string]string{"env": "prod", "team": "a"}}, []string{"app/db"}},
		{"tag AWS cannot filter", providers.Query{Path: base, Tags: map[string]string{"ünïcode": "ok"}}, []string{"other/x"}},
		{"no match", providers.Query{Path: base + "nothing/"}, nil},
	}
	p := newTestProvider(t, srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Find(context.Background(), tt.q)
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			var names []string
			for name, v := range got {
				short := strings.TrimPrefix(name, base)
				if string(v) != short {
					t.Errorf("%s = %q", name, v)
				}
				names = append(names, short)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) {
				t.Errorf("found %v, want %v", names, tt.want)
			}
		})
	}
}

func TestProvider_Find_pages(t *testing.T) {
	srv := awstest.NewServer(t)
	prefix := secretName(t, "many")
	keys := seed(t, srv, prefix, 130)
	p := newTestProvider(t, srv)
	srv.ResetCalls()
	got, err := p.Find(context.Background(), providers.Query{Path: prefix + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got)), keys) {
		t.Fatalf("found %d secrets, want %d", len(got), len(keys))
	}
	if n := srv.Calls("ListSecrets"); n < 2 {
		t.Errorf("ListSecrets calls = %d, want at least 2 pages", n)
	}
	if b, s := srv.Calls("BatchGetSecretValue"), srv.Calls("GetSecretValue"); b != 7 || s != 0 {
		t.Errorf("value calls: %d BatchGetSecretValue, %d GetSecretValue; want 7, 0", b, s)
	}
}

func TestProvider_Find_errors(t *testing.T) {
	srv := awstest.NewServer(t)
	prefix := secretName(t, "s")
	seed(t, srv, prefix, 3)
	p := newTestProvider(t, srv, func(c *Config) { c.MaxAttempts = 1 })
	ctx := context.Background()
	q := providers.Query{Path: prefix + "/"}

	srv.Fail("ListSecrets", 1, awstest.Throttling)
	if _, err := p.Find(ctx, q); !providers.IsRetryable(err) {
		t.Errorf("throttled listing: err = %v, want retryable", err)
	}
	srv.Fail("ListSecrets", 1, awstest.AccessDenied)
	if _, err := p.Find(ctx, q); !errors.Is(err, providers.ErrAuth) {
		t.Errorf("denied listing: err = %v, want ErrAuth", err)
	}
	srv.Fail("BatchGetSecretValue", 1, awstest.InternalError)
	if _, err := p.Find(ctx, q); !providers.IsRetryable(err) {
		t.Errorf("failed fetch: err = %v, want retryable", err)
	}
	if got, err := p.Find(ctx, q); err != nil || len(got) != 3 {
		t.Errorf("after the faults: %d values, %v", len(got), err)
	}
}

func TestProvider_Find_sizeCap(t *testing.T) {
	srv := awstest.NewServer(t)
	prefix := secretName(t, "big")
	for i := range 3 {
		srv.CreateSecret(t, fmt.Sprintf("%s/%d", prefix, i), strings.Repeat("x", 400<<10), nil)
	}
	p := newTestProvider(t, srv)
	_, err := p.Find(context.Background(), providers.Query{Path: prefix + "/"})
	if err == nil || !strings.Contains(err.Error(), "exceed") {
		t.Fatalf("err = %v, want the size cap", err)
	}
}

func TestListFilters(t *testing.T) {
	tags := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name string
		q    providers.Query
		want string
	}{
		{"none", providers.Query{}, ""},
		{"path", providers.Query{Path: "team/app"}, "name=team/app"},
		{"negation is not sent", providers.Query{Path: "!x"}, ""},
		{"characters AWS rejects are not sent", providers.Query{Path: "a*b", Tags: map[string]string{"k": "ü"}}, "tag-key=k"},
		{"tags sorted", providers.Query{Tags: map[string]string{"b": "2", "a": "1"}}, "tag-key=a tag-value=1 tag-key=b tag-value=2"},
		{"at most ten", providers.Query{Path: "p", Tags: tags(6)}, "name=p " + strings.Repeat("tag-key=k? tag-value=v ", 4) + "tag-key=k?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []string
			for _, f := range listFilters(tt.q) {
				for _, v := range f.Values {
					parts = append(parts, string(f.Key)+"="+v)
				}
			}
			got := strings.Join(parts, " ")
			want := tt.want
			if strings.Contains(want, "?") {
				got = regexp.MustCompile(`k\d`).ReplaceAllString(got, "k?")
			}
			if got != want {
				t.Errorf("filters %q, want %q", got, want)
			}
		})
	}
}
