package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
)

// clientCertPEM is a self-signed TLS client certificate and its key.
func clientCertPEM(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "kseal-e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// startTLSVault starts a Vault dev server with TLS (which verifies client
// certificates for cert auth), or skips like startVault.
func startTLSVault(t *testing.T) (*vaulttest.Server, *vaultapi.Client) {
	t.Helper()
	if _, err := vaulttest.Binary(); err != nil {
		if requireTools() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	srv, err := vaulttest.StartTLS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	vc, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	return srv, vc
}

// TestExternalSecret_vaultUserPassCert syncs from a real Vault over TLS
// with userPass and cert logins, the CA from caProvider (a ConfigMap, a
// Secret), and checks the refusals: ldap and iam with their alternative, a
// second login method, a cert in another namespace, and a
// ClusterSecretStore caProvider without a namespace.
func TestExternalSecret_vaultUserPassCert(t *testing.T) {
	srv, vc := startTLSVault(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-vault-auth")
	certPEM, keyPEM := clientCertPEM(t)
	setupVaultLogins(t, vc, certPEM)
	for _, o := range []*corev1.Secret{
		secret(ns, "userpass", map[string]string{"password": "pw-" + canary("userpass")}),
		secret(ns, "client", map[string]string{"tls.crt": string(certPEM), "tls.key": string(keyPEM)}),
		secret(ns, "vault-ca", map[string]string{"ca.crt": string(srv.CACert)}),
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "vault-ca", Namespace: ns}, Data: map[string]string{"ca.crt": string(srv.CACert)}}); err != nil {
		t.Fatal(err)
	}
	caConfigMap := &v1alpha1.CAProvider{Type: v1alpha1.CAProviderConfigMap, Name: "vault-ca", Key: "ca.crt"}
	caSecret := &v1alpha1.CAProvider{Type: v1alpha1.CAProviderSecret, Name: "vault-ca", Key: "ca.crt"}
	userPass := &v1alpha1.VaultUserPassAuth{Username: "app", SecretRef: &v1alpha1.SecretKeySelector{Name: "userpass", Key: "password"}}
	cert := &v1alpha1.VaultCertAuth{VaultRole: "app", ClientCert: &v1alpha1.SecretKeySelector{Name: "client", Key: "tls.crt"},
		SecretRef: &v1alpha1.SecretKeySelector{Name: "client", Key: "tls.key"}}
	store := func(name string, ca *v1alpha1.CAProvider, auth v1alpha1.VaultAuth) *v1alpha1.SecretStore {
		s := vaultStore(ns, name, srv.Addr, auth)
		s.Spec.Provider.Vault.CAProvider = ca
		return s
	}
	good := []*v1alpha1.SecretStore{
		store("userpass", caConfigMap, v1alpha1.VaultAuth{VaultMoreAuth: v1alpha1.VaultMoreAuth{UserPass: userPass}}),
		store("cert", caSecret, v1alpha1.VaultAuth{VaultMoreAuth: v1alpha1.VaultMoreAuth{Cert: cert}}),
	}
	otherNS := *cert
	otherNS.ClientCert = &v1alpha1.SecretKeySelector{Name: "client", Key: "tls.crt", Namespace: controllerNamespace}
	refused := map[*v1alpha1.SecretStore]string{
		store("ldap", caConfigMap, v1alpha1.VaultAuth{VaultMoreAuth: v1alpha1.VaultMoreAuth{Ldap: userPass}}):                                                                               "use userPass with path set to the LDAP auth mount",
		store("two", caConfigMap, v1alpha1.VaultAuth{VaultMoreAuth: v1alpha1.VaultMoreAuth{UserPass: userPass, Cert: cert}}):                                                                "exactly one login method",
		store("other-ns", caConfigMap, v1alpha1.VaultAuth{VaultMoreAuth: v1alpha1.VaultMoreAuth{Cert: &otherNS}}):                                                                           "reads credentials from its own namespace",
		store("no-ca", nil, v1alpha1.VaultAuth{VaultMoreAuth: v1alpha1.VaultMoreAuth{UserPass: userPass}}):                                                                                  "certificate",
		store("wrong-pw", caConfigMap, v1alpha1.VaultAuth{VaultMoreAuth: v1alpha1.VaultMoreAuth{UserPass: &v1alpha1.VaultUserPassAuth{Username: "nobody", SecretRef: userPass.SecretRef}}}): "authentication failed",
	}
	for _, s := range good {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx, externalSecret(ns, "via-"+s.Name, s.Name, time.Hour, ref("password", "shop/db", "password"))); err != nil {
			t.Fatal(err)
		}
	}
	for s := range refused {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range good {
		storeReady(t, ns, s.Name, metav1.ConditionTrue)
		esCondition(t, ns, "via-"+s.Name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
		if got := getSecret(t, ns, "via-"+s.Name); string(got.Data["password"]) != canary("vault-auth-db") {
			t.Errorf("%s login: wrong or missing value", s.Name)
		}
	}
	for s, want := range refused {
		msg := storeReady(t, ns, s.Name, metav1.ConditionFalse).Message
		if !strings.Contains(msg, want) || strings.Contains(msg, canary("userpass")) {
			t.Errorf("store %s: Ready message %q, want %q and no password", s.Name, msg, want)
		}
	}

	// A ClusterSecretStore's CA must not come from whichever namespace uses
	// it: that namespace would choose which server gets the store's login.
	cluster := &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: ns + "-ca"}, Spec: store("x", caConfigMap,
		v1alpha1.VaultAuth{VaultMoreAuth: v1alpha1.VaultMoreAuth{UserPass: &v1alpha1.VaultUserPassAuth{Username: "app",
			SecretRef: &v1alpha1.SecretKeySelector{Name: "userpass", Key: "password", Namespace: ns}}}}).Spec}
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	if msg := clusterStoreReady(t, cluster.Name, metav1.ConditionFalse).Message; !strings.Contains(msg, "caProvider of a ClusterSecretStore needs namespace") {
		t.Errorf("cluster store caProvider without namespace: %q", msg)
	}
}

// setupVaultLogins stores shop/db and enables userpass (user app) and cert
// (role app, trusting certPEM) logins with a policy that reads it.
func setupVaultLogins(t *testing.T, vc *vaultapi.Client, certPEM []byte) {
	t.Helper()
	if _, err := vc.KVv2("secret").Put(ctx, "shop/db", map[string]any{"password": canary("vault-auth-db")}); err != nil {
		t.Fatal(err)
	}
	if err := vc.Sys().PutPolicy("read-shop", `path "secret/data/shop/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	for mount, typ := range map[string]string{"userpass": "userpass", "cert": "cert"} {
		if err := vc.Sys().EnableAuthWithOptions(mount, &vaultapi.EnableAuthOptions{Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range map[string]map[string]any{
		"auth/userpass/users/app": {"password": "pw-" + canary("userpass"), "token_policies": "read-shop"},
		"auth/cert/certs/app":     {"certificate": string(certPEM), "token_policies": "read-shop"},
	} {
		if _, err := vc.Logical().Write(p, data); err != nil {
			t.Fatal(err)
		}
	}
}
