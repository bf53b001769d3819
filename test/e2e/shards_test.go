package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// Sizes of the shard run: per namespace and batch.
const (
	shardNamespaces   = 30
	shardSealedEach   = 10 // 300 SealedSecrets in the first batch
	shardExternalEach = 2  // 60 ExternalSecrets in the first batch
)

// TestShards_threeReplicasSplitAndTakeOver runs three controller processes
// with --shards=3 on objects spread over 30 namespaces. Once each holds one
// shard, 300 SealedSecrets (v2; KSEAL_SHARD_FORMAT=v1 for v1) and 60
// ExternalSecrets are created: every one ends Ready, and each is decrypted
// or synced exactly once across the three (the sum of their counters equals
// the number of objects) with every replica doing some. Then a second batch
// is created and one replica is killed (SIGKILL) in the middle of it: the
// other two take its shard over when its Lease runs out and finish every
// object.
func TestShards_threeReplicasSplitAndTakeOver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three controller processes and waits for a Lease to expire")
	}
	bin := currentController(t)
	srv := awstest.NewServer(t)
	var namespaces []string
	for range shardNamespaces {
		ns := newNamespace(t, "shards")
		awsStore(t, srv, ns, "aws")
		namespaces = append(namespaces, ns)
	}
	prefix := fmt.Sprintf("kseal-e2e-%d", time.Now().UnixNano()%1e9)
	// Leader election keeps its defaults: a replica that loses it exits.
	flags := []string{"--watch-namespaces=" + strings.Join(namespaces, ","), "--leader-elect=true",
		"--shards=3", "--shard-lease-prefix=" + prefix, "--shard-lease-duration=6s", "--shard-renew-deadline=4s", "--shard-retry-period=1s"}
	replicas := []*ctrlProcess{startProcess(t, bin, flags...), startProcess(t, bin, flags...), startProcess(t, bin, flags...)}
	waitFor(t, 2*time.Minute, "each replica to hold one shard", func() bool {
		for _, p := range replicas {
			if p.scrape(t)["kseal_shards_owned"] != 1 {
				return false
			}
		}
		return true
	})
	cert, err := keys.ParseCertificate(httpGet(t, replicas[0].apiURL+"/v1/cert.pem"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cpuBefore := processCPU(t, replicas)
	created := time.Now()
	createShardObjects(t, srv, namespaces, cert, 0, 0, shardSealedEach)
	total := shardNamespaces * (shardSealedEach + shardExternalEach)
	waitFor(t, 5*time.Minute, "every object of the first batch Ready", func() bool { return shardReady(t, namespaces) == total })
	t.Logf("first batch: %d objects Ready %v after creation", total, time.Since(created).Round(100*time.Millisecond))
	var decrypted, synced float64
	for i, p := range replicas {
		m := p.scrape(t)
		sync := p.scrape(t, "result=success")["kseal_externalsecret_sync_total"]
		t.Logf("replica %d: %v decryptions, %v ExternalSecret syncs, %v shards, %.2f s CPU", i, m["kseal_decryptions_total"], sync, m["kseal_shards_owned"], processCPU(t, replicas[i:i+1])[0]-cpuBefore[i])
		if m["kseal_decryptions_total"] == 0 || sync == 0 {
			t.Errorf("replica %d decrypted %v and synced %v objects, want some of each: the work is not split", i, m["kseal_decryptions_total"], sync)
		}
		decrypted += m["kseal_decryptions_total"]
		synced += sync
	}
	if want := float64(shardNamespaces * shardSealedEach); decrypted != want {
		t.Errorf("%v decryptions across the replicas, want %v (each SealedSecret once)", decrypted, want)
	}
	if want := float64(shardNamespaces * shardExternalEach); synced != want {
		t.Errorf("%v ExternalSecret syncs across the replicas, want %v (each once)", synced, want)
	}

	// The second batch comes in two halves; one replica is killed once it
	// works on the first, so the second half of its shard is left to the
	// others.
	victim, survivors := replicas[0], replicas[1:]
	before := victim.scrape(t)["kseal_decryptions_total"]
	createShardObjects(t, srv, namespaces, cert, 1, 0, shardSealedEach/2)
	waitFor(t, 5*time.Minute, "the replica to be killed at work on the second batch", func() bool {
		return victim.scrape(t)["kseal_decryptions_total"] > before
	})
	killed := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.stopped = true
	_ = victim.cmd.Wait()
	createShardObjects(t, srv, namespaces, cert, 1, shardSealedEach/2, shardSealedEach)
	waitFor(t, 5*time.Minute, "every object of both batches Ready", func() bool { return shardReady(t, namespaces) == 2*total })
	t.Logf("second batch: all %d objects Ready %v after the kill", 2*total, time.Since(killed).Round(100*time.Millisecond))
	waitFor(t, time.Minute, "the survivors to hold every shard", func() bool {
		return survivors[0].scrape(t)["kseal_shards_owned"]+survivors[1].scrape(t)["kseal_shards_owned"] == 3
	})
	t.Logf("the survivors hold all 3 shards %v after the kill", time.Since(killed).Round(100*time.Millisecond))
}

// createShardObjects makes objects from to to of batch b: in each namespace
// SealedSecrets (shardSealedEach per batch) with one item and
// ExternalSecrets (shardExternalEach per batch) reading the AWS emulator
// through the namespace's store "aws".
func createShardObjects(t *testing.T, srv *awstest.Server, namespaces []string, cert *keys.Certificate, b, from, to int) {
	t.Helper()
	version := sealing.V2
	if os.Getenv("KSEAL_SHARD_FORMAT") == "v1" {
		version = sealing.V1
	}
	every := shardSealedEach / shardExternalEach // an ExternalSecret with every so many SealedSecrets
	for i := from; i < to; i++ {
		for _, ns := range namespaces {
			name := fmt.Sprintf("ss-%d-%02d", b, i)
			ss, err := sealedsecret.Seal(secret(ns, name, map[string]string{"a": canary(ns + name)}), &cert.PublicKey, sealedsecret.SealOptions{Version: version})
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Client.Create(ctx, ss); err != nil {
				t.Fatal(err)
			}
			if (i+1)%every != 0 {
				continue
			}
			name = fmt.Sprintf("es-%d-%02d", b, i/every)
			srv.CreateSecret(t, ns+"/"+name, fmt.Sprintf(`{"a":%q}`, canary(ns+name)), nil)
			if err := env.Client.Create(ctx, externalSecret(ns, name, "aws", time.Hour, ref("a", ns+"/"+name, "a"))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// shardReady counts the SealedSecrets and ExternalSecrets of namespaces
// that are Ready for their generation.
func shardReady(t *testing.T, namespaces []string) int {
	t.Helper()
	n := 0
	for _, ns := range namespaces {
		var sealed v1alpha1.SealedSecretList
		var external v1alpha1.ExternalSecretList
		if err := env.Client.List(ctx, &sealed, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.List(ctx, &external, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, o := range sealed.Items {
			if c := apimeta.FindStatusCondition(o.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Status == "True" && o.Status.ObservedGeneration == o.Generation {
				n++
			}
		}
		for _, o := range external.Items {
			if c := apimeta.FindStatusCondition(o.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Status == "True" && o.Status.ObservedGeneration == o.Generation {
				n++
			}
		}
	}
	time.Sleep(time.Second) // one poll a second is enough for 60 lists
	return n
}

// processCPU returns the CPU seconds (user + system) each process used so
// far, from /proc/PID/stat (0 where it cannot be read).
func processCPU(t *testing.T, ps []*ctrlProcess) []float64 {
	t.Helper()
	out := make([]float64, len(ps))
	for i, p := range ps {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseFloat(f[11], 64)
		stime, _ := strconv.ParseFloat(f[12], 64)
		out[i] = (utime + stime) / 100 // USER_HZ is 100 on Linux
	}
	return out
}
