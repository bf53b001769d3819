package e2e

import (
	"testing"
	"time"

	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
)

// TestKeyAgeMetric_followsNewestGeneration: the
// kseal_sealing_key_created_timestamp_seconds gauge (the chart's
// KsealSealingKeyOld alert reads it) is the creation time of the newest key
// generation: it moves to a generation created later and back when that one
// is deleted.
func TestKeyAgeMetric_followsNewestGeneration(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	const gauge = "kseal_sealing_key_created_timestamp_seconds"
	before := float64(c.KeyManager.Newest().Created().Unix())
	waitFor(t, 30*time.Second, gauge+" at the newest generation", func() bool { return metricSum(t, gauge) == before })

	g, err := keys.Generate(keys.GenerateOptions{Name: "kseal-key-age", Now: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, g.Secret(controllerNamespace)); err != nil {
		t.Fatal(err)
	}
	newer := float64(g.Created().Unix())
	if newer <= before {
		t.Fatalf("the new generation (%v) is not newer than the current one (%v)", newer, before)
	}
	waitFor(t, 30*time.Second, gauge+" at the added generation", func() bool { return metricSum(t, gauge) == newer })

	if err := env.Client.Delete(ctx, g.Secret(controllerNamespace)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, gauge+" back at the previous generation", func() bool { return metricSum(t, gauge) == before })
}
