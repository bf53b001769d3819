package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func markSubject() *metav1.PartialObjectMetadata {
	m := sealedSecretMeta()
	m.Namespace, m.Name, m.UID, m.Generation, m.ResourceVersion = "ns", "app", "3f0c1a2b-0000-4000-8000-00000000abcd", 4, "1234"
	m.Annotations = map[string]string{"unrelated": "x"}
	return m
}

func TestParseMark_roundTrip(t *testing.T) {
	for _, m := range []sealedMark{
		markFor(markSubject(), true, "1234"),
		markFor(markSubject(), false, ""),
		{UID: "u", Generation: 1, Inputs: strings.Repeat("a", 32), StatusRV: "9.x_Y-1"},
	} {
		got, err := parseMark(m.String())
		if err != nil || got != m {
			t.Errorf("parseMark(%q) = %+v, %v; want %+v", m.String(), got, err, m)
		}
	}
}

func TestParseMark_strict(t *testing.T) {
	good := markFor(markSubject(), true, "1234").String()
	in := markInputs(markSubject())
	for _, bad := range []string{
		"",
		"v2" + strings.TrimPrefix(good, "v1"),
		strings.Replace(good, ";srv=1234", "", 1),
		good + ";srv=1234",
		strings.Replace(good, "uid=", "UID=", 1),
		strings.Replace(good, "gen=4", "gen=04", 1),
		strings.Replace(good, "gen=4", "gen=-4", 1),
		strings.Replace(good, "gen=4", "gen=", 1),
		strings.Replace(good, "gen=4", "gen=1234567890123456789", 1),
		strings.Replace(good, "in="+in, "in="+strings.ToUpper(in), 1),
		strings.Replace(good, "in="+in, "in="+in[:31], 1),
		strings.Replace(good, "own=1", "own=true", 1),
		strings.Replace(good, "srv=1234", "srv=12 34", 1),
		strings.Replace(good, "srv=1234", "srv="+strings.Repeat("1", 65), 1),
		strings.Replace(good, "uid=3f0c1a2b", "uid=3f0c;1a2b", 1),
		strings.Replace(good, "uid=3f0c1a2b-0000-4000-8000-00000000abcd", "uid=", 1),
		good + strings.Repeat(" ", maxMarkLen),
	} {
		if m, err := parseMark(bad); err == nil {
			t.Errorf("parseMark(%q) = %+v, want an error", bad, m)
		}
	}
}

func TestMarkCurrent(t *testing.T) {
	meta := markSubject()
	m := markFor(meta, true, "1234")
	if !m.current(meta) {
		t.Fatal("a mark is not current for the object it was made from")
	}
	for name, change := range map[string]func(o *metav1.PartialObjectMetadata){
		"generation": func(o *metav1.PartialObjectMetadata) { o.Generation++ },
		"uid":        func(o *metav1.PartialObjectMetadata) { o.UID = "other" },
		"scope":      func(o *metav1.PartialObjectMetadata) { o.Annotations[v1alpha1.AnnotationScope] = "cluster-wide" },
		"bitnami scope": func(o *metav1.PartialObjectMetadata) {
			o.Annotations[v1alpha1.AnnotationBitnamiNamespaceWide] = "true"
		},
		"patch": func(o *metav1.PartialObjectMetadata) { o.Annotations[v1alpha1.AnnotationPatch] = "true" },
		"skip owner": func(o *metav1.PartialObjectMetadata) {
			o.Annotations[v1alpha1.AnnotationSkipSetOwnerReferences] = "true"
		},
		"name": func(o *metav1.PartialObjectMetadata) { o.Name = "other" },
	} {
		o := meta.DeepCopy()
		change(o)
		if m.current(o) {
			t.Errorf("mark still current after a change of the %s", name)
		}
	}
	// Labels, other annotations and the resourceVersion do not decide the
	// Secret (the status is judged from the resourceVersion apart).
	o := meta.DeepCopy()
	o.Labels = map[string]string{"team": "a"}
	o.Annotations["argocd.argoproj.io/tracking-id"] = "x"
	o.ResourceVersion = "9999"
	if !m.current(o) {
		t.Error("mark not current after a change of labels, unrelated annotations or resourceVersion")
	}
}

// markedSecret is the cache's copy of a Secret kseal wrote for meta, with
// the mark m.
func markedSecret(t *testing.T, meta *metav1.PartialObjectMetadata, m sealedMark) *corev1.Secret {
	t.Helper()
	s := writtenSecret(map[string]string{"password": "hunter2"})
	s.Annotations[AnnotationSealedHash] = "h"
	s.Annotations[AnnotationSealedMark] = m.String()
	tr := true
	s.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kseal.dev/v1alpha1", Kind: "SealedSecret", Name: meta.Name, UID: meta.UID, Controller: &tr}}
	return transformSecret(t, s)
}

func TestUnchangedFromMeta(t *testing.T) {
	meta := markSubject()
	good := markedSecret(t, meta, markFor(meta, true, meta.ResourceVersion))
	if !unchangedFromMeta(meta, good, "") {
		t.Fatal("an unchanged SealedSecret with a current mark is not confirmed")
	}
	// The status kseal wrote in this process, before the mark records it.
	pending := markedSecret(t, meta, markFor(meta, true, ""))
	if unchangedFromMeta(meta, pending, "") {
		t.Error("confirmed without knowing the status")
	}
	if !unchangedFromMeta(meta, pending, meta.ResourceVersion) {
		t.Error("the status this process wrote does not confirm it")
	}

	full := writtenSecret(map[string]string{"password": "hunter2"})
	full.Annotations[AnnotationSealedHash] = "h"
	full.Annotations[AnnotationSealedMark] = markFor(meta, true, meta.ResourceVersion).String()
	full.OwnerReferences = good.OwnerReferences
	edited := good.DeepCopy()
	edited.Annotations[annotationCachedHash] = cacheMark + "0000"
	unlabelled := good.DeepCopy()
	delete(unlabelled.Labels, LabelWrittenBy)
	notOwned := good.DeepCopy()
	notOwned.OwnerReferences = nil
	otherOwner := good.DeepCopy()
	otherOwner.OwnerReferences[0].UID = "other"
	forged := good.DeepCopy()
	forged.Annotations[AnnotationSealedMark] = "v1;uid=x"
	noHash := good.DeepCopy()
	delete(noHash.Annotations, AnnotationSealedHash)
	statusChanged := meta.DeepCopy()
	statusChanged.ResourceVersion = "1300"
	specChanged := meta.DeepCopy()
	specChanged.Generation++
	for name, c := range map[string]struct {
		meta   *metav1.PartialObjectMetadata
		secret *corev1.Secret
	}{
		"no Secret":                          {meta, nil},
		"Secret read whole, not the cache's": {meta, full},
		"data edited":                        {meta, edited},
		"not labelled":                       {meta, unlabelled},
		"owner reference removed":            {meta, notOwned},
		"owned by another object":            {meta, otherOwner},
		"malformed mark":                     {meta, forged},
		"no sealed hash":                     {meta, noHash},
		"status or metadata changed":         {statusChanged, good},
		"spec changed":                       {specChanged, good},
	} {
		if unchangedFromMeta(c.meta, c.secret, "") {
			t.Errorf("%s: confirmed from metadata", name)
		}
	}
	// skip-set-owner-references: no owner reference is wanted.
	skip := meta.DeepCopy()
	skip.Annotations[v1alpha1.AnnotationSkipSetOwnerReferences] = "true"
	unowned := markedSecret(t, skip, markFor(skip, false, skip.ResourceVersion))
	unowned.OwnerReferences = nil
	if !unchangedFromMeta(skip, unowned, "") {
		t.Error("a Secret written without owner reference is not confirmed")
	}
}

func FuzzParseMark(f *testing.F) {
	f.Add(markFor(markSubject(), true, "1234").String())
	f.Add("v1;uid=a;gen=1;in=" + strings.Repeat("0", 32) + ";own=0;srv=")
	f.Add("v1;;;;;")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMark(s)
		if err != nil {
			return
		}
		if len(s) > maxMarkLen {
			t.Fatalf("accepted %d bytes", len(s))
		}
		// A parsed mark formats back to the same text: one text per mark.
		if m.String() != s {
			t.Fatalf("parseMark(%q).String() = %q", s, m.String())
		}
		if m.Generation < 0 || m.UID == "" {
			t.Fatalf("parsed %+v", m)
		}
	})
}
