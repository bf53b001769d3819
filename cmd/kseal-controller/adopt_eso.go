package main

import (
	"flag"

	"github.com/kseal-dev/kseal/controllers"
)

// esoAdoptFlags registers the flag of the takeover of External Secrets
// Operator's kinds (--adopt-apis=external-secrets; docs/migrate.md): the
// namespace where ESO's controller runs, checked before kseal takes over.
// ESO's AWS endpoint variables (AWS_SECRETSMANAGER_ENDPOINT, AWS_SSM_ENDPOINT,
// AWS_STS_ENDPOINT) are read from the environment, as ESO reads them.
func esoAdoptFlags(fs *flag.FlagSet) *string {
	return fs.String("adopt-eso-namespace", controllers.DefaultESONamespace, "namespace of External Secrets Operator's controller: with --adopt-apis=external-secrets, kseal does not start while its Deployment has replicas or its leader Lease is held there")
}
