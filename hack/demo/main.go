// Command demo is the cluster half of `make demo`: it starts a local
// kube-apiserver and etcd (no cluster needed), runs bin/kseal-controller
// against them, seals a Secret with bin/kseal using the controller's
// certificate, applies the SealedSecret, and prints the Secret the controller
// made and the SealedSecret's status, and a Deployment restarted by a new
// sealed value (rollout restarts). Then it syncs one ExternalSecret from a
// local AWS Secrets Manager emulator, renders a kustomize overlay whose
// Secret is SOPS-encrypted to the cluster's age recipient and applies it,
// and last syncs one from a Vault dev server (whose build hack/demo.sh may
// still be running: see waitForVault). Everything is stopped at the end.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
	"github.com/kseal-dev/kseal/test/envtestenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", args...)
}

func run() error {
	root, err := envtestenv.RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")
	work, err := os.MkdirTemp("", "kseal-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	step("Start a local control plane (kube-apiserver %s + etcd %s, built from source)", envtestenv.KubernetesVersion, envtestenv.EtcdVersion)
	env, err := envtestenv.Start(v1alpha1.AddToScheme)
	if err != nil {
		return err
	}
	defer func() {
		step("Stop the control plane")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		return err
	}
	ctx := context.Background()
	c := env.Client
	for _, ns := range []string{"kseal-system", "shop", "attacker"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	fmt.Println("CRDs installed from config/crd/bases; namespaces kseal-system, shop, attacker created.")

	step("Run kseal-controller (it creates the first key generation in kseal-system)")
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	probeAddr, err := freeAddr()
	if err != nil {
		return err
	}
	logFile := filepath.Join(work, "controller.log")
	logOut, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer logOut.Close()
	ctrlCmd := exec.Command(filepath.Join(bin, "kseal-controller"),
		"--kubeconfig", kubeconfig, "--namespace", "kseal-system", "--leader-elect=false",
		"--listen-addr", apiAddr, "--metrics-bind-address", "0", "--health-probe-bind-address", probeAddr,
		// The demo's Vault dev server listens on plain http on loopback.
		"--vault-allow-http",
		// Restart the workloads that opted in when a Secret's data changes.
		"--rollout-restarts", "--rollout-restart-debounce=1s")
	ctrlCmd.Stdout, ctrlCmd.Stderr = logOut, logOut
	if err := ctrlCmd.Start(); err != nil {
		return err
	}
	defer func() {
		step("Stop kseal-controller")
		_ = ctrlCmd.Process.Signal(syscall.SIGTERM)
		_ = ctrlCmd.Wait()
	}()
	url := "http://" + apiAddr
	if err := waitHTTP(url+"/healthz", 90*time.Second); err != nil {
		logs, _ := os.ReadFile(logFile)
		return fmt.Errorf("controller not healthy: %w\n%s", err, logs)
	}
	fmt.Printf("controller API on %s\n", url)
	if _, err := ksealCmd(bin, nil, "cert", "inspect", url+"/v1/cert.pem"); err != nil {
		return err
	}

	step("Seal a Secret with the CLI, using the running controller's certificate")
	secretYAML := []byte(`apiVersion: v1
kind: Secret
metadata:
  name: database
  namespace: shop
  labels:
    app: shop
type: Opaque
stringData:
  username: shop
  password: correct-horse-battery-staple
`)
	fmt.Print(string(secretYAML))
	sealed, err := ksealCmd(bin, secretYAML, "seal", "--controller-url", url)
	if err != nil {
		return err
	}
	fmt.Println("$ kseal seal --controller-url " + url + " < secret.yaml > sealed.yaml")
	for _, line := range strings.Split(string(sealed), "\n") {
		fmt.Println(line[:min(len(line), 100)])
	}

	step("Apply the SealedSecret (what kubectl apply or a sync engine does)")
	ss, err := sealedsecret.DecodeSealedSecret(sealed)
	if err != nil {
		return err
	}
	if err := c.Create(ctx, ss); err != nil {
		return err
	}
	if err := waitReady(ctx, c, "shop", "database"); err != nil {
		return err
	}

	step("The Secret the controller created%s", sinceStart())
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "database"}, &s); err != nil {
		return err
	}
	fmt.Printf("%s/%s type=%s labels=%v owner=%s/%s\n", s.Namespace, s.Name, s.Type, s.Labels, s.OwnerReferences[0].Kind, s.OwnerReferences[0].Name)
	for k, v := range s.Data {
		fmt.Printf("  %s: %s\n", k, v)
	}

	step("The SealedSecret's status")
	if err := printStatus(ctx, c, "shop", "database"); err != nil {
		return err
	}

	if err := demoReload(ctx, c, bin, url); err != nil {
		return err
	}

	step("The same SealedSecret copied to namespace attacker does not open")
	stolen := ss.DeepCopy()
	stolen.Namespace, stolen.ResourceVersion, stolen.UID = "attacker", "", ""
	if err := c.Create(ctx, stolen); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	if err := printStatus(ctx, c, "attacker", "database"); err != nil {
		return err
	}
	var none corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "attacker", Name: "database"}, &none); err == nil {
		return fmt.Errorf("a Secret was created in namespace attacker")
	}
	fmt.Println("no Secret in namespace attacker.")

	if err := demoAWS(ctx, c); err != nil {
		return err
	}
	if err := demoSops(ctx, c, bin, url, kubeconfig, work); err != nil {
		return err
	}
	// Last, as only this part needs the Vault binary (built in the
	// background while the rest ran).
	if err := demoVault(ctx, c); err != nil {
		return err
	}
	step("Demo done%s", sinceStart())
	return nil
}

// demoSops renders a kustomize overlay whose Secret is SOPS-encrypted to the
// cluster's age recipient, applies the output, and shows the Secret.
func demoSops(ctx context.Context, c client.Client, bin, url, kubeconfig, work string) error {
	step("SOPS: render a kustomize overlay with an encrypted Secret and apply it")
	certPEM, err := ksealCmd(bin, nil, "cert", "fetch", "--controller-url", url)
	if err != nil {
		return err
	}
	cert, err := keys.ParseCertificate(certPEM, time.Now())
	if err != nil {
		return err
	}
	recipient := cert.Sops.String()
	fmt.Printf("encrypting to the cluster's SOPS recipient %s...%s (from kseal cert inspect)\n", recipient[:16], recipient[len(recipient)-8:])
	plain := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: search\nstringData:\n  api-key: search-demo-key\n"
	enc, err := sopstest.Encrypt([]byte(plain), sops.FormatYAML, sopstest.Options{Recipients: []string{recipient}, EncryptedRegex: sopstest.SecretsOnly})
	if err != nil {
		return err
	}
	tree := filepath.Join(work, "gitops")
	files := map[string]string{
		"base/kustomization.yaml":          "resources:\n- search.enc.yaml\n- config.yaml\n",
		"base/config.yaml":                 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: search\ndata:\n  endpoint: https://search.example\n",
		"base/search.enc.yaml":             string(enc),
		"overlays/prod/kustomization.yaml": "namespace: shop\nresources:\n- ../../base\n",
	}
	for p, content := range files {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return err
		}
	}
	fmt.Println("base/search.enc.yaml (committed to git):")
	for _, line := range strings.Split(string(enc), "\n")[:8] {
		fmt.Println("  " + line[:min(len(line), 90)])
	}
	fmt.Println("$ kseal render --from-cluster overlays/prod | kubectl apply -f -")
	out, err := ksealCmd(bin, nil, "render", "--from-cluster", "--kubeconfig", kubeconfig, filepath.Join(tree, "overlays/prod"))
	if err != nil {
		return err
	}
	objs, err := decodeStream(out)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
		fmt.Printf("applied %s %s/%s\n", o.GetObjectKind().GroupVersionKind().Kind, o.GetNamespace(), o.GetName())
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "search"}, &s); err != nil {
		return err
	}
	fmt.Printf("Secret shop/search: api-key=%s\n", s.Data["api-key"])
	return nil
}

// demoAWS syncs one ExternalSecret from a local AWS Secrets Manager emulator.
func demoAWS(ctx context.Context, c client.Client) error {
	step("ExternalSecret: a value from AWS Secrets Manager (a local emulator)")
	srv := awstest.Start()
	defer srv.Close()
	name, value := "shop/payments", `{"api-key":"pk_live_demo_123","webhook-secret":"whsec_demo"}`
	if _, err := srv.Admin().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value}); err != nil {
		return err
	}
	fmt.Printf("remote secret %s = %s\n", name, value)
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "aws-creds", Namespace: "shop"},
		StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey}}
	store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "aws", Namespace: "shop"},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "id"},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "key"},
			}}}}}}
	es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "payments", Namespace: "shop"},
		Spec: v1alpha1.ExternalSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: time.Hour},
			SecretStoreRef:  v1alpha1.SecretStoreRef{Name: "aws"},
			Data: []v1alpha1.ExternalSecretData{{SecretKey: "api-key",
				RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: name, Property: "api-key"}}},
			DataFrom: []v1alpha1.ExternalSecretDataFromRemoteRef{{Extract: &v1alpha1.ExternalSecretDataRemoteRef{Key: name}}},
		}}
	for _, o := range []client.Object{creds, store, es} {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	printYAML(es.Spec)
	return showExternalSecret(ctx, c, "shop", "payments")
}

// demoVault syncs one ExternalSecret from a local Vault dev server.
func demoVault(ctx context.Context, c client.Client) error {
	step("ExternalSecret: a value from HashiCorp Vault (a local dev server)")
	if err := waitForVault(); err != nil {
		return err
	}
	srv, err := vaulttest.Start()
	if err != nil {
		return err
	}
	defer srv.Stop()
	vc, err := srv.Client()
	if err != nil {
		return err
	}
	if _, err := vc.KVv2("secret").Put(ctx, "shop/smtp", map[string]any{"password": "smtp-demo-pass", "user": "mailer"}); err != nil {
		return err
	}
	fmt.Println("vault kv put secret/shop/smtp user=mailer password=smtp-demo-pass")
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: "shop"},
		StringData: map[string]string{"token": srv.RootToken}}
	store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: "shop"},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{Vault: &v1alpha1.VaultProvider{
			Server: srv.Addr, Path: "secret", Version: v1alpha1.VaultKVv2,
			Auth: v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "vault-token", Key: "token"}}}}}}
	es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "smtp", Namespace: "shop"},
		Spec: v1alpha1.ExternalSecretSpec{
			SecretStoreRef: v1alpha1.SecretStoreRef{Name: "vault"},
			Target: v1alpha1.ExternalSecretTarget{Template: &v1alpha1.ExternalSecretTemplate{
				Data: map[string]string{"url": "smtp://{{ .user }}:{{ .password }}@mail.shop.example:587"}}},
			Data: []v1alpha1.ExternalSecretData{
				{SecretKey: "user", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "shop/smtp", Property: "user"}},
				{SecretKey: "password", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "shop/smtp", Property: "password"}},
			},
		}}
	for _, o := range []client.Object{token, store, es} {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	printYAML(es.Spec)
	return showExternalSecret(ctx, c, "shop", "smtp")
}

func printYAML(v any) {
	out, _ := yaml.Marshal(v)
	fmt.Print(string(out))
}

// showExternalSecret waits until the ExternalSecret is Ready and prints its
// Secret and status.
func showExternalSecret(ctx context.Context, c client.Client, ns, name string) error {
	deadline := time.Now().Add(60 * time.Second)
	var es v1alpha1.ExternalSecret
	for {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &es); err != nil {
			return err
		}
		if apimeta.IsStatusConditionTrue(es.Status.Conditions, v1alpha1.ConditionReady) {
			break
		}
		if time.Now().After(deadline) {
			printYAML(es.Status)
			return fmt.Errorf("ExternalSecret %s/%s not Ready after 60s", ns, name)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		return err
	}
	fmt.Printf("Secret %s/%s:\n", ns, name)
	for k, v := range s.Data {
		fmt.Printf("  %s: %s\n", k, v)
	}
	fmt.Println("status:")
	printYAML(es.Status)
	return nil
}

func ksealCmd(bin string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(bin, "kseal"), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if len(args) > 1 && args[1] == "inspect" {
		fmt.Print(out.String())
	}
	if err != nil {
		return nil, fmt.Errorf("kseal %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.Bytes(), nil
}

func waitReady(ctx context.Context, c client.Client, ns, name string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var ss v1alpha1.SealedSecret
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ss); err == nil &&
			apimeta.IsStatusConditionTrue(ss.Status.Conditions, v1alpha1.ConditionReady) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("SealedSecret %s/%s not Ready after 60s", ns, name)
}

func printStatus(ctx context.Context, c client.Client, ns, name string) error {
	var ss v1alpha1.SealedSecret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ss); err != nil {
		return err
	}
	out, err := yaml.Marshal(ss.Status)
	if err != nil {
		return err
	}
	fmt.Print(string(out))
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("GET %s: %s", url, resp.Status)
		} else {
			last = err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// decodeStream reads a YAML stream of manifests.
func decodeStream(stream []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var out []*unstructured.Unstructured
	for {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if raw != nil {
			out = append(out, &unstructured.Unstructured{Object: raw})
		}
	}
}
