package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// fakeVault is a server a store author controls: it records the JWTs that
// logins send and answers like Vault, so a store using it becomes Ready.
type fakeVault struct {
	*httptest.Server
	mu   sync.Mutex
	jwts []string
}

func newFakeVault(t *testing.T) *fakeVault {
	t.Helper()
	fv := &fakeVault{}
	fv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/login"):
			var body struct {
				JWT string `json:"jwt"`
			}
			_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
			fv.mu.Lock()
			fv.jwts = append(fv.jwts, body.JWT)
			fv.mu.Unlock()
			_, _ = w.Write([]byte(`{"auth":{"client_token":"fake","lease_duration":3600,"renewable":false}}`))
		case strings.HasSuffix(r.URL.Path, "/lookup-self"):
			_, _ = w.Write([]byte(`{"data":{"id":"fake"}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[]}`))
		}
	}))
	t.Cleanup(fv.Close)
	return fv
}

func (fv *fakeVault) received() []string {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	return append([]string(nil), fv.jwts...)
}

// jwtAudiences decodes the aud claim of a service account token.
func jwtAudiences(t *testing.T, tok string) []string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Aud
}

// authenticatesToAPIServer reports whether the API server accepts tok as a
// credential for itself (a TokenReview with its own audiences).
func authenticatesToAPIServer(t *testing.T, kube kubernetes.Interface, tok string) bool {
	t.Helper()
	tr, err := kube.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: tok}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Authenticated
}

// apiServerAudience is the audience the test API server gives its own
// tokens, read from a token requested without audiences.
func apiServerAudience(t *testing.T, kube kubernetes.Interface, ns, sa string) string {
	t.Helper()
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	auds := jwtAudiences(t, tr.Status.Token)
	if len(auds) == 0 {
		t.Fatal("API server token without audience")
	}
	return auds[0]
}

func clusterStoreReady(t testing.TB, name string, status metav1.ConditionStatus) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	waitFor(t, 60*time.Second, "ClusterSecretStore "+name+" Ready="+string(status), func() bool {
		s := &v1alpha1.ClusterSecretStore{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, s); err != nil {
			return false
		}
		cond = apimeta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.Status == status && cond.ObservedGeneration == s.Generation
	})
	return cond
}

func kubernetesAuth(sa v1alpha1.ServiceAccountSelector) v1alpha1.VaultAuth {
	return v1alpha1.VaultAuth{Kubernetes: &v1alpha1.VaultKubernetesAuth{Role: "app", ServiceAccountRef: &sa}}
}

// TestStorePolicy_tokenAudience: a SecretStore's service account tokens are
// for the provider's audience only. A store asking for the API server's own
// audience (a token its server could use against this cluster) is refused,
// the token it gets otherwise does not authenticate to the API server, and
// a ClusterSecretStore cannot ask for the API server's audience either.
func TestStorePolicy_tokenAudience(t *testing.T) {
	fv := newFakeVault(t)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	c := startController(t, controllers.Options{Stores: controllers.StorePolicy{VaultAllowHTTP: true}})
	defer c.stop()
	ns := newNamespace(t, "policy-aud")
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	apiAud := apiServerAudience(t, kube, ns, "app")

	plain := vaultStore(ns, "plain", fv.URL, kubernetesAuth(v1alpha1.ServiceAccountSelector{Name: "app"}))
	greedy := vaultStore(ns, "greedy", fv.URL, kubernetesAuth(v1alpha1.ServiceAccountSelector{Name: "app", Audiences: []string{apiAud}}))
	awsGreedy := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "aws-greedy", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: "us-east-1", Role: "arn:aws:iam::000000000000:role/app",
			Endpoint: fv.URL, STSEndpoint: fv.URL,
			Auth: v1alpha1.AWSAuth{JWT: &v1alpha1.AWSJWTAuth{ServiceAccountRef: v1alpha1.ServiceAccountSelector{Name: "app", Audiences: []string{apiAud}}}},
		}}}}
	for _, s := range []*v1alpha1.SecretStore{plain, greedy, awsGreedy} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	storeReady(t, ns, "plain", metav1.ConditionTrue)
	for _, name := range []string{"greedy", "aws-greedy"} {
		cond := storeReady(t, ns, name, metav1.ConditionFalse)
		if cond.Reason != v1alpha1.ReasonStoreInvalid || !strings.Contains(cond.Message, "audience") {
			t.Errorf("%s: %s: %s", name, cond.Reason, cond.Message)
		}
	}
	es := externalSecret(ns, "greedy", "greedy", time.Hour, ref("x", "app", "x"))
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "greedy", metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)

	// A ClusterSecretStore may choose audiences, but not the API server's.
	css := &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: ns + "-greedy"},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{Vault: &v1alpha1.VaultProvider{
			Server: fv.URL, Path: "secret", Auth: kubernetesAuth(v1alpha1.ServiceAccountSelector{Name: "app", Namespace: ns, Audiences: []string{apiAud}})}}}}
	if err := env.Client.Create(ctx, css); err != nil {
		t.Fatal(err)
	}
	if cond := clusterStoreReady(t, css.Name, metav1.ConditionFalse); !strings.Contains(cond.Message, "API server") {
		t.Errorf("ClusterSecretStore: %s", cond.Message)
	}

	jwts := fv.received()
	if len(jwts) == 0 {
		t.Fatal("the store server received no login")
	}
	for _, tok := range jwts {
		if auds := jwtAudiences(t, tok); len(auds) != 1 || auds[0] != controllers.DefaultVaultAudience {
			t.Errorf("the store server received a token for %v", auds)
		}
		if authenticatesToAPIServer(t, kube, tok) {
			t.Error("the store server received a token that authenticates to the API server")
		}
	}
}

// TestStorePolicy_references: a SecretStore reads only its own namespace
// (a reference naming another is refused), and does not get the
// controller's own AWS credentials unless the admin allows it.
func TestStorePolicy_references(t *testing.T) {
	srv := awstest.NewServer(t)
	// The controller's own credentials, as IRSA or an instance profile
	// would give them: here they open the emulator.
	t.Setenv("AWS_ACCESS_KEY_ID", awstest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awstest.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	c := startController(t, controllers.Options{})
	ns, other := newNamespace(t, "policy-ref"), newNamespace(t, "policy-other")
	srv.CreateSecret(t, ns+"/v", canary("policy-ref"), nil)
	for _, n := range []string{ns, other} {
		creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: n},
			StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey}}
		if err := env.Client.Create(ctx, creds); err != nil {
			t.Fatal(err)
		}
	}
	aws := func(name string, auth v1alpha1.AWSAuth) *v1alpha1.SecretStore {
		return &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
				Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL, Auth: auth}}}}
	}
	cross := aws("cross", v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
		AccessKeyID:     v1alpha1.SecretKeySelector{Name: "creds", Key: "id", Namespace: other},
		SecretAccessKey: v1alpha1.SecretKeySelector{Name: "creds", Key: "key", Namespace: other},
	}})
	own := aws("own", v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
		AccessKeyID:     v1alpha1.SecretKeySelector{Name: "creds", Key: "id", Namespace: ns},
		SecretAccessKey: v1alpha1.SecretKeySelector{Name: "creds", Key: "key"},
	}})
	ambient := aws("ambient", v1alpha1.AWSAuth{})
	for _, s := range []*v1alpha1.SecretStore{cross, own, ambient} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx, externalSecret(ns, s.Name, s.Name, time.Hour, ref("v", ns+"/v", ""))); err != nil {
			t.Fatal(err)
		}
	}
	storeReady(t, ns, "own", metav1.ConditionTrue)
	esCondition(t, ns, "own", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	for _, name := range []string{"cross", "ambient"} {
		if cond := storeReady(t, ns, name, metav1.ConditionFalse); cond.Reason != v1alpha1.ReasonStoreInvalid {
			t.Errorf("%s: %s: %s", name, cond.Reason, cond.Message)
		}
		esCondition(t, ns, name, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
		if getSecret(t, ns, name) != nil {
			t.Errorf("%s: a Secret was written", name)
		}
	}
	c.stop()

	// With the admin's flag, the controller's credentials serve SecretStores.
	c = startController(t, controllers.Options{Stores: controllers.StorePolicy{NamespacedDefaultCredentials: true}})
	defer c.stop()
	esCondition(t, ns, "ambient", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
}

// TestStorePolicy_servers: with --allowed-store-servers, a SecretStore may
// name only the listed servers; and an http:// Vault needs the admin's
// opt-in.
func TestStorePolicy_servers(t *testing.T) {
	srv := awstest.NewServer(t)
	fv := newFakeVault(t)
	c := startController(t, controllers.Options{Stores: controllers.StorePolicy{AllowedServers: []string{srv.URL}}})
	ns := newNamespace(t, "policy-srv")
	srv.CreateSecret(t, ns+"/v", canary("policy-srv"), nil)
	awsStore(t, srv, ns, "listed")
	tok := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: ns}, StringData: map[string]string{"token": "t"}}
	if err := env.Client.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	vaultAuth := v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "vault-token", Key: "token"}}
	unlisted := vaultStore(ns, "unlisted", fv.URL, vaultAuth)
	if err := env.Client.Create(ctx, unlisted); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"listed", "unlisted"} {
		if err := env.Client.Create(ctx, externalSecret(ns, name, name, time.Hour, ref("v", ns+"/v", ""))); err != nil {
			t.Fatal(err)
		}
	}
	esCondition(t, ns, "listed", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if cond := storeReady(t, ns, "unlisted", metav1.ConditionFalse); !strings.Contains(cond.Message, "--allowed-store-servers") {
		t.Errorf("unlisted server: %s", cond.Message)
	}
	esCondition(t, ns, "unlisted", metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	c.stop()

	// No allowlist, but no http opt-in: the http:// Vault is refused.
	c = startController(t, controllers.Options{})
	defer c.stop()
	httpStore := vaultStore(ns, "http", fv.URL, vaultAuth)
	if err := env.Client.Create(ctx, httpStore); err != nil {
		t.Fatal(err)
	}
	if cond := storeReady(t, ns, "http", metav1.ConditionFalse); !strings.Contains(cond.Message, "http") || cond.Reason != v1alpha1.ReasonStoreInvalid {
		t.Errorf("http Vault: %s: %s", cond.Reason, cond.Message)
	}
	if err := env.Client.Create(ctx, externalSecret(ns, "http", "http", time.Hour, ref("v", "app", "v"))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "http", metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
}
