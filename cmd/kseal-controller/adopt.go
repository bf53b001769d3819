package main

import (
	"flag"

	"github.com/kseal-dev/kseal/controllers"
)

// adoptFlags registers the takeover flags (docs/migrate.md); the function
// it returns reads them once parsed.
func adoptFlags(fs *flag.FlagSet) func() (controllers.AdoptAPIs, bool, error) {
	apis := fs.String("adopt-apis", "", `comma-separated APIs of other controllers to reconcile in place through their own CRDs: "bitnami" (bitnami.com SealedSecrets), "external-secrets" (external-secrets.io kinds)`)
	ignoreRunning := fs.Bool("adopt-ignore-running", false, "take over even while the other controller's Deployment still has replicas (two controllers then write the same Secrets)")
	return func() (controllers.AdoptAPIs, bool, error) {
		a, err := controllers.ParseAdoptAPIs(*apis)
		return a, *ignoreRunning, err
	}
}
