package controllers

import (
	"context"
	"maps"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// only serves every store reference from p.
func only(p providers.Provider) providerFor {
	return func(context.Context, *v1alpha1.SecretStoreRef) (providers.Provider, error) { return p, nil }
}

// untemplated is data with the template's metadata, as rendering a template
// without data templates gives.
func untemplated(es *v1alpha1.ExternalSecret, data map[string][]byte) *renderedSecret {
	out := &renderedSecret{data: data}
	if t := es.Spec.Target.Template; t != nil {
		out.labels, out.annotations = maps.Clone(t.Metadata.Labels), maps.Clone(t.Metadata.Annotations)
	}
	return out
}
