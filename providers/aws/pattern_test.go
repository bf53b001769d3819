package aws

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// TestPatterns_sameAsBoundedRegexps: the length checks taken out of the
// patterns accept exactly what the bounded repetitions did.
func TestPatterns_sameAsBoundedRegexps(t *testing.T) {
	oldFilter := regexp.MustCompile(`^[a-zA-Z0-9 :_@/+=.\-]{1,512}$`)
	oldRole := regexp.MustCompile(`^arn:[a-z-]+:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	arn := "arn:aws:iam::123456789012:role/"
	var inputs []string
	for _, n := range []int{0, 1, 2, 511, 512, 513, 1000, 2047 - len(arn), 2048 - len(arn), 2049 - len(arn)} {
		for _, c := range []string{"a", "Z", "9", " ", "/", "-", "!", "é", ":", "\n"} {
			inputs = append(inputs, strings.Repeat(c, n), "x"+strings.Repeat(c, n), arn+strings.Repeat(c, n), arn+"p/"+strings.Repeat(c, n))
		}
	}
	inputs = append(inputs, "arn:aws:iam::12345678901:role/x", "arn:aws-cn:iam::123456789012:role/a:role/b",
		"arn:aws:iam::123456789012:role/", "arn::iam::123456789012:role/x", "!neg", "a b", "tag=v")
	for _, s := range inputs {
		if got, want := isFilterValue(s), oldFilter.MatchString(s); got != want {
			t.Errorf("isFilterValue(%.40q… len %d) = %v, the bounded pattern says %v", s, len(s), got, want)
		}
		if got, want := isRoleARN(s), len(s) <= maxRoleARNBytes && oldRole.MatchString(s); got != want {
			t.Errorf("isRoleARN(%.40q… len %d) = %v, the bounded pattern says %v", s, len(s), got, want)
		}
	}
}

// TestIsTagText_sameAsPattern: every rune, alone and in a longer string,
// and invalid UTF-8, as the Unicode-class pattern decided.
func TestIsTagText_sameAsPattern(t *testing.T) {
	old := regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		s := string(r)
		if got, want := isTagText(s), old.MatchString(s); got != want {
			t.Fatalf("isTagText(%U) = %v, the pattern says %v", r, got, want)
		}
	}
	for _, s := range []string{"", "Team A", "a\xffb", "\xc3", "key:value/1", "x\u2028y", "ünïcödé 123", "a!b", "a\tb"} {
		if got, want := isTagText(s), old.MatchString(s); got != want {
			t.Errorf("isTagText(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}
