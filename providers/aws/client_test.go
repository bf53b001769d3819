package aws

import (
	"testing"
	"time"
)

// TestBackoff_bounds: the delay before a retry is positive, at most
// 2^attempt seconds, and never above the cap.

func TestBackoff_bounds(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		for range 50 {
			d := backoff(attempt, 0)
			if d <= 0 || d > min(time.Second<<min(attempt, 16), defaultMaxBackoff) {
				t.Fatalf("backoff(%d) = %v", attempt, d)
			}
			if d := backoff(attempt, time.Millisecond); d <= 0 || d > time.Millisecond {
				t.Fatalf("backoff(%d, 1ms) = %v", attempt, d)
			}
		}
	}
}
