package e2e

import (
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// grafanaTemplates is the ConfigMap of ESO's templateFrom example.
const grafanaConfig = `datasources:
  - name: Graphite
    type: graphite
    access: proxy
    url: "{{ .uri }}"
    password: "{{ .password }}"
    user: "{{ .user }}"
`

const grafanaTemplated = `# key and value templated
my-application-{{ .user}}: {{ .password | b64enc }}
# conditional keys
{{- if hasPrefix "oci://" .uri }}
enableOCI: true
{{- else }}
enableOCI: false
{{- end }}
# Fixed values
application-type: grafana
`

// TestExternalSecret_esoTemplates syncs ESO's documented template, merge,
// rewrite and decoding examples against the AWS emulator and compares the
// Secrets with what ESO's docs say they hold.
func TestExternalSecret_esoTemplates(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-tmpl")
	pw := canary("grafana")
	srv.CreateSecret(t, "/grafana/user", "app", nil)
	srv.CreateSecret(t, "/grafana/password", pw, nil)
	srv.CreateSecret(t, "/grafana/uri", "oci://registry", nil)
	srv.CreateSecret(t, "/credentials/password", base64.StdEncoding.EncodeToString([]byte(pw)), nil)
	srv.CreateSecret(t, "/credentials/username", "admin-user", nil)
	srv.CreateSecret(t, "/ingress-controller/valid-users", `{"alice":"pw1","bob":"pw2"}`, nil)
	srv.CreateSecret(t, "path/to/my/secrets/db-user", "u1", nil)
	srv.CreateSecret(t, "path/to/my/secrets/db-pass", "p1", nil)
	awsStore(t, srv, ns, "backend")
	storeReady(t, ns, "backend", metav1.ConditionTrue)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "grafana-config-tpl", Namespace: ns}, Data: map[string]string{
		"config.yaml": grafanaConfig, "templated": grafanaTemplated, "annotations": "last-synced-for-user/{{ .user }}: {{ now }}\n"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	grafana := []v1alpha1.ExternalSecretData{ref("user", "/grafana/user", ""), ref("password", "/grafana/password", ""), ref("uri", "/grafana/uri", "")}
	v2 := v1alpha1.TemplateEngineV2

	fromCM := externalSecret(ns, "from-cm", "backend", time.Hour, grafana...)
	fromCM.Spec.Target.Template = &v1alpha1.ExternalSecretTemplate{EngineVersion: v2, TemplateFrom: []v1alpha1.TemplateFrom{
		{Target: "Data", ConfigMap: &v1alpha1.TemplateRef{Name: cm.Name, Items: []v1alpha1.TemplateRefItem{{Key: "config.yaml", TemplateAs: v1alpha1.TemplateScopeValues}, {Key: "templated", TemplateAs: v1alpha1.TemplateScopeKeysAndValues}}}},
		{Target: "Annotations", ConfigMap: &v1alpha1.TemplateRef{Name: cm.Name, Items: []v1alpha1.TemplateRefItem{{Key: "annotations", TemplateAs: v1alpha1.TemplateScopeKeysAndValues}}}},
	}}

	merge := externalSecret(ns, "merge", "backend", time.Hour, ref("password", "/credentials/password", ""), ref("username", "/credentials/username", ""))
	merge.Spec.Target.Template = &v1alpha1.ExternalSecretTemplate{EngineVersion: v2, MergePolicy: v1alpha1.MergePolicyMerge,
		Data: map[string]string{"name": "admin", "password": "{{ .password | b64dec }}"}}

	literal := `{{- $creds := list }}
{{- range $user, $pw := . }}
  {{- $creds = append $creds (printf "%s" (htpasswd $user $pw "bcrypt")) }}
{{- end }}
auth: {{ $creds | join "\n" | quote }}`
	htpasswd := externalSecret(ns, "htpasswd", "backend", time.Hour)
	htpasswd.Spec.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{{Extract: &v1alpha1.ExternalSecretDataRemoteRef{Key: "/ingress-controller/valid-users"}}}
	htpasswd.Spec.Target.Template = &v1alpha1.ExternalSecretTemplate{EngineVersion: v2, TemplateFrom: []v1alpha1.TemplateFrom{{Target: "Data", Literal: &literal}}}

	rewrite := externalSecret(ns, "rewrite", "backend", time.Hour)
	rewrite.Spec.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{
		{Find: &v1alpha1.ExternalSecretFind{Path: "path/to/my", Name: &v1alpha1.FindName{RegExp: "secrets"}},
			Rewrite: []v1alpha1.ExternalSecretRewrite{{Regexp: &v1alpha1.ExternalSecretRewriteRegexp{Source: "path/to/my/secrets/(.*)", Target: "$1"}}}},
		{Find: &v1alpha1.ExternalSecretFind{Path: "path/to/my"},
			Rewrite: []v1alpha1.ExternalSecretRewrite{{Regexp: &v1alpha1.ExternalSecretRewriteRegexp{Source: "^.*/", Target: ""}}, {Transform: &v1alpha1.ExternalSecretRewriteTransform{Template: `ENV_{{ .value | upper | replace "-" "_" }}`}}}},
		{Find: &v1alpha1.ExternalSecretFind{Path: "path/to/my", ConversionStrategy: v1alpha1.ConversionUnicode}},
	}
	decoded := externalSecret(ns, "decoded", "backend", time.Hour, v1alpha1.ExternalSecretData{SecretKey: "password",
		RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "/credentials/password", DecodingStrategy: v1alpha1.DecodeBase64}})

	for _, es := range []*v1alpha1.ExternalSecret{fromCM, merge, htpasswd, rewrite, decoded} {
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	for _, es := range []*v1alpha1.ExternalSecret{fromCM, merge, htpasswd, rewrite, decoded} {
		esCondition(t, ns, es.Name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	}

	got := getSecret(t, ns, "from-cm")
	wantConfig := strings.NewReplacer("{{ .uri }}", "oci://registry", "{{ .password }}", pw, "{{ .user }}", "app").Replace(grafanaConfig)
	wantData(t, got, map[string]string{"config.yaml": wantConfig, "my-application-app": base64.StdEncoding.EncodeToString([]byte(pw)), "enableOCI": "true", "application-type": "grafana"})
	if got.Annotations["last-synced-for-user/app"] == "" {
		t.Errorf("from-cm: annotations %v", got.Annotations)
	}
	wantData(t, getSecret(t, ns, "merge"), map[string]string{"name": "admin", "password": pw, "username": "admin-user"})
	auth := string(getSecret(t, ns, "htpasswd").Data["auth"])
	if !strings.HasPrefix(auth, "alice:$2a$") || !strings.Contains(auth, "\nbob:$2a$") {
		t.Errorf("htpasswd: auth %q", auth)
	}
	wantData(t, getSecret(t, ns, "rewrite"), map[string]string{"db-user": "u1", "db-pass": "p1", "ENV_DB_USER": "u1", "ENV_DB_PASS": "p1",
		"path_U002f_to_U002f_my_U002f_secrets_U002f_db-user": "u1", "path_U002f_to_U002f_my_U002f_secrets_U002f_db-pass": "p1"})
	wantData(t, getSecret(t, ns, "decoded"), map[string]string{"password": pw})
}

// wantData checks that s holds exactly want.
func wantData(t testing.TB, s *corev1.Secret, want map[string]string) {
	t.Helper()
	if s == nil {
		t.Error("no Secret")
		return
	}
	got := map[string]string{}
	for k, v := range s.Data {
		got[k] = string(v)
	}
	if !maps.Equal(got, want) {
		t.Errorf("Secret %s: keys %v, want %v", s.Name, keysOf(s.Data), keysOfString(want))
		for k, v := range want {
			if got[k] != v {
				t.Errorf("  key %s differs", k)
			}
		}
	}
}

func keysOfString(m map[string]string) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestExternalSecret_badTemplateInputsKeepSecret: each bad input gives a
// clear condition, and the Secret synced before is kept as it was.
func TestExternalSecret_badTemplateInputsKeepSecret(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-tmpl-bad")
	pw := canary("bad-tmpl")
	srv.CreateSecret(t, "app/password", pw, nil)
	awsStore(t, srv, ns, "aws")
	find := func(rw ...v1alpha1.ExternalSecretRewrite) []v1alpha1.ExternalSecretDataFromRemoteRef {
		return []v1alpha1.ExternalSecretDataFromRemoteRef{{Find: &v1alpha1.ExternalSecretFind{Path: "app/"}, Rewrite: rw}}
	}
	cases := []struct {
		name   string
		change func(*v1alpha1.ExternalSecretSpec)
		reason string
		msg    string
	}{
		{"regexp that does not compile", func(s *v1alpha1.ExternalSecretSpec) {
			s.DataFrom = find(v1alpha1.ExternalSecretRewrite{Regexp: &v1alpha1.ExternalSecretRewriteRegexp{Source: "app/(", Target: "x"}})
		}, v1alpha1.ReasonInvalidSpec, "does not compile"},
		{"rewrite to an invalid key", func(s *v1alpha1.ExternalSecretSpec) {
			s.DataFrom = find(v1alpha1.ExternalSecretRewrite{Regexp: &v1alpha1.ExternalSecretRewriteRegexp{Source: "app", Target: "a b"}})
		}, v1alpha1.ReasonInvalidSpec, `invalid Secret key "a b/password"`},
		{"templateFrom source missing", func(s *v1alpha1.ExternalSecretSpec) {
			s.Target.Template = &v1alpha1.ExternalSecretTemplate{TemplateFrom: []v1alpha1.TemplateFrom{{ConfigMap: &v1alpha1.TemplateRef{Name: "nosuch", Items: []v1alpha1.TemplateRefItem{{Key: "k"}}}}}}
		}, v1alpha1.ReasonTemplateError, "ConfigMap nosuch not found"},
		{"template error", func(s *v1alpha1.ExternalSecretSpec) {
			s.Target.Template = &v1alpha1.ExternalSecretTemplate{Data: map[string]string{"x": `{{ .password | b64dec | fail }}`}}
		}, v1alpha1.ReasonTemplateError, `template "x"`},
		{"metadataPolicy Fetch of a missing tag", func(s *v1alpha1.ExternalSecretSpec) {
			s.Data[0].RemoteRef.MetadataPolicy = v1alpha1.MetadataPolicyFetch
			s.Data[0].RemoteRef.Property = "nosuch"
		}, v1alpha1.ReasonRemoteNotFound, "property not found"},
		{"decoding a value that is not base64", func(s *v1alpha1.ExternalSecretSpec) {
			s.Data[0].RemoteRef.DecodingStrategy = v1alpha1.DecodeBase64
		}, v1alpha1.ReasonInvalidSpec, "not valid base64"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("bad-%d", i)
			es := externalSecret(ns, name, "aws", time.Hour, ref("password", "app/password", ""))
			if err := env.Client.Create(ctx, es); err != nil {
				t.Fatal(err)
			}
			esCondition(t, ns, name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
			before := getSecret(t, ns, name)
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(es), es); err != nil {
				t.Fatal(err)
			}
			tc.change(&es.Spec)
			if err := env.Client.Update(ctx, es); err != nil {
				t.Fatal(err)
			}
			cond := esCondition(t, ns, name, metav1.ConditionFalse, tc.reason)
			if !strings.Contains(cond.Message, tc.msg) {
				t.Errorf("message %q lacks %q", cond.Message, tc.msg)
			}
			if strings.Contains(cond.Message, pw) {
				t.Errorf("condition leaks the value: %s", cond.Message)
			}
			after := getSecret(t, ns, name)
			if after == nil || !maps.EqualFunc(after.Data, before.Data, func(a, b []byte) bool { return string(a) == string(b) }) {
				t.Errorf("the Secret changed or was deleted")
			}
		})
	}
}
