package scale

import (
	"fmt"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// awsOperations are the Secrets Manager operations the report breaks calls
// down by; anything else is counted as "other".
var awsOperations = []string{"BatchGetSecretValue", "GetSecretValue", "ListSecrets", "DescribeSecret"}

// parameterStoreOperations are the Parameter Store operations the log line
// breaks calls down by (the report counts them as "other").
var parameterStoreOperations = []string{"GetParameters", "GetParameter", "GetParametersByPath", "DescribeParameters"}

// externalRun is the ExternalSecret measurement: N ExternalSecrets on one
// AWS store, each reading its own remote secret.
type externalRun struct {
	N int
	// Cold is the controller started with the ExternalSecrets in place,
	// until all are Ready.
	Cold *phase
	// Calls are the provider API calls of Cold, by operation.
	Calls callCounts
	// Refresh is the refreshInterval; zero when no refresh cycle was
	// measured.
	Refresh time.Duration
	// RefreshCalls are the provider calls of the next refresh cycle (every
	// ExternalSecret synced once more), and RefreshWrites the controller's
	// Kubernetes API writes in that cycle.
	RefreshCalls  callCounts
	RefreshWrites map[string]float64
}

// callCounts are provider calls by operation, with their total.
type callCounts struct {
	Total int
	ByOp  map[string]int
}

func countCalls(srv *awstest.Server) callCounts {
	c := callCounts{Total: srv.TotalCalls(), ByOp: map[string]int{}}
	known := 0
	for _, op := range awsOperations {
		c.ByOp[op] = srv.Calls(op)
		known += c.ByOp[op]
	}
	c.ByOp["other"] = c.Total - known
	for _, op := range parameterStoreOperations {
		if n := srv.Calls(op); n > 0 {
			c.ByOp[op] = n
		}
	}
	return c
}

func (c callCounts) String() string {
	if c.ByOp["GetParameters"]+c.ByOp["GetParameter"] > 0 {
		return fmt.Sprintf("%d (GetParameters %d, GetParameter %d, DescribeParameters %d)",
			c.Total, c.ByOp["GetParameters"], c.ByOp["GetParameter"], c.ByOp["DescribeParameters"])
	}
	return fmt.Sprintf("%d (BatchGetSecretValue %d, GetSecretValue %d, ListSecrets %d, other %d)",
		c.Total, c.ByOp["BatchGetSecretValue"], c.ByOp["GetSecretValue"], c.ByOp["ListSecrets"], c.ByOp["DescribeSecret"]+c.ByOp["other"])
}

// runExternal creates n ExternalSecrets (one data ref each, to a remote
// secret of its own) on one AWS store, then measures the controller's cold
// start until all are Ready and, when refresh > 0, the next refresh cycle.
func (h *harness) runExternal(t *testing.T, srv *awstest.Server, n int, refresh time.Duration) *externalRun {
	t.Helper()
	run := &externalRun{N: n, Refresh: refresh}
	ns := h.namespace(t, fmt.Sprintf("es-%d", n))
	defer h.cleanup(t, ns)
	interval := refresh
	if interval == 0 {
		interval = time.Hour
	}
	if err := h.createExternal(srv, ns, n, interval); err != nil {
		t.Fatal(err)
	}
	srv.ResetCalls()
	cold, p, err := h.coldStartKeep(t, fmt.Sprintf("es-%d", n), trackSpec{ns, &v1alpha1.ExternalSecret{}, n, externalReady})
	if err != nil {
		t.Fatal(err)
	}
	defer p.kill()
	run.Cold, run.Calls = cold, countCalls(srv)
	t.Logf("ExternalSecrets N=%d: cold start %s; provider calls %s", n, cold, run.Calls)
	h.checkSynced(t, ns, n)
	if run.Calls.Total >= n {
		t.Errorf("%d ExternalSecrets cost %d provider calls; reads are not being batched", n, run.Calls.Total)
	}

	if refresh > 0 {
		if err := h.refreshCycle(t, p, srv, run); err != nil {
			t.Error(err)
		}
	}
	if err := p.stop(); err != nil {
		t.Error(err)
	}
	return run
}

// refreshCycle waits until every ExternalSecret has synced once more after
// the first sync and counts the provider calls of that cycle.
func (h *harness) refreshCycle(t *testing.T, p *controllerProc, srv *awstest.Server, run *externalRun) error {
	before, err := p.scrape()
	if err != nil {
		return err
	}
	srv.ResetCalls()
	synced := before.sum("kseal_externalsecret_sync_total", "result", "success")
	start := time.Now()
	timeout := run.Refresh + run.Refresh/5 + 5*time.Minute
	_, err = waitMetrics(p, timeout, "a refresh of every ExternalSecret", func(m metricSet) bool {
		return m.sum("kseal_externalsecret_sync_total", "result", "success") >= synced+float64(run.N) && queueIdle(m, "externalsecret")
	})
	if err != nil {
		return err
	}
	run.RefreshCalls = countCalls(srv)
	after, err := p.scrape()
	if err != nil {
		return err
	}
	run.RefreshWrites = map[string]float64{}
	for method, v := range after.by("rest_client_requests_total", "method") {
		if d := v - before.by("rest_client_requests_total", "method")[method]; d > 0 && method != "GET" && method != "LIST" && method != "WATCH" {
			run.RefreshWrites[method] = d
		}
	}
	t.Logf("ExternalSecrets N=%d: refresh cycle (refreshInterval %v, done %v after the first sync): provider calls %s, API writes %s",
		run.N, run.Refresh, time.Since(start).Round(time.Second), run.RefreshCalls, formatCounts(run.RefreshWrites))
	return nil
}

// createExternal makes n remote secrets and, in ns, a credentials Secret, a
// SecretStore pointing at srv and n ExternalSecrets.
func (h *harness) createExternal(srv *awstest.Server, ns string, n int, refresh time.Duration) error {
	service := v1alpha1.AWSService(*flagESService)
	if err := createRemote(srv, service, ns, n); err != nil {
		return fmt.Errorf("create remote values: %w", err)
	}
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-creds", Namespace: ns},
		StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey},
	}
	store := &v1alpha1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: "aws", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: service, Region: srv.Region, Endpoint: srv.URL,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: creds.Name, Key: "id"},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: creds.Name, Key: "key"},
			}},
		}}},
	}
	for _, obj := range []client.Object{creds, store} {
		if err := h.env.Client.Create(ctx, obj); err != nil {
			return err
		}
	}
	return parallel(n, createWorkers, func(i int) error {
		es := &v1alpha1.ExternalSecret{
			ObjectMeta: metav1.ObjectMeta{Name: externalName(i), Namespace: ns},
			Spec: v1alpha1.ExternalSecretSpec{
				RefreshInterval: &metav1.Duration{Duration: refresh},
				SecretStoreRef:  v1alpha1.SecretStoreRef{Name: store.Name},
				Data: []v1alpha1.ExternalSecretData{{
					SecretKey: "value",
					RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: remoteKey(service, ns, i)},
				}},
			},
		}
		return h.env.Client.Create(ctx, es)
	})
}

// createRemote makes the n remote values in Secrets Manager or Parameter
// Store (SecureString parameters).
func createRemote(srv *awstest.Server, service v1alpha1.AWSService, ns string, n int) error {
	if service == v1alpha1.AWSServiceParameterStore {
		admin := srv.SSMAdmin()
		return parallel(n, createWorkers, func(i int) error {
			_, err := admin.PutParameter(ctx, &ssm.PutParameterInput{
				Name: awssdk.String(remoteKey(service, ns, i)), Value: awssdk.String(remoteValue(i)),
				Type: ssmtypes.ParameterTypeSecureString, Overwrite: awssdk.Bool(true),
			})
			return err
		})
	}
	admin := srv.Admin()
	return parallel(n, createWorkers, func(i int) error {
		_, err := admin.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: awssdk.String(remoteName(ns, i)), SecretString: awssdk.String(remoteValue(i)),
		})
		return err
	})
}

// remoteKey is the remote name of ExternalSecret i: parameter names are
// paths.
func remoteKey(service v1alpha1.AWSService, ns string, i int) string {
	if service == v1alpha1.AWSServiceParameterStore {
		return "/" + remoteName(ns, i)
	}
	return remoteName(ns, i)
}

func externalName(i int) string          { return fmt.Sprintf("app-%05d", i) }
func remoteName(ns string, i int) string { return fmt.Sprintf("scale/%s/app-%05d", ns, i) }
func remoteValue(i int) string           { return fmt.Sprintf("remote-value-%05d-%x", i, i*7919) }

// checkSynced compares the first and the last Secret with the remote value.
func (h *harness) checkSynced(t *testing.T, ns string, n int) {
	t.Helper()
	for _, i := range []int{0, n - 1} {
		got := &corev1.Secret{}
		if err := h.env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: externalName(i)}, got); err != nil {
			t.Errorf("Secret %s: %v", externalName(i), err)
			continue
		}
		if string(got.Data["value"]) != remoteValue(i) {
			t.Errorf("Secret %s does not hold the remote value", externalName(i))
		}
	}
}
