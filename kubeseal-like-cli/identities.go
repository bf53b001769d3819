package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
)

// EnvAgeKey names the environment variable that may hold age identities
// for SOPS decryption, one per line. kseal reads no other variable for keys
// (not SOPS_AGE_KEY, not SOPS_AGE_KEY_FILE).
const EnvAgeKey = "KSEAL_AGE_KEY"

// identityFlags say where the age identities for SOPS decryption come from.
// All sources given are used together.
type identityFlags struct {
	// files are --age-key-file paths: age identity files, or key Secret
	// manifests (a backup of the controller's keys, or a Secret holding
	// *.agekey entries as for Flux).
	files []string
	// fromCluster reads the controller's key Secrets through the
	// kubeconfig.
	fromCluster bool
	// skipMACCheck decrypts documents whose MAC does not match.
	skipMACCheck bool
}

func (f *identityFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringArrayVar(&f.files, "age-key-file", nil, "age identity file (AGE-SECRET-KEY-1... or AGE-SECRET-KEY-PQ-1... lines) or key Secret manifest; repeat for several (also $"+EnvAgeKey+")")
	fs.BoolVar(&f.fromCluster, "from-cluster", false, "read the age identities of the controller's key Secrets (label "+v1alpha1.LabelSealingKey+"=active in --controller-namespace) through the kubeconfig")
	fs.BoolVar(&f.skipMACCheck, "skip-mac-check", false, "decrypt documents whose MAC does not match their values (the MAC detects values changed without sops)")
}

// errNoIdentity: a document needs decrypting and no identity was given.
var errNoIdentity = errors.New("no age identity to decrypt SOPS documents with")

// hintNoIdentity says how to give identities.
const hintNoIdentity = "pass --age-key-file FILE, set $" + EnvAgeKey + " to the identity (AGE-SECRET-KEY-...), or use --from-cluster to read the controller's keys with the kubeconfig"

// maxKeyFile bounds an identity file or key Secret manifest.
const maxKeyFile = 4 << 20

// identitySource loads identities from files, the environment and the
// cluster, once, when a document first needs them.
type identitySource struct {
	flags      *identityFlags
	controller *controllerFlags
	// getenv reads the environment (os.Getenv outside tests).
	getenv func(string) string

	once sync.Once
	// dec checks MACs unless --skip-mac-check; verified never does, for
	// documents whose file was verified as committed.
	dec, verified *sops.Decryptor
	err           error
}

// decryptor returns the Decryptor for all identities given, loading them
// on the first call. The error names the source that failed.
func (s *identitySource) decryptor(ctx context.Context) (*sops.Decryptor, error) {
	s.init(ctx)
	return s.dec, s.err
}

// verifiedDecryptor is decryptor without the MAC check, for documents that
// kustomize rewrote (it sorts keys, which changes the MAC) after kseal
// verified the MAC of the file they came from.
func (s *identitySource) verifiedDecryptor(ctx context.Context) (*sops.Decryptor, error) {
	s.init(ctx)
	return s.verified, s.err
}

func (s *identitySource) init(ctx context.Context) {
	s.once.Do(func() {
		ids, err := s.load(ctx)
		if err != nil {
			s.err = err
			return
		}
		if s.dec, s.err = sops.New(ids, sops.Options{SkipMACCheck: s.flags.skipMACCheck}); s.err != nil {
			return
		}
		s.verified, s.err = sops.New(ids, sops.Options{SkipMACCheck: true})
	})
}

func (s *identitySource) load(ctx context.Context) ([]age.Identity, error) {
	var ids []age.Identity
	for _, path := range s.flags.files {
		got, err := identitiesFromFile(path)
		if err != nil {
			return nil, withHint(err, "--age-key-file takes an age identity file (as age-keygen writes) or a key Secret manifest")
		}
		ids = append(ids, got...)
	}
	if v := strings.TrimSpace(s.getenv(EnvAgeKey)); v != "" {
		got, err := sops.ParseIdentities("$"+EnvAgeKey, []byte(v))
		if err != nil {
			return nil, withHint(err, "$%s holds age identities, one per line", EnvAgeKey)
		}
		ids = append(ids, got...)
	}
	if s.flags.fromCluster {
		got, err := identitiesFromCluster(ctx, s.controller)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	if len(ids) == 0 {
		return nil, withHint(errNoIdentity, hintNoIdentity)
	}
	return ids, nil
}

// identitiesFromFile reads an age identity file or a manifest of Secrets.
func identitiesFromFile(path string) ([]age.Identity, error) {
	data, err := readFileLimit(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	if looksLikeKeyManifest(data) {
		return identitiesFromManifest(path, data)
	}
	return sops.ParseIdentities(path, data)
}

// looksLikeKeyManifest tells a Kubernetes manifest from an identity file.
func looksLikeKeyManifest(data []byte) bool {
	t := bytes.TrimSpace(data)
	return bytes.HasPrefix(t, []byte("{")) || bytes.Contains(data, []byte("kind:")) || bytes.Contains(data, []byte("apiVersion:"))
}

// identitiesFromManifest reads the identities in the Secrets of a manifest
// (documents, or a List): see secretIdentities.
func identitiesFromManifest(path string, data []byte) ([]age.Identity, error) {
	secrets, err := manifestSecrets(path, data)
	if err != nil {
		return nil, err
	}
	var ids []age.Identity
	for i := range secrets {
		got, err := secretIdentities(&secrets[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ids = append(ids, got...)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s: no age identity found in its Secrets (expected an %s, %s or *.agekey entry)", path, keys.SecretKeySops, keys.SecretKeyAge)
	}
	return ids, nil
}

// manifestSecrets reads the Secrets of a manifest: documents, or Lists of
// them. Anything else is an error naming the document, never its content.
func manifestSecrets(path string, data []byte) ([]corev1.Secret, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var secrets []corev1.Secret
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: document %d: not valid YAML or JSON", path, doc)
		}
		if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		var list struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("%s: document %d: not a Kubernetes object", path, doc)
		}
		items := []json.RawMessage{raw}
		if strings.HasSuffix(list.Kind, "List") {
			items = list.Items
		}
		for i, item := range items {
			var s corev1.Secret
			if err := json.Unmarshal(item, &s); err != nil || s.Kind != "Secret" {
				return nil, fmt.Errorf("%s: document %d item %d: not a Secret", path, doc, i+1)
			}
			secrets = append(secrets, s)
		}
	}
	return secrets, nil
}

// secretIdentities returns the age identities a Secret holds for SOPS:
// *.agekey entries as Flux's decryption Secrets have them (a kseal key
// Secret's sops.agekey among them), and the age.key of a key Secret made
// before kseal separated v2 and SOPS identities. A key Secret's age.key is
// never used when it has a sops.agekey: that identity is for v2 only.
// Errors name the Secret and entry, never key material.
func secretIdentities(s *corev1.Secret) ([]age.Identity, error) {
	entries := map[string][]byte{}
	for k, v := range s.Data {
		entries[k] = v
	}
	for k, v := range s.StringData {
		entries[k] = []byte(v)
	}
	_, separate := entries[keys.SecretKeySops]
	var ids []age.Identity
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		if (k != keys.SecretKeyAge || separate) && filepath.Ext(k) != ".agekey" {
			continue
		}
		got, err := sops.ParseIdentities(fmt.Sprintf("Secret %s entry %s", keySecretName(s), k), entries[k])
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

func keySecretName(s *corev1.Secret) string {
	if s.Namespace == "" {
		return s.Name
	}
	return s.Namespace + "/" + s.Name
}

// identitiesFromCluster lists the controller's key Secrets (label
// kseal.dev/sealing-key=active in the controller namespace) with the
// kubeconfig's credentials and returns their SOPS identities. It needs list
// on secrets in that namespace.
func identitiesFromCluster(ctx context.Context, f *controllerFlags) ([]age.Identity, error) {
	items, err := keySecretsFromCluster(ctx, f)
	if err != nil {
		return nil, err
	}
	var ids []age.Identity
	for i := range items {
		s := &items[i]
		// The SOPS identity; a generation made before kseal separated
		// purposes has only age.key, which then serves SOPS too.
		field := keys.SecretKeySops
		raw := bytes.TrimSpace(s.Data[field])
		if len(raw) == 0 {
			field = keys.SecretKeyAge
			raw = bytes.TrimSpace(s.Data[field])
		}
		if len(raw) == 0 {
			continue // a sealed-secrets key: RSA only
		}
		got, err := sops.ParseIdentities(fmt.Sprintf("key Secret %s/%s %s", s.Namespace, s.Name, field), raw)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	if len(ids) == 0 {
		return nil, errNoClusterKey(f)
	}
	return ids, nil
}

// errNoClusterKey: no key Secret of the controller holds an age identity.
func errNoClusterKey(f *controllerFlags) error {
	selector := v1alpha1.LabelSealingKey + "=active"
	return withHint(fmt.Errorf("--from-cluster: no key Secret with an %s in namespace %s (label %s)", keys.SecretKeyAge, f.namespace, selector),
		"is the controller installed there? check --controller-namespace and --context")
}

// keySecretsFromCluster lists the controller's key Secrets with the
// kubeconfig's credentials.
func keySecretsFromCluster(ctx context.Context, f *controllerFlags) ([]corev1.Secret, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context}).ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, withHint(errors.New("--from-cluster: no kubeconfig found"),
			"pass --kubeconfig FILE (and --context); in a pod, kseal uses the service account")
	case err != nil:
		return nil, withHint(fmt.Errorf("--from-cluster: kubeconfig: %w", err), "check --kubeconfig and --context")
	}
	cfg.Timeout = requestTimeout
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("--from-cluster: %w", err)
	}
	selector := v1alpha1.LabelSealingKey + "=active"
	list, err := client.CoreV1().Secrets(f.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, withHint(fmt.Errorf("--from-cluster: list the key Secrets in namespace %s: %w", f.namespace, err),
			"the kubeconfig user (or service account) needs list on secrets in namespace %s; check --controller-namespace", f.namespace)
	}
	return list.Items, nil
}
