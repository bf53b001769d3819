package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
)

// TestCache_holdsOnlyWhatKsealReads: a cache built with the controller's
// options holds SealedSecrets without their ciphertexts (item names kept
// only in patch mode) and only the Secrets kseal wrote, without their data, while every Secret stays readable for
// the reconcilers (they read the rest from the API server).
func TestCache_holdsOnlyWhatKsealReads(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "cache")
	apply(t, sealSecret(t, c, secret(ns, "app", map[string]string{"password": canary("cache")})))
	readyCondition(t, ns, "app", "True")
	if err := env.Client.Create(ctx, secret(ns, "unrelated", map[string]string{"k": "v"})); err != nil {
		t.Fatal(err)
	}
	if got := getSecret(t, ns, "app").Labels[controllers.LabelWrittenBy]; got != "kseal" {
		t.Fatalf("the Secret kseal wrote has label %s=%q, want \"kseal\"", controllers.LabelWrittenBy, got)
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := controllers.CacheOptions(cache.Options{})
	opts.Scheme = env.Scheme
	opts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	cc, err := cache.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = cc.Start(cctx) }()
	if !cc.WaitForCacheSync(cctx) {
		t.Fatal("cache did not start")
	}
	var secrets corev1.SecretList
	if err := cc.List(cctx, &secrets); err != nil { // waits for the informer to sync
		t.Fatal(err)
	}
	var names []string
	for _, s := range secrets.Items {
		names = append(names, s.Name)
	}
	if len(names) != 1 || names[0] != "app" {
		t.Errorf("cached Secrets %v, want only [app] (the one kseal wrote)", names)
	}
	var ss v1alpha1.SealedSecret
	if err := cc.Get(cctx, clientKey(ns, "app"), &ss); err != nil {
		t.Fatal(err)
	}
	// Not in patch mode: the items are not needed until the object is read
	// whole to be decrypted.
	if n := len(ss.Spec.EncryptedData); n != 0 {
		t.Errorf("cached SealedSecret holds %d items, want none", n)
	}
}

// TestSealedSecret_upgradeLabelsWithoutDecrypting: Secrets written before
// kseal labelled them are confirmed without decrypting and get the label
// once (a metadata patch), so they are watched again: deleting one then
// restores it.
func TestSealedSecret_upgradeLabelsWithoutDecrypting(t *testing.T) {
	c := startController(t, controllers.Options{})
	ns := newNamespace(t, "upgrade-label")
	const n = 3
	for i := range n {
		apply(t, sealSecret(t, c, secret(ns, fmt.Sprintf("s-%d", i), map[string]string{"a": canary(fmt.Sprintf("u%d", i))})))
	}
	waitAllReady(t, ns, n)
	c.stop()
	// What an earlier kseal left: the same Secrets without the label.
	for i := range n {
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+controllers.LabelWrittenBy+`":null}}}`))
		if err := env.Client.Patch(ctx, &corev1.Secret{ObjectMeta: secret(ns, fmt.Sprintf("s-%d", i), nil).ObjectMeta}, patch); err != nil {
			t.Fatal(err)
		}
	}

	decryptions := metricSum(t, "kseal_decryptions_total")
	c2 := startController(t, controllers.Options{})
	defer c2.stop()
	waitFor(t, time.Minute, "every Secret labelled", func() bool {
		for i := range n {
			if getSecret(t, ns, fmt.Sprintf("s-%d", i)).Labels[controllers.LabelWrittenBy] == "" {
				return false
			}
		}
		return true
	})
	if d := metricSum(t, "kseal_decryptions_total") - decryptions; d != 0 {
		t.Errorf("upgrade of %d up-to-date Secrets decrypted %v items, want 0", n, d)
	}
	if err := env.Client.Delete(ctx, getSecret(t, ns, "s-1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the deleted Secret restored", func() bool {
		s := &corev1.Secret{}
		return env.Client.Get(ctx, clientKey(ns, "s-1"), s) == nil && string(s.Data["a"]) == canary("u1")
	})
}

// TestSealedSecret_eventsOnlyForRewrites: unsealing a new SealedSecret
// writes the Secret and the Ready condition, and no Normal event (the
// condition's transition says it); restoring the Secret of a Ready
// SealedSecret records one.
func TestSealedSecret_eventsOnlyForRewrites(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "events")
	apply(t, sealSecret(t, c, secret(ns, "app", map[string]string{"a": canary("ev")})))
	readyCondition(t, ns, "app", "True")
	// Unsealed events of app recorded at or after since, and their counts.
	unsealed := func(since time.Time) (events int, count int32) {
		var list corev1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range list.Items {
			if e.Reason == controllers.EventUnsealed && !e.LastTimestamp.Time.Before(since) {
				events++
				count += e.Count
			}
		}
		return events, count
	}
	// Event times have one-second resolution: the restore below happens in
	// a later second than the first unseal.
	time.Sleep(1100 * time.Millisecond)
	deleted := time.Now().Truncate(time.Second)
	if err := env.Client.Delete(ctx, getSecret(t, ns, "app")); err != nil {
		t.Fatal(err)
	}
	// Events are recorded in order, so once the restore's is there, one for
	// the first unseal would be too (the same event, counted twice).
	waitFor(t, time.Minute, "an event for the restored Secret", func() bool { e, _ := unsealed(deleted); return e > 0 })
	if e, n := unsealed(time.Time{}); e != 1 || n != 1 {
		t.Errorf("%d %s events counted %d times, want one, for the restore only", e, controllers.EventUnsealed, n)
	}
}
