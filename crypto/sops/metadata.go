package sops

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// metadataKey is the top-level key of the SOPS metadata.
const metadataKey = "sops"

// masterKey is one key of a key group: its type as sops names it ("age",
// "pgp", "kms", ...), what identifies it, and the data key (or Shamir part)
// encrypted to it.
type masterKey struct {
	kind, id, enc string
}

// metadata is what a document's SOPS metadata says about its decryption.
type metadata struct {
	groups           [][]masterKey
	shamirThreshold  int
	lastModified     time.Time
	mac              string
	macOnlyEncrypted bool

	unencryptedSuffix, encryptedSuffix             string
	unencryptedRegex, encryptedRegex               string
	unencryptedCommentRegex, encryptedCommentRegex string
	unencryptedRe, encryptedRe                     rule
	unencryptedCommentRe, encryptedCommentRe       rule
}

// errNoMetadata: the document has no sops entry.
var errNoMetadata = errors.New("no sops metadata")

// extractMetadata removes the sops entries of every document of docs and
// reads the first document's. For dotenv every top-level sops_ key is
// part of the metadata, flattened (sops_age__list_0__map_recipient).
func extractMetadata(docs []branch, f Format) ([]branch, *metadata, error) {
	var tree branch
	if f == FormatDotenv {
		if len(docs) > 0 {
			var kept, flat branch
			for _, it := range docs[0] {
				if k, ok := it.key.(string); ok && strings.HasPrefix(k, metadataKey+"_") {
					flat = append(flat, item{key: k[len(metadataKey)+1:], value: it.value})
					continue
				}
				kept = append(kept, it)
			}
			docs[0], tree = kept, flat
		}
	} else {
		found := false
		for di, doc := range docs {
			kept := doc[:0:0]
			for _, it := range doc {
				if k, ok := it.key.(string); !ok || k != metadataKey {
					kept = append(kept, it)
					continue
				}
				if di == 0 {
					if found {
						return nil, nil, fmt.Errorf("the sops metadata appears twice")
					}
					found = true
					b, ok := it.value.(branch)
					if !ok {
						return nil, nil, fmt.Errorf("the sops metadata is not a mapping")
					}
					tree = b
				}
			}
			docs[di] = kept
		}
	}
	if tree == nil {
		return nil, nil, errNoMetadata
	}
	if f == FormatDotenv || f == FormatINI {
		var err error
		if tree, err = unflatten(tree, f == FormatINI); err != nil {
			return nil, nil, err
		}
	}
	md, err := readMetadata(plainMap(tree))
	if err != nil {
		return nil, nil, err
	}
	return docs, md, nil
}

// plainMap turns a branch into a map without comments (a later duplicate
// key wins, as in sops).
func plainMap(b branch) map[string]any {
	out := map[string]any{}
	for _, it := range b {
		if k, ok := it.key.(string); ok {
			out[k] = plainValue(it.value)
		}
	}
	return out
}

func plainValue(v any) any {
	switch v := v.(type) {
	case branch:
		return plainMap(v)
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if _, ok := e.(comment); !ok {
				out = append(out, plainValue(e))
			}
		}
		return out
	}
	return v
}

// keyFields are the fields of each kind of master key, in the order sops
// puts them into a key group: the field that identifies the key, and
// whether the key carries a created_at date.
var keyKinds = []struct {
	kind, field string
	created     bool
}{
	{"kms", "arn", true}, {"gcp_kms", "resource_id", true}, {"hckms", "key_id", true},
	{"azure_kv", "vault_url", true}, {"hc_vault", "vault_address", true},
	{"pgp", "fp", true}, {"age", "recipient", false},
}

// readMetadata reads the metadata fields, converting scalars the way sops
// does (a flattened format stores every field as a string).
func readMetadata(m map[string]any) (*metadata, error) {
	md := &metadata{}
	var err error
	str := func(k string) string {
		s, e := weakString(m[k])
		if e != nil && err == nil {
			err = fmt.Errorf("sops metadata field %s: %w", k, e)
		}
		return s
	}
	lastModified := str("lastmodified")
	md.mac = str("mac")
	md.unencryptedSuffix, md.encryptedSuffix = str("unencrypted_suffix"), str("encrypted_suffix")
	md.unencryptedRegex, md.encryptedRegex = str("unencrypted_regex"), str("encrypted_regex")
	md.unencryptedCommentRegex, md.encryptedCommentRegex = str("unencrypted_comment_regex"), str("encrypted_comment_regex")
	str("version")
	if err != nil {
		return nil, err
	}
	if md.macOnlyEncrypted, err = weakBool(m["mac_only_encrypted"]); err != nil {
		return nil, fmt.Errorf("sops metadata field mac_only_encrypted: %w", err)
	}
	if md.shamirThreshold, err = weakInt(m["shamir_threshold"]); err != nil {
		return nil, fmt.Errorf("sops metadata field shamir_threshold: %w", err)
	}
	if md.lastModified, err = time.Parse(time.RFC3339, lastModified); err != nil {
		return nil, fmt.Errorf("sops metadata field lastmodified is not an RFC 3339 time")
	}
	if md.groups, err = keyGroups(m); err != nil {
		return nil, err
	}
	rules := 0
	for _, r := range []string{md.unencryptedSuffix, md.encryptedSuffix, md.unencryptedRegex, md.encryptedRegex, md.unencryptedCommentRegex, md.encryptedCommentRegex} {
		if r != "" {
			rules++
		}
	}
	switch {
	case rules > 1:
		return nil, fmt.Errorf("the sops metadata sets more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex and unencrypted_comment_regex")
	case rules == 0:
		md.unencryptedSuffix = "_unencrypted"
	}
	md.unencryptedRe, md.encryptedRe = compileRule(md.unencryptedRegex), compileRule(md.encryptedRegex)
	md.unencryptedCommentRe, md.encryptedCommentRe = compileRule(md.unencryptedCommentRegex), compileRule(md.encryptedCommentRegex)
	return md, nil
}

// keyGroups reads the master keys: those at the top level make one group;
// without any, key_groups lists the groups.
func keyGroups(m map[string]any) ([][]masterKey, error) {
	top, err := keyGroup(m)
	if err != nil {
		return nil, err
	}
	if len(top) > 0 {
		return [][]masterKey{top}, nil
	}
	list, err := weakList(m["key_groups"])
	if err != nil {
		return nil, fmt.Errorf("sops metadata field key_groups: %w", err)
	}
	var groups [][]masterKey
	for _, g := range list {
		gm, ok := g.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("sops metadata field key_groups: a group is not a mapping")
		}
		group, err := keyGroup(gm)
		if err != nil {
			return nil, err
		}
		groups = append(groups, group)
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("the sops metadata lists no key")
	}
	return groups, nil
}

// keyGroup reads the master keys of one group.
func keyGroup(m map[string]any) ([]masterKey, error) {
	var group []masterKey
	for _, kk := range keyKinds {
		list, err := weakList(m[kk.kind])
		if err != nil {
			return nil, fmt.Errorf("sops metadata field %s: %w", kk.kind, err)
		}
		for _, e := range list {
			km, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("sops metadata field %s: a key is not a mapping", kk.kind)
			}
			k, err := readKey(kk.kind, kk.field, kk.created, km)
			if err != nil {
				return nil, err
			}
			group = append(group, k)
		}
	}
	return group, nil
}

// readKey reads one master key and names it as sops does in messages.
func readKey(kind, field string, created bool, m map[string]any) (masterKey, error) {
	var err error
	str := func(k string) string {
		s, e := weakString(m[k])
		if e != nil && err == nil {
			err = fmt.Errorf("sops metadata field %s.%s: %w", kind, k, e)
		}
		return s
	}
	k := masterKey{kind: kind, id: str(field), enc: str("enc")}
	if created {
		if _, e := time.Parse(time.RFC3339, str("created_at")); e != nil && err == nil {
			err = fmt.Errorf("sops metadata field %s.created_at is not an RFC 3339 time", kind)
		}
	}
	switch kind {
	case "kms":
		k.id = kmsName(k.id, str("role"), str("aws_profile"), m["context"])
	case "azure_kv":
		k.id = fmt.Sprintf("%s/keys/%s/%s", k.id, str("name"), str("version"))
	case "hc_vault":
		k.id = fmt.Sprintf("%s/v1/%s/keys/%s", k.id, str("engine_path"), str("key_name"))
	case "hckms":
		region, uuid, ok := strings.Cut(strings.TrimSpace(k.id), ":")
		if (!ok || strings.TrimSpace(region) == "" || strings.TrimSpace(uuid) == "") && err == nil {
			err = fmt.Errorf("sops metadata field hckms.key_id is not REGION:KEY-UUID")
		}
	}
	return k, err
}

// kmsName names an AWS KMS key: ARN[+ROLE][|CONTEXT][|PROFILE].
func kmsName(arn, role, profile string, context any) string {
	name := arn
	if role != "" {
		name += "+" + role
	}
	var pairs []string
	if cm, ok := context.(map[string]any); ok {
		for k, v := range cm {
			s, _ := weakString(v)
			pairs = append(pairs, k+":"+s)
		}
	}
	sort.Strings(pairs)
	ctx := strings.Join(pairs, ",")
	switch {
	case profile != "":
		return name + "|" + ctx + "|" + profile
	case ctx != "":
		return name + "|" + ctx
	}
	return name
}

// weakString reads a scalar as a string.
func weakString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("expected a string, found a %s", kindOf(v))
}

// weakBool reads a scalar as a boolean.
func weakBool(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case int:
		return v != 0, nil
	case float64:
		return v != 0, nil
	case string:
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, errors.New("not a boolean")
		}
		return b, nil
	}
	return false, fmt.Errorf("expected a boolean, found a %s", kindOf(v))
}

// weakInt reads a scalar as an integer.
func weakInt(v any) (int, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int:
		return v, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case float64:
		if v > math.MaxInt32 || v < math.MinInt32 {
			return 0, errors.New("out of range")
		}
		return int(v), nil
	case string:
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 0, 0)
		if err != nil {
			return 0, errors.New("not an integer")
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("expected an integer, found a %s", kindOf(v))
}

// weakList reads a list (nil is empty).
func weakList(v any) ([]any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return v, nil
	}
	return nil, fmt.Errorf("expected a list, found a %s", kindOf(v))
}

// kindOf names the kind of a value for messages, never the value.
func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	case string:
		return "string"
	}
	return "scalar"
}
