package controllers

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// resolveStoreRef finds the store ref names for an ExternalSecret in
// namespace and checks that the namespace may use it.
func (r *externalSecretReconciler) resolveStoreRef(ctx context.Context, namespace string, ref v1alpha1.SecretStoreRef) (*storeInfo, error) {
	if ref.Kind == v1alpha1.ClusterSecretStoreKind {
		var css v1alpha1.ClusterSecretStore
		if err := r.adopt.stores(r.Client).Get(ctx, client.ObjectKey{Name: ref.Name}, &css); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, retryLater(v1alpha1.ReasonStoreNotFound, fmt.Errorf("ClusterSecretStore %s not found", ref.Name))
			}
			return nil, err
		}
		allowed, err := r.namespaceAllowed(ctx, css.Spec.Conditions, namespace)
		if err != nil {
			return nil, err
		}
		if !allowed {
			return nil, terminal(v1alpha1.ReasonStoreNotAllowed, fmt.Errorf("ClusterSecretStore %s does not allow namespace %s (see its spec.conditions)", ref.Name, namespace))
		}
		return &storeInfo{Kind: v1alpha1.ClusterSecretStoreKind, Name: css.Name, Spec: &css.Spec, Generation: css.Generation, RefNamespace: namespace}, nil
	}
	var ss v1alpha1.SecretStore
	if err := r.adopt.stores(r.Client).Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, &ss); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, retryLater(v1alpha1.ReasonStoreNotFound, fmt.Errorf("SecretStore %s/%s not found", namespace, ref.Name))
		}
		return nil, err
	}
	return &storeInfo{Kind: v1alpha1.SecretStoreKind, Namespace: ss.Namespace, Name: ss.Name, Spec: &ss.Spec, Generation: ss.Generation}, nil
}

// namespaceAllowed applies a ClusterSecretStore's conditions.
func (r *externalSecretReconciler) namespaceAllowed(ctx context.Context, conds []v1alpha1.ClusterSecretStoreCondition, namespace string) (bool, error) {
	if len(conds) == 0 {
		return true, nil
	}
	var ns *corev1.Namespace
	for _, c := range conds {
		if slices.Contains(c.Namespaces, namespace) {
			return true, nil
		}
		if ok, err := namespaceMatches(c.NamespaceRegexes, namespace); ok || err != nil {
			return ok, err
		}
		if c.NamespaceSelector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.NamespaceSelector)
		if err != nil {
			return false, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("ClusterSecretStore namespaceSelector: %w", err))
		}
		if ns == nil {
			ns = &corev1.Namespace{}
			if err := r.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
				return false, err
			}
		}
		if sel.Matches(labelsOf(ns)) {
			return true, nil
		}
	}
	return false, nil
}

// namespaceMatches reports whether namespace matches one of a
// ClusterSecretStore condition's namespaceRegexes (unanchored, as in ESO).
// The schema bounds them to 16 of 256 bytes; Go's regexp runs in linear
// time.
func namespaceMatches(regexes []string, namespace string) (bool, error) {
	for i, expr := range regexes {
		re, err := regexp.Compile(expr)
		if err != nil {
			return false, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("ClusterSecretStore namespaceRegexes[%d] does not compile: fix the regular expression", i))
		}
		if re.MatchString(namespace) {
			return true, nil
		}
	}
	return false, nil
}
