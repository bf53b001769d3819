package vault

import (
	"regexp"
	"strings"
	"testing"
)

// TestPatterns_sameAsBoundedRegexps: the length checks taken out of the
// patterns accept exactly what the bounded repetitions did.
func TestPatterns_sameAsBoundedRegexps(t *testing.T) {
	oldHeader := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,127}$`)
	oldUser := regexp.MustCompile(`^[A-Za-z0-9@._+=,-]{1,256}$`)
	var inputs []string
	for _, n := range []int{0, 1, 2, 127, 128, 129, 255, 256, 257, 600} {
		for _, c := range []string{"a", "Z", "9", "-", "@", ".", " ", "/", "é", "\n"} {
			inputs = append(inputs, strings.Repeat(c, n), "X"+strings.Repeat(c, n), strings.Repeat(c, n)+"-")
		}
	}
	inputs = append(inputs, "-Header", "X-Custom-Header", "user@example.com", "a/b", "..")
	for _, s := range inputs {
		if got, want := isHeaderName(s), oldHeader.MatchString(s); got != want {
			t.Errorf("isHeaderName(%.40q… len %d) = %v, the bounded pattern says %v", s, len(s), got, want)
		}
		if got, want := isUsername(s), oldUser.MatchString(s); got != want {
			t.Errorf("isUsername(%.40q… len %d) = %v, the bounded pattern says %v", s, len(s), got, want)
		}
	}
}
