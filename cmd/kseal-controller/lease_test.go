package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestLeaseFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want leaseSettings
		err  string
	}{
		{nil, leaseSettings{15 * time.Second, 10 * time.Second, 2 * time.Second}, ""},
		{[]string{"--leader-elect-lease-duration=6s", "--leader-elect-renew-deadline=4s", "--leader-elect-retry-period=1s"}, leaseSettings{6 * time.Second, 4 * time.Second, time.Second}, ""},
		{[]string{"--leader-elect-lease-duration=5s"}, leaseSettings{}, "lease-duration (5s) > --leader-elect-renew-deadline (10s)"},
		{[]string{"--leader-elect-retry-period=0s"}, leaseSettings{}, "> 0"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		read := leaseFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		got, err := read()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: err %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v: %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}
