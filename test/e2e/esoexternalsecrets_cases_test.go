package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// esoPending are documented manifests whose kind or behaviour a test of its
// own checks (named here) with ESO's documented copies; this suite lists
// them and does not pass them.
var esoPending = map[string]string{
	"aws-sm-external-secret.yaml":           "metadataPolicy Fetch (AWS tags): TestMetadataFetch_aws",
	"aws-parameter-store-md-1.yaml":         "metadataPolicy Fetch on Parameter Store: refused with InvalidSpec (tags are not read)",
	"hashicorp-vault-md-1.yaml":             "metadataPolicy Fetch (Vault custom_metadata): TestMetadataFetch_vault",
	"generator-password-example.yaml":       "kind Password: TestPassword_esoManifests",
	"generator-password-multiple-keys.yaml": "kind Password: TestPassword_esoManifests",
	"full-cluster-external-secret.yaml":     "kind ClusterExternalSecret: TestClusterExternalSecret_esoManifests",
	"cluster-external-secret-fanout.yaml":   "kind ClusterExternalSecret: TestClusterExternalSecret_esoManifests",
}

// esoNotManifests are documentation texts that are not valid YAML as
// published: kubectl refuses them before any controller sees them, for ESO
// as for kseal.
var esoNotManifests = map[string]string{
	"full-external-secret.yaml":                        "ESO's field reference: it repeats the dataFrom key",
	"filterpem-template-v2-external-secret.yaml":       "nested double quotes in a double-quoted scalar",
	"filtercertchain-template-v2-external-secret.yaml": "nested double quotes in a double-quoted scalar (repaired and run: TestESOExternalSecrets_repairedSnippets)",
	"pkcs12-template-v2-external-secret.yaml":          "it repeats the tls.crt key (repaired and run: TestESOExternalSecrets_repairedSnippets)",
}

// Completions for the documentation's "# ..." fragments: the store, and
// where the fragment shows no remote reference, the one its template reads.
const (
	completeVault = `{"spec":{"secretStoreRef":{"name":"vault-backend","kind":"SecretStore"}}}`
	completeAWS   = `{"spec":{"secretStoreRef":{"name":"secretstore-sample","kind":"SecretStore"}}}`
)

// The JSON object of ESO's Vault guide ("assume its path is /dev/config").
const devConfig = `{"foo":{"nested":{"bar":"mysecret","baz":"bang"}}}`

var esoCases = map[string]esoCase{
	// AWS Secrets Manager guide (docs/provider/aws-secrets-manager.md).
	"aws-secrets-manager-md-1.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "production/api-key", value: "api-key-v1"}, {key: "production/api-key", value: canary("api-key-v2")}},
		want:   map[string]string{"previous-api-key": "api-key-v1", "current-api-key": canary("api-key-v2")}},
	"aws-secrets-manager-md-2.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "production/api-key", value: "first"},
			{key: "production/api-key", value: canary("pinned-version"), clientID: "123e4567-e89b-12d3-a456-426614174000"},
			{key: "production/api-key", value: "later"}},
		want: map[string]string{"api-key": canary("pinned-version")}},
	// The Anchore and Jenkins examples (docs/examples), on a
	// ClusterSecretStore.
	"aws-anchore-engine-access-credentials-external-secret.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "service/anchore-engine/engineAccess", value: `{"ANCHORE_ADMIN_USERNAME":"admin","ANCHORE_ADMIN_PASSWORD":"` + canary("anchore") + `"}`}},
		want:   map[string]string{"ANCHORE_ADMIN_USERNAME": "admin", "ANCHORE_ADMIN_PASSWORD": canary("anchore")}},
	"aws-jenkins-credential-sonarqube-api-token-external-secret.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "service/sonarqube/apiToken", value: canary("sonar")}},
		want:   map[string]string{"text": canary("sonar")},
		check:  wantMeta("jenkins.io/credentials-type", "secretText", "jenkins.io/credentials-description", "Sonar API token")},
	"aws-jenkins-credentials-harbor-chart-robot-external-secret.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "service/harbor/chartRobot", value: `{"username":"robot$chart","password":"` + canary("harbor") + `"}`}},
		want:   map[string]string{"username": "robot$chart", "password": canary("harbor")},
		check:  wantMeta("jenkins.io/credentials-type", "usernamePassword", "jenkins.io/credentials-description", "harbor chart robot access")},
	"aws-jenkins-credential-github-ssh-external-secret.yaml": {provider: esoSSM,
		remote: []esoRemote{{key: "/service/github/sshUserPrivateKeyUserName", value: "git"}, {key: "/service/github/sshUserPrivateKey", value: canary("ssh-key")}},
		want:   map[string]string{"username": "git", "privateKey": canary("ssh-key")},
		check:  wantMeta("jenkins.io/credentials-type", "basicSSHUserPrivateKey", "jenkins.io/credentials-description", "github-ssh-access key")},
	// The generic examples (docs/introduction, getallsecrets.md), on AWS.
	"basic-external-secret.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "provider-key", value: `{"provider-key-property":"current"}`},
			{key: "provider-key", value: `{"provider-key-property":"` + canary("staged") + `"}`, stage: "provider-key-version"},
			{key: "remote-key-in-the-provider", value: `{"username":"app","port":"5432"}`}},
		want: map[string]string{"secret-key-to-be-managed": canary("staged"), "username": "app", "port": "5432"}},
	"getallsecrets-find-by-name.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "api-key", value: "k1"}, {key: "db-key", value: "k2"}, {key: "password", value: "not-matched"}},
		want:   map[string]string{"api-key": "k1", "db-key": "k2"}},
	"getallsecrets-find-by-tags.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "prod-db", value: "p1", tags: map[string]string{"environment": "prod", "application": "app-name"}},
			{key: "prod-other", value: "x", tags: map[string]string{"environment": "prod", "application": "other"}},
			{key: "dev-db", value: "y", tags: map[string]string{"environment": "dev", "application": "app-name"}}},
		want: map[string]string{"prod-db": "p1"}},
	// The Vault guide (docs/provider/hashicorp-vault.md); its fragments
	// ("spec: # ...") get the guide's store, vault-backend.
	"hashicorp-vault-md-2.yaml": {provider: esoVault, complete: completeVault,
		remote: []esoRemote{{key: "dev/package.json", value: `{"name":"pkg","version":"1.0.0"}`}},
		want:   map[string]string{"foobar": `{"name":"pkg","version":"1.0.0"}`}},
	"hashicorp-vault-md-3.yaml": {provider: esoVault, complete: completeVault,
		remote: []esoRemote{{key: "dev/config", value: `{"foo":{"nested":{"bar":"mysecret"}}}`}},
		want:   map[string]string{"foobar": "mysecret"}},
	"hashicorp-vault-md-4.yaml": {provider: esoVault, complete: completeVault,
		remote: []esoRemote{{key: "dev/config", value: devConfig}},
		want:   map[string]string{"bar": "mysecret", "baz": "bang"}},
	"hashicorp-vault-md-5.yaml": {provider: esoVault, complete: completeVault,
		remote: []esoRemote{{key: "dev/config", value: devConfig, tags: map[string]string{"environment": "dev", "component": "app-1"}}},
		want:   map[string]string{"dev_config": devConfig}},
	// The guide says the key is "config"; ESO's code keeps the find path
	// in the name (providers/v1/vault/client_get_all_secrets.go, listSecrets
	// returns path + name), so ESO writes dev_config, as kseal does.
	"hashicorp-vault-md-6.yaml": {provider: esoVault, complete: completeVault,
		remote: []esoRemote{{key: "dev/config", value: devConfig, tags: map[string]string{"environment": "dev", "component": "app-1"}}},
		want:   map[string]string{"dev_config": devConfig}},
	// The Anchore and Jenkins examples for Vault. Their templates are
	// escaped for Helm ({{ printf "{{ ... }}" }}); applied as they are, the
	// v2 engine writes the escaped template text, in ESO as in kseal.
	"vault-anchore-engine-access-credentials-external-secret.yaml": {provider: esoVault,
		remote: []esoRemote{{key: "anchore-engine", value: `{"ANCHORE_ADMIN_PASSWORD":"a","ANCHORE_ADMIN_USERNAME":"b","ANCHORE_DB_PASSWORD":"c","db-url":"d","db-user":"e","postgres-password":"f"}`}},
		want: map[string]string{"ANCHORE_ADMIN_USERNAME": "{{ .username | toString }}", "ANCHORE_ADMIN_PASSWORD": "{{ .password | toString }}",
			"ANCHORE_DB_PASSWORD": "{{ .dbPassword | toString }}", "db-url": "{{ .dbUrl | toString }}", "db-user": "{{ .dbUser | toString }}",
			"postgres-password": "{{ .postgresPassword | toString }}"}},
	"vault-jenkins-credential-github-ssh-access-external-secret.yaml": {provider: esoVault,
		remote: []esoRemote{{key: "my-kv", value: `{"github-ssh-access-username":"git","github-ssh-access-private-key":"k","harbor-chart-robot-username":"r","harbor-chart-robot-token":"t"}`}},
		want:   map[string]string{"username": "{{ .username | toString }}", "privateKey": "{{ .privateKey | toString }}"},
		check:  wantMeta("jenkins.io/credentials-type", "basicSSHUserPrivateKey")},
	"vault-jenkins-credential-harbor-chart-robot-external-secret.yaml": {provider: esoVault,
		remote: []esoRemote{{key: "my-kv", value: `{"github-ssh-access-username":"git","github-ssh-access-private-key":"k","harbor-chart-robot-username":"r","harbor-chart-robot-token":"t"}`}},
		want:   map[string]string{"username": "{{ .username | toString }}", "password": "{{ .password | toString }}"},
		check:  wantMeta("jenkins.io/credentials-type", "usernamePassword")},
	"vault-jenkins-credential-sonarqube-api-token-external-secret.yaml": {provider: esoVault,
		remote: []esoRemote{{key: "jenkins-credentials", value: `{"sonarqube-api-token":"s"}`}},
		want:   map[string]string{"text": "{{ .password | toString }}"},
		check:  wantMeta("jenkins.io/credentials-type", "secretText")},
	"manifest-basic-configmap.yaml": {refused: "target.manifest is not supported by kseal: it writes Secrets only"},

	// dataFrom rewrites (docs/guides/datafrom-rewrite.md), on AWS.
	"datafrom-rewrite-remove-path.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "path/to/my/secrets/username", value: "foo"}, {key: "path/to/my/secrets/password", value: canary("rewrite")}},
		want:   map[string]string{"username": "foo", "password": canary("rewrite")}},
	"datafrom-rewrite-conflict.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "my-secrets-dev", value: `{"password":"dev-pw"}`}, {key: "my-secrets-prod", value: `{"password":"prod-pw"}`}},
		want:   map[string]string{"dev-password": "dev-pw", "prod-password": "prod-pw"}},
	"datafrom-rewrite-invalid-characters.yaml": {provider: esoAWS,
		remote: []esoRemote{{key: "development", value: `{"db/user":"u","api.token":"t"}`}},
		want:   map[string]string{"db_user": "u", "api_token": "t"}},
	"datafrom-rewrite-merge-empty.yaml": {provider: esoVault,
		remote: []esoRemote{{key: "path/to/secrets/object-storage-credentials", value: `{"ACCESS_KEY":"XXXX","SECRET_KEY":"YYYY"}`},
			{key: "path/to/secrets/mongo-credentials", value: `{"USERNAME":"XXXX","PASSWORD":"YYYY"}`},
			{key: "path/to/secrets/other", value: `{"IGNORED":"x"}`}},
		want: map[string]string{"ACCESS_KEY": "XXXX", "SECRET_KEY": "YYYY", "USERNAME": "XXXX", "PASSWORD": "YYYY"}},
	"datafrom-rewrite-transform.yaml": {provider: esoAWS, wholeAccount: true,
		remote: []esoRemote{{key: "db-user", value: "u"}, {key: "api-token", value: "t"}},
		want:   map[string]string{"ENV_DB_USER": "u", "ENV_API_TOKEN": "t"}},

	// Templates (docs/guides/templating.md); fragments on AWS. The guide's
	// certificates are base64 text in a JSON value: written as they are,
	// or decoded with valuesDecodingStrategy (which decodes what the
	// template wrote, in ESO's runtime/template/v2 as in kseal).
	"templating-md-1.yaml": {provider: esoAWS,
		remote: nginxCerts, want: map[string]string{"site-a": b64("CERT-A"), "site-b": b64("CERT-B")}},
	"templating-md-2.yaml": {provider: esoAWS,
		remote: nginxCerts, want: map[string]string{"site-a": "CERT-A", "site-b": "CERT-B"}},
	"templating-md-4.yaml": {skip: "a fragment with no metadata (the v1 to v2 migration note)"},
	"templating-md-3.yaml": {applyOnly: "a fragment with no store and no data (the v1 to v2 migration note)"},
	"helm-template-v2-escape-sequence.yaml": {provider: esoAWS, complete: completeAWS,
		remote: []esoRemote{{key: "/credentials", value: canary("helm")}},
		want:   map[string]string{"name": "admin", "password": "{{ .mysecret }}"}},
	"multikey-template-v2-external-secret.yaml": {provider: esoAWS, complete: completeAWS,
		remote: []esoRemote{{key: "/credentials", value: canary("multikey")}},
		want:   map[string]string{"name": "admin", "password": canary("multikey")}},
	"multiline-template-v2-external-secret.yaml": {provider: esoAWS, complete: completeAWS,
		remote: []esoRemote{{key: "/grafana/user", value: "grafana"}, {key: "/grafana/password", value: "pw"}, {key: "/database/url", value: "postgres://db:5432/app"}},
		want: map[string]string{"connection": "postgresql://db:5432/app",
			"config": "datasources:\n- name: Graphite\n  type: graphite\n  access: proxy\n  url: http://localhost:8080\n  password: \"pw\"\n  user: \"grafana\"\n"}},
	"merge-template-v2-external-secret.yaml": {provider: esoAWS, complete: completeAWS,
		remote: []esoRemote{{key: "/credentials/password", value: b64("decoded-pw")}, {key: "/credentials/username", value: "user"}},
		want:   map[string]string{"name": "admin", "password": "decoded-pw", "username": "user"}},
	"template-v2-from-secret.yaml": {provider: esoAWS, complete: completeAWS,
		remote: []esoRemote{{key: "/grafana/user", value: "grafana"}, {key: "/grafana/password", value: "pw"}, {key: "/grafana/uri", value: "oci://registry/grafana"}},
		want: map[string]string{
			"config.yaml":            "datasources:\n  - name: Graphite\n    type: graphite\n    access: proxy\n    url: \"oci://registry/grafana\"\n    password: \"pw\"\n    user: \"grafana\"\n",
			"my-application-grafana": b64("pw"), "enableOCI": "true", "application-type": "grafana"},
		check: func(t *testing.T, s *corev1.Secret) {
			if _, ok := s.Annotations["last-synced-for-user/grafana"]; !ok {
				t.Errorf("annotations %v, want last-synced-for-user/grafana", s.Annotations)
			}
		}},
	// ".now" is a key lookup, not the function now: the v2 engine (ESO's
	// runtime/template/v2, missingkey=error) fails on it as kseal does.
	"template-v2-scope-and-target.yaml": {provider: esoAWS, complete: completeAWS,
		remote:  []esoRemote{{key: "/grafana/user", value: "grafana"}, {key: "/grafana/password", value: "pw"}},
		reason:  v1alpha1.ReasonTemplateError,
		refused: "now"},
	"template-v2-literal-example.yaml": {provider: esoAWS, complete: completeAWS,
		remote: []esoRemote{{key: "/ingress-controller/valid-users", value: `{"alice":"pw-a","bob":"pw-b"}`}},
		check:  wantHtpasswd(map[string]string{"alice": "pw-a", "bob": "pw-b"})},
	"jwk-template-v2-external-secret.yaml": jwkCase(),
	// Their chains and keys: esoexternalsecrets_pki_test.go.
	"certsans-template-v2-external-secret.yaml":   certSANsCase(),
	"rsadecrypt-template-v2-external-secret.yaml": rsaDecryptCase(),
	// ESO's v1 engine, removed from ESO and refused by kseal.
	"pkcs12-template-v1-external-secret.yaml": {refused: "template engineVersion v1 is not supported by kseal"},
	// Named for the v1 engine but without engineVersion: the v2 default
	// applies, where toString of a string is the string.
	"template-v1-from-secret.yaml": {provider: esoAWS, complete: completeAWS,
		remote: []esoRemote{{key: "/grafana/user", value: "grafana"}, {key: "/grafana/password", value: "pw"}},
		want: map[string]string{"config.yaml": "datasources:\n  - name: Graphite\n    type: graphite\n    access: proxy\n    url: http://localhost:8080\n" +
			"    password: \"pw\" # <-- convert []byte to string\n    user: \"grafana\"         # <-- convert []byte to string\n"}},
	// The doc puts engineVersion under target, where ESO's schema has no
	// such field either: strict validation refuses it in both.
	"multiline-template-v1-external-secret.yaml": {refused: ".spec.target.engineVersion: field not declared in schema"},
}

// nginxCerts are the JSON values of the templating guide's find example.
var nginxCerts = []esoRemote{{key: "productA/nginx/site-a", value: `{"cert":"` + b64("CERT-A") + `"}`},
	{key: "productA/nginx/site-b", value: `{"cert":"` + b64("CERT-B") + `"}`}}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// wantMeta checks labels and annotations of the Secret (pairs of key and
// value, looked up in both).
func wantMeta(kv ...string) func(*testing.T, *corev1.Secret) {
	return func(t *testing.T, s *corev1.Secret) {
		for i := 0; i+1 < len(kv); i += 2 {
			v, ok := s.Labels[kv[i]]
			if !ok {
				v, ok = s.Annotations[kv[i]]
			}
			if !ok || v != kv[i+1] {
				t.Errorf("metadata %s = %q, want %q", kv[i], v, kv[i+1])
			}
		}
	}
}

// wantHtpasswd checks an htpasswd file of bcrypt lines, one per user.
func wantHtpasswd(users map[string]string) func(*testing.T, *corev1.Secret) {
	return func(t *testing.T, s *corev1.Secret) {
		lines := strings.Split(string(s.Data["auth"]), "\n")
		if len(s.Data) != 1 || len(lines) != len(users) {
			t.Fatalf("Secret keys %v with %d htpasswd lines, want auth with %d", keysOf(s.Data), len(lines), len(users))
		}
		for _, l := range lines {
			user, hash, _ := strings.Cut(l, ":")
			if bcrypt.CompareHashAndPassword([]byte(hash), []byte(users[user])) != nil {
				t.Errorf("line for %q does not verify", user)
			}
		}
	}
}

// jwkCase runs the JWK example with a fresh P-256 key: the fragment names
// no remote value, so the completion reads the JWK into .myjwk.
func jwkCase() esoCase {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	j, err := jose.JSONWebKey{Key: key}.MarshalJSON()
	if err != nil {
		panic(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	priv, _ := x509.MarshalPKCS8PrivateKey(key)
	return esoCase{provider: esoAWS,
		complete: `{"spec":{"secretStoreRef":{"name":"secretstore-sample"},"data":[{"secretKey":"myjwk","remoteRef":{"key":"jwk"}}]}}`,
		remote:   []esoRemote{{key: "jwk", value: string(j)}},
		want: map[string]string{
			"jwk_pub":  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
			"jwk_priv": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})),
		}}
}
