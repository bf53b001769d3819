package controllers

import (
	"strings"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// unsupportedESOSpec says what in an ESO ExternalSecret kseal cannot do
// (kseal's own CRD refuses these with a validation rule; ESO's CRD accepts
// them, so the reconciler refuses them instead); "" when kseal can serve it.
func unsupportedESOSpec(spec *v1alpha1.ExternalSecretSpec) string {
	t := spec.Target
	switch {
	case spec.SyncWindows != nil:
		return "syncWindows are not supported by kseal"
	case t.CreationPolicy == "CreateOrMerge":
		return "creationPolicy CreateOrMerge is not supported by kseal"
	case t.DeletionPolicy == "Merge":
		return "deletionPolicy Merge is not supported by kseal"
	case t.Manifest != nil && (t.Manifest.APIVersion != "v1" || t.Manifest.Kind != "Secret"):
		return "target.manifest is not supported by kseal (it writes Secrets only)"
	}
	if tpl := t.Template; tpl != nil {
		if tpl.EngineVersion != "" && tpl.EngineVersion != v1alpha1.TemplateEngineV2 {
			return "template engineVersion " + string(tpl.EngineVersion) + " is not supported by kseal (only v2)"
		}
		if len(tpl.Metadata.Finalizers) > 0 {
			return "template.metadata.finalizers is not supported by kseal"
		}
		for _, tf := range tpl.TemplateFrom {
			if tf.Target != "" && !inFold(tf.Target, "data", "annotations", "labels") {
				return "templateFrom target " + tf.Target + " is not supported by kseal (Data, Annotations or Labels)"
			}
		}
	}
	for _, d := range spec.Data {
		if d.SourceRef != nil && d.SourceRef.GeneratorRef != nil {
			return "data[].sourceRef.generatorRef: ESO's generators are not supported by kseal"
		}
	}
	for _, df := range spec.DataFrom {
		if df.SourceRef != nil && df.SourceRef.GeneratorRef != nil {
			return "dataFrom[].sourceRef.generatorRef: ESO's generators are not supported by kseal"
		}
	}
	return ""
}

func inFold(s string, options ...string) bool {
	for _, o := range options {
		if strings.EqualFold(s, o) {
			return true
		}
	}
	return false
}
