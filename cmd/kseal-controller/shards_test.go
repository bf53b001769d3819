package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/controllers"
)

func TestShardFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want controllers.ShardOptions
		err  string
	}{
		{nil, controllers.ShardOptions{Namespace: "ns", LeasePrefix: "kseal-controller", LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}, ""},
		{[]string{"--shards=3", "--shard-lease-duration=6s", "--shard-renew-deadline=4s", "--shard-retry-period=1s", "--shard-lease-prefix=k"},
			controllers.ShardOptions{Count: 3, Namespace: "ns", LeasePrefix: "k", LeaseDuration: 6 * time.Second, RenewDeadline: 4 * time.Second, RetryPeriod: time.Second}, ""},
		{[]string{"--shards=3", "--shard-renew-deadline=20s"}, controllers.ShardOptions{}, "--shard-lease-duration (15s) > --shard-renew-deadline (20s)"},
		{[]string{"--shards=-1"}, controllers.ShardOptions{}, "0 or more"},
		{[]string{"--shards=2", "--shard-lease-prefix="}, controllers.ShardOptions{}, "1 to 40"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		read := shardFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		got, err := read("ns")
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
