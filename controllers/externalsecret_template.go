package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/template"
)

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get

// renderedSecret is what an ExternalSecret's template makes of the fetched
// data: the Secret's data, labels and annotations.
type renderedSecret struct {
	data        map[string][]byte
	labels      map[string]string
	annotations map[string]string
}

// renderTemplate applies spec.target.template as External Secrets
// Operator's v2 engine does: without data or templateFrom the fetched keys
// are kept; otherwise the Secret holds the templated keys only, unless
// mergePolicy is Merge. templateFrom entries render first, in order, then
// data, then the metadata's labels and annotations (whose values are
// templates too). Every template sees the fetched data, and all of them
// share one set of limits. Nothing is returned unless everything renders.
func (r *externalSecretReconciler) renderTemplate(ctx context.Context, es *v1alpha1.ExternalSecret, fetched map[string][]byte) (*renderedSecret, error) {
	t := es.Spec.Target.Template
	if t == nil {
		return &renderedSecret{data: fetched}, nil
	}
	if t.EngineVersion != "" && t.EngineVersion != v1alpha1.TemplateEngineV2 {
		return nil, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("template engineVersion %s is not supported: write engineVersion: v2", t.EngineVersion))
	}
	out := &renderedSecret{data: map[string][]byte{}, labels: maps.Clone(t.Metadata.Labels), annotations: maps.Clone(t.Metadata.Annotations)}
	if t.MergePolicy == v1alpha1.MergePolicyMerge || (len(t.Data) == 0 && len(t.TemplateFrom) == 0) {
		maps.Copy(out.data, fetched)
	}
	s := template.DefaultLimits.Session()
	for i, tf := range t.TemplateFrom {
		if err := r.renderTemplateFrom(ctx, es, s, tf, fetched, out); err != nil {
			return nil, wrapStep(err, fmt.Sprintf("template.templateFrom[%d]", i))
		}
	}
	for _, part := range []struct {
		name      string
		templates map[string]string
		target    string
	}{{"data", t.Data, "data"}, {"metadata.labels", t.Metadata.Labels, "labels"}, {"metadata.annotations", t.Metadata.Annotations, "annotations"}} {
		values, err := execute(s, part.templates, fetched)
		if err != nil {
			return nil, terminal(v1alpha1.ReasonTemplateError, fmt.Errorf("template.%s: %w", part.name, err))
		}
		for k, v := range values {
			out.set(part.target, k, v)
		}
	}
	return out, nil
}

// set puts one rendered value in the part target names ("data",
// "annotations" or "labels", any case).
func (o *renderedSecret) set(target, key string, value []byte) {
	switch strings.ToLower(target) {
	case "annotations":
		if o.annotations == nil {
			o.annotations = map[string]string{}
		}
		o.annotations[key] = string(value)
	case "labels":
		if o.labels == nil {
			o.labels = map[string]string{}
		}
		o.labels[key] = string(value)
	default:
		o.data[key] = value
	}
}

// execute parses and runs templates in the session s.
func execute(s *template.Session, templates map[string]string, data map[string][]byte) (map[string][]byte, error) {
	if len(templates) == 0 {
		return nil, nil
	}
	p, err := s.Parse(templates)
	if err != nil {
		return nil, err
	}
	return p.Execute(data)
}

// renderTemplateFrom renders one templateFrom entry into out.
func (r *externalSecretReconciler) renderTemplateFrom(ctx context.Context, es *v1alpha1.ExternalSecret, s *template.Session, tf v1alpha1.TemplateFrom, fetched map[string][]byte, out *renderedSecret) error {
	type item struct {
		key, src string
		scope    v1alpha1.TemplateScope
	}
	var items []item
	switch {
	case tf.Literal != nil:
		items = []item{{"literal", *tf.Literal, v1alpha1.TemplateScopeKeysAndValues}}
	case tf.ConfigMap != nil || tf.Secret != nil:
		sources, err := r.templateSources(ctx, es.Namespace, tf)
		if err != nil {
			return err
		}
		ref := tf.ConfigMap
		if ref == nil {
			ref = tf.Secret
		}
		for _, it := range ref.Items {
			src, ok := sources[it.Key]
			if !ok {
				return retryLater(v1alpha1.ReasonTemplateError, fmt.Errorf("%s has no key %q: add it, or remove the item", sourceName(tf), it.Key))
			}
			items = append(items, item{it.Key, src, it.TemplateAs})
		}
	}
	for _, it := range items {
		values, err := execute(s, map[string]string{it.key: it.src}, fetched)
		if err != nil {
			return terminal(v1alpha1.ReasonTemplateError, err)
		}
		rendered := values[it.key]
		pairs := map[string][]byte{it.key: rendered}
		if it.scope == v1alpha1.TemplateScopeKeysAndValues {
			if pairs, err = keysAndValues(rendered); err != nil {
				return terminal(v1alpha1.ReasonTemplateError, fmt.Errorf("template %q (templateAs KeysAndValues): %w", it.key, err))
			}
		}
		for k, v := range pairs {
			v, err := decodeValue(tf.ValuesDecodingStrategy, v)
			if err != nil {
				return terminal(v1alpha1.ReasonTemplateError, fmt.Errorf("template %q: valuesDecodingStrategy %s: %w", it.key, tf.ValuesDecodingStrategy, err))
			}
			out.set(targetOrData(tf.Target), k, v)
		}
	}
	return nil
}

func targetOrData(target string) string {
	if target == "" {
		return "data"
	}
	return target
}

func sourceName(tf v1alpha1.TemplateFrom) string {
	if tf.ConfigMap != nil {
		return "ConfigMap " + tf.ConfigMap.Name
	}
	return "Secret " + tf.Secret.Name
}

// templateSources reads the ConfigMap or Secret a templateFrom entry names,
// in the ExternalSecret's namespace, directly from the API server (no
// cluster-wide ConfigMap cache).
func (r *externalSecretReconciler) templateSources(ctx context.Context, namespace string, tf v1alpha1.TemplateFrom) (map[string]string, error) {
	reader := r.reader
	if reader == nil {
		reader = r.Client
	}
	out := map[string]string{}
	var err error
	if tf.ConfigMap != nil {
		cm := &corev1.ConfigMap{}
		if err = reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: tf.ConfigMap.Name}, cm); err == nil {
			maps.Copy(out, cm.Data)
		}
	} else {
		sec := &corev1.Secret{}
		if err = reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: tf.Secret.Name}, sec); err == nil {
			for k, v := range sec.Data {
				out[k] = string(v)
			}
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, retryLater(v1alpha1.ReasonTemplateError, fmt.Errorf("%s not found in namespace %s: create it, or remove the templateFrom entry", sourceName(tf), namespace))
	case err != nil:
		return nil, retryable(v1alpha1.ReasonProviderError, fmt.Errorf("reading %s: %w", sourceName(tf), err))
	}
	return out, nil
}

// keysAndValues reads a KeysAndValues template's output: a YAML map whose
// values are strings or other scalars (written as YAML writes them).
func keysAndValues(rendered []byte) (map[string][]byte, error) {
	var m map[string]any
	useNumber := func(d *json.Decoder) *json.Decoder { d.UseNumber(); return d }
	if err := yaml.Unmarshal(rendered, &m, useNumber); err != nil {
		return nil, fmt.Errorf("the output is not a YAML map of keys to values (the parser's message is withheld: it may quote a value)")
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = []byte(v)
		case nil:
			out[k] = nil
		case map[string]any, []any:
			return nil, errors.New("a value is a map or a list: make every value a string")
		default:
			out[k] = fmt.Append(nil, v)
		}
	}
	return out, nil
}

// wrapStep prefixes the message of err (a *stepError or not) with where.
func wrapStep(err error, where string) error {
	if se, ok := err.(*stepError); ok {
		c := *se
		c.err = fmt.Errorf("%s: %w", where, se.err)
		return &c
	}
	return fmt.Errorf("%s: %w", where, err)
}
