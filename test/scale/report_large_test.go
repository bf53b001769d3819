package scale

import (
	"strings"
	"testing"
	"time"
)

// TestTargets_largeSize: the 20,000 rows appear only when that size ran,
// with the verdicts of the figures.
func TestTargets_largeSize(t *testing.T) {
	r := &results{Machine: machine{CPUs: 2}}
	if got := r.targets(); strings.Contains(got, "20,000") {
		t.Errorf("targets without a 20,000 run mention it:\n%s", got)
	}
	r.Sealed = []*sealedRun{{Format: "v2", N: targetLargeN,
		Cold:    &phase{Wall: 100 * time.Second, PeakRSS: 200 << 20, Load: 3},
		Restart: &phase{Wall: 12 * time.Second, PeakRSS: 260 << 20}}}
	got := r.targets()
	for _, want := range []string{
		"| v2 cold start, 20,000 SealedSecrets → all Ready | ≤ 120 s | 100.0 s (0.0 controller CPU-s, load 3.0) | yes |",
		"| restart, 20,000 unchanged v2 SealedSecrets | ≤ 10 s and 0 decryptions | 12.0 s (0.0 controller CPU-s, load 0.0), 0 decryptions | **no** |",
		"| peak RSS, 20,000 v2 SealedSecrets (cold start and restart) | ≤ 250 MiB | 260 MiB | **no** |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets lack the row\n%s\nin\n%s", want, got)
		}
	}
}
