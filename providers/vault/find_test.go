package vault

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

func TestProvider_Find(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	base := uniqueName(t)
	for _, k := range []string{"app/a", "app/b", "app/sub/c", "app/sub/deeper/d", "app2/e", "other/f", "deleted"} {
		putKV2(t, root, base+"/"+k, map[string]any{"name": k})
	}
	if err := root.KVv2("secret").Delete(context.Background(), base+"/deleted"); err != nil {
		t.Fatal(err)
	}
	p, _ := newProvider(t, s, Auth{Token: s.RootToken})

	tests := []struct {
		name  string
		query providers.Query
		want  []string
	}{
		{name: "folder", query: providers.Query{Path: base + "/app/"}, want: []string{"app/a", "app/b", "app/sub/c", "app/sub/deeper/d"}},
		{name: "name prefix", query: providers.Query{Path: base + "/app"}, want: []string{"app/a", "app/b", "app/sub/c", "app/sub/deeper/d", "app2/e"}},
		{name: "whole tree without deleted", query: providers.Query{Path: base + "/"}, want: []string{"app/a", "app/b", "app/sub/c", "app/sub/deeper/d", "app2/e", "other/f"}},
		{name: "regexp", query: providers.Query{Path: base + "/", NameRegexp: regexp.MustCompile(`/(a|c|f)$`)}, want: []string{"app/a", "app/sub/c", "other/f"}},
		{name: "nothing there", query: providers.Query{Path: base + "/none/"}, want: nil},
		{name: "ESO-style path with mount", query: providers.Query{Path: "secret/" + base + "/other/"}, want: []string{"other/f"}},
		{name: "ESO-style path with mount and metadata", query: providers.Query{Path: "secret/metadata/" + base + "/other/"}, want: []string{"other/f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Find(context.Background(), tt.query)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for k, v := range got {
				names = append(names, k[len(base)+1:])
				field, err := providers.ExtractProperty(v, "name")
				if err != nil || string(field) != k[len(base)+1:] {
					t.Errorf("%s: value %s", k, v)
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) {
				t.Errorf("found %v, want %v", names, tt.want)
			}
		})
	}

	t.Run("path outside the mount", func(t *testing.T) {
		for _, path := range []string{"../x", base + "/../../sys/", base + "//a"} {
			if _, err := p.Find(context.Background(), providers.Query{Path: path}); err == nil {
				t.Errorf("Find %q: no error", path)
			}
		}
	})
}

func TestProvider_Find_KVv1(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	mount := uniqueName(t)
	if err := root.Sys().Mount(mount, &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "dir/b", "dir/sub/c"} {
		write(t, root, mount+"/"+k, map[string]any{"name": k})
	}
	p, _ := newProvider(t, s, Auth{Token: s.RootToken}, func(c *Config) {
		c.MountPath = mount
		c.KVVersion = KVv1
	})
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"", []string{"a", "dir/b", "dir/sub/c"}},
		{"dir/", []string{"dir/b", "dir/sub/c"}},
	} {
		got, err := p.Find(context.Background(), providers.Query{Path: tt.path})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for k := range got {
			names = append(names, k)
		}
		slices.Sort(names)
		if !slices.Equal(names, tt.want) {
			t.Errorf("Find %q: %v, want %v", tt.path, names, tt.want)
		}
	}
}

// TestProvider_FindTags: find.tags matches KV v2 custom_metadata, as in
// External Secrets Operator; KV v1, and name with tags, are refused.
func TestProvider_FindTags(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	base := uniqueName(t)
	meta := map[string]map[string]any{
		"a": {"team": "payments", "env": "prod"},
		"b": {"team": "payments", "env": "dev"},
		"c": {"team": "search", "env": "prod"},
		"d": nil,
	}
	for k, m := range meta {
		putKV2(t, root, base+"/"+k, map[string]any{"name": k})
		if m != nil {
			write(t, root, "secret/metadata/"+base+"/"+k, map[string]any{"custom_metadata": m})
		}
	}
	p, _ := newProvider(t, s, Auth{Token: s.RootToken})
	got, err := p.Find(context.Background(), providers.Query{Path: base + "/", Tags: map[string]string{"team": "payments", "env": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[base+"/a"] == nil {
		t.Errorf("found %d secrets, want %s/a only", len(got), base)
	}
	_, err = p.Find(context.Background(), providers.Query{Path: base + "/", Tags: map[string]string{"team": "x"}, NameRegexp: regexp.MustCompile(".")})
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("name and tags: %v, want ErrUnsupported", err)
	}
	v1, _ := newProvider(t, s, Auth{Token: s.RootToken}, func(c *Config) { c.KVVersion = KVv1 })
	if _, err := v1.Find(context.Background(), providers.Query{Path: base + "/", Tags: map[string]string{"team": "x"}}); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("KV v1 tags: %v, want ErrUnsupported", err)
	}
}
