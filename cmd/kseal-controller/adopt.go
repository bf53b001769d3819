package main

import (
	"flag"
	"strings"

	"github.com/kseal-dev/kseal/controllers"
)

// adoptFlags registers the takeover flags (docs/migrate.md); the function
// it returns reads them once parsed. --adopt-apis may be given more than
// once (one kustomize component per API adds its own); the values add up.
func adoptFlags(fs *flag.FlagSet) func() (controllers.AdoptAPIs, bool, error) {
	var apis []string
	fs.Func("adopt-apis", `comma-separated APIs of other controllers to reconcile in place through their own CRDs: "bitnami" (bitnami.com SealedSecrets), "external-secrets" (external-secrets.io kinds); may be repeated`, func(v string) error {
		apis = append(apis, v)
		return nil
	})
	ignoreRunning := fs.Bool("adopt-ignore-running", false, "take over even while the other controller's Deployment still has replicas (two controllers then write the same Secrets)")
	return func() (controllers.AdoptAPIs, bool, error) {
		a, err := controllers.ParseAdoptAPIs(strings.Join(apis, ","))
		return a, *ignoreRunning, err
	}
}
