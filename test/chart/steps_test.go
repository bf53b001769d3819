package chart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
)

// A step is one thing the controller must manage with the permissions it
// runs with; it returns an error saying what did not happen.
type step struct {
	name       string
	needsVault bool
	do         func(s *session) error
}

// session is one run of the steps against one controller process.
type session struct {
	p       *process
	timeout time.Duration
	cert    []byte
	vault   *vaultSetup
	tmp     string
	logf    func(format string, args ...any)
}

// vaultSetup is a Vault dev server with a KV secret, a token for it and a
// Kubernetes login role bound to service account "app" in every namespace.
type vaultSetup struct {
	srv *vaulttest.Server
}

// steps are run in order; each later one needs the earlier ones.
var steps = []step{
	{"ready", false, stepReady},
	{"sealedsecret", false, stepSealedSecret},
	{"event", false, stepEvent},
	{"sopssecret", false, stepSopsSecret},
	{"clusterexternalsecret", false, stepClusterExternalSecret},
	{"externalsecret-token", true, stepExternalSecretToken},
	{"externalsecret-kubernetes-auth", true, stepExternalSecretKubernetesAuth},
	{"clustersecretstore-namespace-selector", true, stepClusterStoreSelector},
	{"externalsecret-deletion-policy", true, stepDeletionPolicy},
}

// runSteps runs the steps in order and returns the name of the first that
// fails, with its error ("" and nil when all pass). Steps that need Vault
// are left out when s.vault is nil.
func runSteps(s *session) (string, error) {
	for _, st := range steps {
		if st.needsVault && s.vault == nil {
			continue
		}
		if err := st.do(s); err != nil {
			return st.name, err
		}
		s.logf("step %s: done", st.name)
	}
	return "", nil
}

// newNamespace creates a namespace with a generated name.
func newNamespace(prefix string, labels map[string]string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Labels: labels}}
	err := env.Client.Create(ctx, ns)
	return ns.Name, err
}

// stepReady: /readyz answers 200 (keys loaded) and the API serves the
// certificate.
func stepReady(s *session) error {
	if err := poll(s.timeout, "readyz", func() (bool, error) {
		_, err := httpGet(s.p.healthURL + "/readyz")
		return err == nil, err
	}); err != nil {
		return err
	}
	cert, err := httpGet(s.p.apiURL + "/v1/cert.pem")
	s.cert = cert
	return err
}

// stepSealedSecret: a Secret sealed with the served certificate unseals.
func stepSealedSecret(s *session) error {
	ns, err := newNamespace("sealed", nil)
	if err != nil {
		return err
	}
	certPath := filepath.Join(s.tmp, "cert.pem")
	if err := os.WriteFile(certPath, s.cert, 0o600); err != nil {
		return err
	}
	in, _ := yaml.Marshal(&corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, StringData: map[string]string{"password": "sealed-value"}})
	var out, errOut bytes.Buffer
	if code := cli.Main(ctx, []string{"seal", "--cert", certPath}, bytes.NewReader(in), &out, &errOut); code != 0 {
		return fmt.Errorf("kseal seal: %s", errOut.String())
	}
	ss, err := sealedsecret.DecodeSealedSecret(out.Bytes())
	if err != nil {
		return err
	}
	if err := env.Client.Create(ctx, ss); err != nil {
		return err
	}
	return poll(s.timeout, "SealedSecret Ready and its Secret written", func() (bool, error) {
		got := &v1alpha1.SealedSecret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, got); err != nil {
			return false, err
		}
		return ready(got.Status.Conditions) && secretHas(ns, "db", "password", "sealed-value"), nil
	})
}

// stepEvent: a SealedSecret that cannot be unsealed gets a Warning event.
func stepEvent(s *session) error {
	ns, err := newNamespace("event", nil)
	if err != nil {
		return err
	}
	bad := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "corrupt", Namespace: ns},
		Spec: v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"x": "not-base64!"}}}
	if err := env.Client.Create(ctx, bad); err != nil {
		return err
	}
	return poll(s.timeout, "Warning event on a corrupt SealedSecret", func() (bool, error) {
		var evs corev1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "corrupt" && e.Type == corev1.EventTypeWarning {
				return true, nil
			}
		}
		return false, nil
	})
}

// stepSopsSecret: a SOPS document encrypted to the certificate's recipient
// is decrypted in the cluster.
func stepSopsSecret(s *session) error {
	ns, err := newNamespace("sops", nil)
	if err != nil {
		return err
	}
	cert, err := keys.ParseCertificate(s.cert, time.Now())
	if err != nil {
		return err
	}
	r, _ := cert.SopsRecipient()
	if r == nil {
		return fmt.Errorf("the certificate has no SOPS recipient")
	}
	plain := []byte("kseal.dev/scope: " + ns + "/app\ntoken: sops-value\n")
	doc := sopstest.MustEncrypt(plain, sops.FormatYAML, sopstest.Options{Recipients: []string{r.String()}})
	obj := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}, Spec: v1alpha1.SopsSecretSpec{Sops: string(doc)}}
	if err := env.Client.Create(ctx, obj); err != nil {
		return err
	}
	return poll(s.timeout, "SopsSecret Ready and its Secret written", func() (bool, error) {
		got := &v1alpha1.SopsSecret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, got); err != nil {
			return false, err
		}
		return ready(got.Status.Conditions) && secretHas(ns, "app", "token", "sops-value"), nil
	})
}

func ready(conds []metav1.Condition) bool {
	c := apimeta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue
}

func secretHas(ns, name, key, value string) bool {
	sec := &corev1.Secret{}
	return env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sec) == nil && string(sec.Data[key]) == value
}

// externalSecretReady creates an ExternalSecret of shop/db's password from
// the store and waits until it is synced.
func externalSecretReady(s *session, ns, store, kind string) error {
	es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: v1alpha1.ExternalSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: time.Hour},
			SecretStoreRef:  v1alpha1.SecretStoreRef{Name: store, Kind: kind},
			Data:            []v1alpha1.ExternalSecretData{{SecretKey: "password", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "shop/db", Property: "password"}}},
		}}
	if err := env.Client.Create(ctx, es); err != nil {
		return err
	}
	return poll(s.timeout, "ExternalSecret from "+kind+" "+store+" Ready", func() (bool, error) {
		got := &v1alpha1.ExternalSecret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, got); err != nil {
			return false, err
		}
		c := apimeta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
		if c != nil && c.Status != metav1.ConditionTrue {
			return false, fmt.Errorf("%s: %s", c.Reason, c.Message)
		}
		return ready(got.Status.Conditions) && secretHas(ns, "db", "password", "vault-value"), nil
	})
}

func vaultProvider(addr string, auth v1alpha1.VaultAuth) v1alpha1.SecretStoreProvider {
	return v1alpha1.SecretStoreProvider{Vault: &v1alpha1.VaultProvider{Server: addr, Path: "secret", Version: v1alpha1.VaultKVv2, Auth: auth}}
}

// stepExternalSecretToken: a SecretStore that logs in to Vault with a token
// kept in a Secret of its namespace.
func stepExternalSecretToken(s *session) error {
	ns, err := newNamespace("es-token", nil)
	if err != nil {
		return err
	}
	tok := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: ns}, StringData: map[string]string{"token": s.vault.srv.RootToken}}
	store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: vaultProvider(s.vault.srv.Addr, v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "vault-token", Key: "token"}})}}
	for _, o := range []client.Object{tok, store} {
		if err := env.Client.Create(ctx, o); err != nil {
			return err
		}
	}
	return externalSecretReady(s, ns, "vault", "")
}

// stepExternalSecretKubernetesAuth: a SecretStore that logs in to Vault
// with a token kseal requests for the namespace's service account "app".
func stepExternalSecretKubernetesAuth(s *session) error {
	ns, err := newNamespace("es-k8s", nil)
	if err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}
	store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: vaultProvider(s.vault.srv.Addr, v1alpha1.VaultAuth{Kubernetes: &v1alpha1.VaultKubernetesAuth{
			Role: "shop", ServiceAccountRef: &v1alpha1.ServiceAccountSelector{Name: "app"}}})}}
	for _, o := range []client.Object{sa, store} {
		if err := env.Client.Create(ctx, o); err != nil {
			return err
		}
	}
	return externalSecretReady(s, ns, "vault", "")
}

// stepClusterStoreSelector: a ClusterSecretStore open to namespaces by
// label serves an ExternalSecret in a labelled namespace.
func stepClusterStoreSelector(s *session) error {
	ns, err := newNamespace("es-cluster", map[string]string{"kseal-test/vault": "allowed"})
	if err != nil {
		return err
	}
	tok := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token-" + ns, Namespace: "kseal-system"}, StringData: map[string]string{"token": s.vault.srv.RootToken}}
	if err := env.Client.Create(ctx, tok); err != nil {
		return err
	}
	store := &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.SecretStoreSpec{
			Provider: vaultProvider(s.vault.srv.Addr, v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: tok.Name, Key: "token", Namespace: "kseal-system"}}),
			Conditions: []v1alpha1.ClusterSecretStoreCondition{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kseal-test/vault": "allowed"}}}},
		}}
	if err := env.Client.Create(ctx, store); err != nil {
		return err
	}
	return externalSecretReady(s, ns, ns, v1alpha1.ClusterSecretStoreKind)
}

// stepDeletionPolicy: an ExternalSecret with deletionPolicy Delete whose
// remote value is deleted has its Secret deleted.
func stepDeletionPolicy(s *session) error {
	ns, err := newNamespace("es-gone", nil)
	if err != nil {
		return err
	}
	vc, err := s.vault.srv.Client()
	if err != nil {
		return err
	}
	path := "gone/" + ns
	if _, err := vc.KVv2("secret").Put(ctx, path, map[string]any{"password": "vault-value"}); err != nil {
		return err
	}
	tok := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: ns}, StringData: map[string]string{"token": s.vault.srv.RootToken}}
	store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: vaultProvider(s.vault.srv.Addr, v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "vault-token", Key: "token"}})}}
	es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: v1alpha1.ExternalSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: 2 * time.Second},
			SecretStoreRef:  v1alpha1.SecretStoreRef{Name: "vault"},
			Target:          v1alpha1.ExternalSecretTarget{DeletionPolicy: v1alpha1.DeletionPolicyDelete},
			Data:            []v1alpha1.ExternalSecretData{{SecretKey: "password", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: path, Property: "password"}}},
		}}
	for _, o := range []client.Object{tok, store, es} {
		if err := env.Client.Create(ctx, o); err != nil {
			return err
		}
	}
	if err := poll(s.timeout, "ExternalSecret with deletionPolicy Delete synced", func() (bool, error) {
		return secretHas(ns, "db", "password", "vault-value"), nil
	}); err != nil {
		return err
	}
	if err := vc.KVv2("secret").DeleteMetadata(ctx, path); err != nil {
		return err
	}
	return poll(s.timeout, "Secret deleted once its remote value is gone", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &corev1.Secret{})
		return apierrors.IsNotFound(err), err
	})
}

// setUpVault starts a Vault dev server with the secret shop/db and a
// Kubernetes login (role "shop" for service accounts "app" in any
// namespace, audience vault) that Vault checks with a TokenReview.
func setUpVault(bg context.Context) (*vaultSetup, func(), error) {
	srv, err := vaulttest.Start()
	if err != nil {
		return nil, nil, err
	}
	stop := func() { _ = srv.Stop() }
	err = func() error {
		vc, err := srv.Client()
		if err != nil {
			return err
		}
		if _, err := vc.KVv2("secret").Put(bg, "shop/db", map[string]any{"password": "vault-value"}); err != nil {
			return err
		}
		if err := vc.Sys().PutPolicy("read-shop", `path "secret/data/shop/*" { capabilities = ["read"] }`); err != nil {
			return err
		}
		reviewer, err := reviewerToken(bg)
		if err != nil {
			return err
		}
		if err := vc.Sys().EnableAuthWithOptions("kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
			return err
		}
		if _, err := vc.Logical().Write("auth/kubernetes/config", map[string]any{
			"kubernetes_host": env.Config.Host, "kubernetes_ca_cert": string(env.Config.CAData), "token_reviewer_jwt": reviewer,
		}); err != nil {
			return err
		}
		_, err = vc.Logical().Write("auth/kubernetes/role/shop", map[string]any{
			"bound_service_account_names": "app", "bound_service_account_namespaces": "*",
			"audience": "vault", "token_policies": "read-shop", "token_ttl": "1h",
		})
		return err
	}()
	if err != nil {
		stop()
		return nil, nil, err
	}
	return &vaultSetup{srv: srv}, stop, nil
}

// reviewerToken returns a token of a service account allowed to review
// tokens (system:auth-delegator), for Vault's Kubernetes login.
func reviewerToken(bg context.Context) (string, error) {
	ns := "vault-reviewer"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reviewer", Namespace: ns}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kseal-test-vault-reviewer"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reviewer", Namespace: ns}}},
	} {
		if err := env.Client.Create(bg, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", err
		}
	}
	return requestToken(ns, "reviewer")
}
