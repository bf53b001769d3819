package e2e

import (
	"testing"
	"time"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestAdoptESO_storeCredentialsRotated: rotating the credentials Secret of
// an ESO SecretStore refreshes, at once, the ESO ExternalSecret using it
// (synced a minute ago, its refresh an hour away), as for kseal's own kinds.
func TestAdoptESO_storeCredentialsRotated(t *testing.T) {
	installESOCRDs(t)
	srv := awstest.NewServer(t)
	ns := newNamespace(t, "adopt-eso-creds")
	esoAWSStore(t, srv, ns, "aws")
	srv.CreateSecret(t, ns+"/app", "v1", nil)
	esoSynced(t, ns, "app", "aws", ns+"/app", "v1", time.Now().Add(-time.Minute))
	c := startController(t, controllers.Options{
		WatchNamespaces: []string{ns},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		ESOEndpoints:    controllers.ESOEndpoints{SecretsManager: srv.URL},
	})
	defer c.stop()
	var store esov1.SecretStore
	waitFor(t, 60*time.Second, "the ESO SecretStore validated", func() bool {
		return env.Client.Get(ctx, clientKey(ns, "aws"), &store) == nil && len(store.Status.Conditions) == 1
	})
	srv.PutSecretValue(t, ns+"/app", "v2") // not due: not fetched until something says so
	srv.AddCredentials("AKIAKSEALESOROTATED1", "eso-rotated-secret-access-key")
	setCredentials(t, ns, "aws-creds", "AKIAKSEALESOROTATED1", "eso-rotated-secret-access-key")
	waitFor(t, 60*time.Second, "the ESO ExternalSecret refreshed after its store's credentials changed", func() bool {
		return string(getSecret(t, ns, "app").Data["value"]) == "v2"
	})
}
