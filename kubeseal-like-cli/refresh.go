package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

type refreshOptions struct {
	kubeconfig, context, namespace string
	now                            func() time.Time
}

// refreshKinds maps the names `kseal refresh` accepts to resources.
var refreshKinds = map[string]string{
	"externalsecret": "externalsecrets", "externalsecrets": "externalsecrets", "es": "externalsecrets",
	"sealedsecret": "sealedsecrets", "sealedsecrets": "sealedsecrets", "ss": "sealedsecrets",
	"sopssecret": "sopssecrets", "sopssecrets": "sopssecrets",
}

func newRefreshCommand(_ *streams) *cobra.Command {
	o := &refreshOptions{now: time.Now}
	cmd := &cobra.Command{
		Use:   "refresh KIND/NAME...",
		Short: "Make the controller sync an ExternalSecret (or check a SealedSecret or SopsSecret) now",
		Long: `Refresh sets the force-sync annotation (ESO's) to the current time: the
controller fetches an ExternalSecret's values again at once, once, whatever its
refreshInterval. For a SealedSecret or SopsSecret it makes the controller check
its Secret again now. KIND is externalsecret (es), sealedsecret (ss) or
sopssecret. It needs patch on the object through the kubeconfig.`,
		Example: `  kseal refresh es/db-credentials -n shop
  kubectl annotate es db-credentials force-sync=$(date +%s) --overwrite   # the same`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&o.context, "context", "", "kubeconfig context (default the current context)")
	fs.StringVarP(&o.namespace, "namespace", "n", "", "namespace of the objects (default the context's)")
	return cmd
}

func (o *refreshOptions) run(cmd *cobra.Command, args []string) error {
	type ref struct{ resource, name string }
	var refs []ref
	for _, a := range args {
		kind, name, ok := strings.Cut(a, "/")
		res := refreshKinds[strings.ToLower(kind)]
		if !ok || res == "" || name == "" {
			return withHint(fmt.Errorf("%q is not KIND/NAME", a), "write es/NAME, sealedsecret/NAME or sopssecret/NAME")
		}
		refs = append(refs, ref{res, name})
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.context})
	cfg, err := loader.ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return withHint(errors.New("no kubeconfig found"), "pass --kubeconfig FILE (and --context)")
	case err != nil:
		return withHint(fmt.Errorf("kubeconfig: %w", err), "check --kubeconfig and --context")
	}
	ns := o.namespace
	if ns == "" {
		if ns, _, err = loader.Namespace(); err != nil {
			return withHint(fmt.Errorf("kubeconfig: %w", err), "pass --namespace")
		}
	}
	cfg.Timeout = requestTimeout
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	value := o.now().UTC().Format(time.RFC3339Nano)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{v1alpha1.AnnotationForceSync: value}}})
	if err != nil {
		return err
	}
	for _, r := range refs {
		gvr := schema.GroupVersionResource{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Resource: r.resource}
		_, err := dyn.Resource(gvr).Namespace(ns).Patch(cmd.Context(), r.name, types.MergePatchType, patch, metav1.PatchOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return withHint(fmt.Errorf("%s %s/%s not found", r.resource, ns, r.name), "check the name and --namespace")
		case apierrors.IsForbidden(err):
			return withHint(fmt.Errorf("refresh %s %s/%s: %w", r.resource, ns, r.name, err), "the kubeconfig user needs patch on %s.%s in namespace %s", r.resource, gvr.Group, ns)
		case err != nil:
			return fmt.Errorf("refresh %s %s/%s: %w", r.resource, ns, r.name, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s/%s refresh requested (%s=%s)\n", r.resource, r.name, v1alpha1.AnnotationForceSync, value)
	}
	return nil
}
