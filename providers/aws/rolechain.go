package aws

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// RoleChain is how roles are assumed on top of the base credentials, as in
// External Secrets Operator: each of AdditionalRoles in order with the
// credentials of the one before, then Config.Role, the only call that sends
// ExternalID and the session tags.
type RoleChain struct {
	// AdditionalRoles are role ARNs assumed, in order, before Role.
	AdditionalRoles []string
	// ExternalID is sent when assuming Role.
	ExternalID string
	// SessionTags are set when assuming Role.
	SessionTags []Tag
	// TransitiveTagKeys are keys of SessionTags that persist into roles
	// assumed with the credentials of Role.
	TransitiveTagKeys []string
}

// Tag is an STS session tag.
type Tag struct {
	Key, Value string
}

// Bounds of AWS's AssumeRole API.
const (
	maxChainRoles   = 8
	maxSessionTags  = 50
	maxTagKeyLen    = 128
	maxTagValueLen  = 256
	maxExternalID   = 1224
	minExternalID   = 2
	maxRoleARNBytes = 2048
)

var (
	// roleARN is an IAM role ARN; its name (after ":role/", which the
	// name's characters cannot contain) is at most maxRoleName characters,
	// checked apart by isRoleARN (a bounded repetition would compile to
	// one instruction per character).
	roleARN    = regexp.MustCompile(`^arn:[a-z-]+:iam::[0-9]{12}:role/[\w+=,.@/-]+$`)
	externalID = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// maxRoleName is the longest IAM role name (with its path) AWS accepts.
const maxRoleName = 512

// isRoleARN reports whether r is an IAM role ARN kseal may assume.
func isRoleARN(r string) bool {
	if len(r) > maxRoleARNBytes || !roleARN.MatchString(r) {
		return false
	}
	return len(r)-(strings.Index(r, ":role/")+len(":role/")) <= maxRoleName
}

// isTagText reports whether s is made of what a session tag may hold:
// letters, separators, numbers and _.:/=+-@ (a pattern of these Unicode
// classes would hold 170 KB of compiled program for the life of the
// process).
func isTagText(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.Is(unicode.Z, r) && !unicode.IsNumber(r) && !strings.ContainsRune("_.:/=+-@", r) {
			return false
		}
	}
	return true
}

// checkChain validates the role chain before any call, with messages that
// say what to change. ExternalID and tags without Role are refused: they
// would be sent to no call.
func (cfg Config) checkChain() error {
	c := cfg.RoleChain
	if len(c.AdditionalRoles) > maxChainRoles {
		return configErrorf("%d additionalRoles, at most %d", len(c.AdditionalRoles), maxChainRoles)
	}
	for _, r := range append(slices.Clone(c.AdditionalRoles), cfg.Role, cfg.WebIdentityRole) {
		if r != "" && !isRoleARN(r) {
			return configErrorf("role %q is not an IAM role ARN (arn:aws:iam::123456789012:role/name)", r)
		}
	}
	// With web identity and no service account role, Role is the web
	// identity role: nothing is assumed with AssumeRole after it but
	// AdditionalRoles, which would then run after Role, not before.
	webIdentityRole := cfg.WebIdentityToken != nil && cfg.WebIdentityRole == ""
	if webIdentityRole && len(c.AdditionalRoles) > 0 {
		return configErrorf("additionalRoles are assumed before role; with jwt auth that needs the service account's eks.amazonaws.com/role-arn annotation (role is otherwise the web identity role)")
	}
	if (c.ExternalID != "" || len(c.SessionTags) > 0) && (cfg.Role == "" || webIdentityRole) {
		return configErrorf("externalID and sessionTags are sent when assuming role: set role (with jwt auth, annotate the service account eks.amazonaws.com/role-arn too)")
	}
	if c.ExternalID != "" && (len(c.ExternalID) < minExternalID || len(c.ExternalID) > maxExternalID || !externalID.MatchString(c.ExternalID)) {
		return configErrorf("externalID must be %d to %d characters of letters, digits and _+=,.@:/-", minExternalID, maxExternalID)
	}
	if len(c.SessionTags) > maxSessionTags {
		return configErrorf("%d sessionTags, at most %d", len(c.SessionTags), maxSessionTags)
	}
	keys := map[string]bool{}
	for _, t := range c.SessionTags {
		if t.Key == "" || len(t.Key) > maxTagKeyLen || len(t.Value) > maxTagValueLen || !isTagText(t.Key) || !isTagText(t.Value) {
			return configErrorf("session tag %q: keys of 1 to %d and values of up to %d letters, digits, spaces and _.:/=+-@", t.Key, maxTagKeyLen, maxTagValueLen)
		}
		keys[t.Key] = true
	}
	for _, k := range c.TransitiveTagKeys {
		if !keys[k] {
			return configErrorf("transitiveTagKeys %q is not the key of one of sessionTags", k)
		}
	}
	return nil
}
