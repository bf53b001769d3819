package main

import (
	"flag"
	"io"
	"testing"

	"github.com/kseal-dev/kseal/controllers"
)

func TestAdoptFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    controllers.AdoptAPIs
		ignore  bool
		wantErr bool
	}{
		{args: nil, want: controllers.AdoptAPIs{}},
		{args: []string{"--adopt-apis=bitnami"}, want: controllers.AdoptAPIs{"bitnami": true}},
		{args: []string{"--adopt-apis=bitnami", "--adopt-apis=external-secrets", "--adopt-ignore-running"}, want: controllers.AdoptAPIs{"bitnami": true, "external-secrets": true}, ignore: true},
		{args: []string{"--adopt-apis= bitnami, ,external-secrets"}, want: controllers.AdoptAPIs{"bitnami": true, "external-secrets": true}},
		{args: []string{"--adopt-apis=sealed-secrets"}, wantErr: true},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		read := adoptFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got, ignore, err := read()
		if (err != nil) != tc.wantErr {
			t.Errorf("%v: error %v, want error %v", tc.args, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		if len(got) != len(tc.want) || ignore != tc.ignore {
			t.Errorf("%v: got %v ignore=%v, want %v ignore=%v", tc.args, got, ignore, tc.want, tc.ignore)
		}
		for k := range tc.want {
			if !got[k] {
				t.Errorf("%v: %q missing from %v", tc.args, k, got)
			}
		}
	}
}
