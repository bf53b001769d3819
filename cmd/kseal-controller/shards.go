package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/kseal-dev/kseal/controllers"
)

// shardFlags registers the flags that split the reconciling across
// replicas (docs/install.md#shards); the function it returns reads them once
// parsed, for the Leases of namespace.
func shardFlags(fs *flag.FlagSet) func(namespace string) (controllers.ShardOptions, error) {
	var (
		count    = fs.Int("shards", 0, "split SealedSecrets, SopsSecrets, ExternalSecrets and PushSecrets by namespace into this many shards, each reconciled by the replica holding its Lease (0 or 1: the elected leader reconciles everything); the same on every replica")
		prefix   = fs.String("shard-lease-prefix", "kseal-controller", "names of the shard Leases (PREFIX-shard-N) and member Leases (PREFIX-member-REPLICA) in --namespace")
		duration = fs.Duration("shard-lease-duration", 15*time.Second, "how long a shard stays with a replica after its last renewal: a dead replica's shards are taken over after about this plus --shard-retry-period")
		renew    = fs.Duration("shard-renew-deadline", 10*time.Second, "a replica stops reconciling a shard when it could not renew its Lease for this long (less than --shard-lease-duration, so two replicas never reconcile one shard)")
		retry    = fs.Duration("shard-retry-period", 2*time.Second, "how often each replica reads the shard Leases, renews its own and takes free ones")
	)
	return func(namespace string) (controllers.ShardOptions, error) {
		o := controllers.ShardOptions{Count: *count, Namespace: namespace, LeasePrefix: *prefix, LeaseDuration: *duration, RenewDeadline: *renew, RetryPeriod: *retry}
		switch {
		case o.Count < 0:
			return o, fmt.Errorf("--shards must be 0 or more, not %d", o.Count)
		case o.Count > 1 && (o.RetryPeriod <= 0 || o.RenewDeadline <= o.RetryPeriod || o.LeaseDuration <= o.RenewDeadline):
			return o, fmt.Errorf("shards: want --shard-lease-duration (%s) > --shard-renew-deadline (%s) > --shard-retry-period (%s) > 0", o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
		case o.Count > 1 && (*prefix == "" || len(*prefix) > 40):
			return o, fmt.Errorf("--shard-lease-prefix must have 1 to 40 characters")
		}
		return o, nil
	}
}
