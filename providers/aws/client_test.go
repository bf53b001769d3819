package aws

import (
	"testing"
	"time"
)

// TestBackoff_bounds: the delay before a retry is positive, at most
// base × 2^(attempt-1) (50 ms, or 1 s after throttling), and never above
// the cap.

func TestBackoff_bounds(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		for range 50 {
			for base, throttled := range map[time.Duration]bool{50 * time.Millisecond: false, time.Second: true} {
				d := backoff(attempt, 0, throttled)
				if d <= 0 || d > min(base<<min(attempt-1, 16), defaultMaxBackoff) {
					t.Fatalf("backoff(%d, throttled %v) = %v", attempt, throttled, d)
				}
			}
			if d := backoff(attempt, time.Millisecond, true); d <= 0 || d > time.Millisecond {
				t.Fatalf("backoff(%d, 1ms) = %v", attempt, d)
			}
		}
	}
}
