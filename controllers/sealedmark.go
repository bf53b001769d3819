package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// The sealed mark: what a Secret kseal wrote for one of its own
// SealedSecrets was made from, readable from metadata alone.
//
// The controller watches SealedSecrets as metadata only (no spec, no
// status), so at a restart it cannot compare the sealed content with the
// Secret. The mark on the Secret (which the Secret cache holds) records
// instead the SealedSecret's UID and generation (the API server bumps the
// generation on every spec change), a hash of the annotations that change
// the Secret without changing the spec (scope, patch, skip-owner), whether
// the Secret carries the owner reference, and the SealedSecret's
// resourceVersion right after kseal last wrote a Ready status for that
// generation. A SealedSecret whose metadata still shows that UID,
// generation, hash and resourceVersion has exactly the spec, annotations and
// status kseal left: nothing is read, decrypted or written for it (see
// unchangedFromMeta).

// AnnotationSealedMark carries the mark on a Secret kseal wrote for one of
// its own SealedSecrets (not in patch mode).
const AnnotationSealedMark = "kseal.dev/sealed-mark"

// markVersion starts every mark; a mark of another version is not read.
const markVersion = "v1"

// maxMarkLen bounds the annotation value the parser looks at: the longest
// valid mark is well under it.
const maxMarkLen = 256

// sealedMark is the parsed value of AnnotationSealedMark.
type sealedMark struct {
	// UID and Generation are the SealedSecret's when the Secret was written.
	UID        types.UID
	Generation int64
	// Inputs is markInputs of the SealedSecret's annotations.
	Inputs string
	// Owned: the Secret is controlled by the SealedSecret (not written with
	// skip-set-owner-references).
	Owned bool
	// StatusRV is the SealedSecret's resourceVersion after kseal wrote its
	// Ready status for Generation; empty until then.
	StatusRV string
}

// String formats m as the annotation value:
// v1;uid=U;gen=G;in=H;own=0|1;srv=RV.
func (m sealedMark) String() string {
	own := "0"
	if m.Owned {
		own = "1"
	}
	return markVersion + ";uid=" + string(m.UID) + ";gen=" + strconv.FormatInt(m.Generation, 10) + ";in=" + m.Inputs + ";own=" + own + ";srv=" + m.StatusRV
}

// errMark is the error of every malformed mark.
var errMark = errors.New("malformed " + AnnotationSealedMark + " annotation")

// parseMark parses a mark. It is strict (every field present once, in
// order, each in its own alphabet) and reads no more than maxMarkLen bytes:
// a Secret's annotations can be edited by anyone who can edit the Secret, so
// a mark that does not parse is no mark, and the SealedSecret is read and
// compared in full.
func parseMark(s string) (sealedMark, error) {
	if len(s) > maxMarkLen {
		return sealedMark{}, fmt.Errorf("%w: %d bytes, at most %d", errMark, len(s), maxMarkLen)
	}
	parts := strings.Split(s, ";")
	names := []string{"", "uid", "gen", "in", "own", "srv"}
	if len(parts) != len(names) || parts[0] != markVersion {
		return sealedMark{}, fmt.Errorf("%w: want %s;uid=…;gen=…;in=…;own=…;srv=…", errMark, markVersion)
	}
	v := make([]string, len(names))
	for i := 1; i < len(parts); i++ {
		val, ok := strings.CutPrefix(parts[i], names[i]+"=")
		if !ok {
			return sealedMark{}, fmt.Errorf("%w: field %d is not %s", errMark, i, names[i])
		}
		v[i] = val
	}
	var m sealedMark
	if v[1] == "" || len(v[1]) > 64 || !allIn(v[1], isUIDByte) {
		return m, fmt.Errorf("%w: uid", errMark)
	}
	m.UID = types.UID(v[1])
	if v[2] == "" || len(v[2]) > 18 || !allIn(v[2], isDigit) || (len(v[2]) > 1 && v[2][0] == '0') {
		return sealedMark{}, fmt.Errorf("%w: gen", errMark)
	}
	m.Generation, _ = strconv.ParseInt(v[2], 10, 64) // at most 18 digits: fits
	if len(v[3]) != 32 || !allIn(v[3], isLowerHex) {
		return sealedMark{}, fmt.Errorf("%w: in", errMark)
	}
	m.Inputs = v[3]
	switch v[4] {
	case "0":
	case "1":
		m.Owned = true
	default:
		return sealedMark{}, fmt.Errorf("%w: own", errMark)
	}
	if len(v[5]) > 64 || !allIn(v[5], isRVByte) {
		return sealedMark{}, fmt.Errorf("%w: srv", errMark)
	}
	m.StatusRV = v[5]
	return m, nil
}

func allIn(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool    { return b >= '0' && b <= '9' }
func isLowerHex(b byte) bool { return isDigit(b) || (b >= 'a' && b <= 'f') }
func isUIDByte(b byte) bool {
	return isDigit(b) || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '-'
}
func isRVByte(b byte) bool { return isUIDByte(b) || b == '.' || b == '_' }

// sealedMetaAnnotations are the SealedSecret annotations that decide its
// Secret besides the spec: the scope (which key label opens the items),
// patch mode and skip-owner. They are metadata, so a change to them does
// not change the generation: the mark hashes them.
var sealedMetaAnnotations = []string{v1alpha1.AnnotationScope, v1alpha1.AnnotationBitnamiNamespaceWide, v1alpha1.AnnotationBitnamiClusterWide,
	v1alpha1.AnnotationPatch, v1alpha1.AnnotationBitnamiPatch, v1alpha1.AnnotationSkipSetOwnerReferences, v1alpha1.AnnotationBitnamiSkipSetOwnerReferences}

// sealedInputAnnotations returns the sealedMetaAnnotations that a has.
func sealedInputAnnotations(a map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range sealedMetaAnnotations {
		if v, ok := a[k]; ok {
			out[k] = v
		}
	}
	return out
}

// markInputs hashes what of o's metadata decides its Secret: namespace,
// name and sealedMetaAnnotations.
func markInputs(o metav1.Object) string {
	h := sha256.New()
	h.Write([]byte(o.GetNamespace()))
	h.Write([]byte{0})
	h.Write([]byte(o.GetName()))
	a := sealedInputAnnotations(o.GetAnnotations())
	for _, k := range slices.Sorted(maps.Keys(a)) {
		h.Write([]byte{0})
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(a[k]))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// markFor is the mark of a Secret written from o, with statusRV.
func markFor(o metav1.Object, owned bool, statusRV string) sealedMark {
	return sealedMark{UID: o.GetUID(), Generation: o.GetGeneration(), Inputs: markInputs(o), Owned: owned, StatusRV: statusRV}
}

// current reports whether m was made from o as its metadata is now: same
// UID, generation and input annotations (the status is judged apart).
func (m sealedMark) current(o metav1.Object) bool {
	return m.UID == o.GetUID() && m.Generation == o.GetGeneration() && m.Inputs == markInputs(o)
}

// unchangedFromMeta reports whether the Secret of the SealedSecret whose
// metadata is meta is provably up to date, with a Ready status for the
// current generation, from metadata alone: secret is the cache's copy
// (without data, with the digest of its data) and writtenRV the
// SealedSecret's resourceVersion after this process last wrote a Ready
// status for it (empty: none known). Anything it cannot prove, it leaves to
// the full reconcile.
func unchangedFromMeta(meta metav1.Object, secret *corev1.Secret, writtenRV string) bool {
	if secret == nil || secret.Labels[LabelWrittenBy] != writtenByValue || secret.Annotations[AnnotationSealedHash] == "" {
		return false
	}
	if _, cached := cachedHash(secret); !cached {
		return false // dataIntact below must judge the digest of the data as the API server sent it
	}
	m, err := parseMark(secret.Annotations[AnnotationSealedMark])
	if err != nil || !m.current(meta) {
		return false
	}
	rv := meta.GetResourceVersion()
	if rv == "" || (rv != m.StatusRV && rv != writtenRV) {
		return false // the status (or metadata) changed since kseal wrote it
	}
	ref := metav1.GetControllerOf(secret)
	switch {
	case m.Owned && (ref == nil || ref.UID != meta.GetUID()):
		return false
	case !m.Owned && ref != nil && ref.UID != meta.GetUID():
		return false
	}
	return dataIntact(secret, nil)
}
