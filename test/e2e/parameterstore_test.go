package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// parameterStore creates a SecretStore (service ParameterStore) for srv
// with static credentials.
func parameterStore(t testing.TB, srv *awstest.Server, ns, name string) {
	t.Helper()
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-creds", Namespace: ns},
		StringData: map[string]string{"access-key": awstest.AccessKeyID, "secret-access-key": awstest.SecretAccessKey},
	}
	if err := env.Client.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	store := &v1alpha1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceParameterStore, Region: srv.Region, Endpoint: srv.URL,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: creds.Name, Key: "access-key"},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: creds.Name, Key: "secret-access-key"},
			}},
		}}},
	}
	if err := env.Client.Create(ctx, store); err != nil {
		t.Fatal(err)
	}
}

func TestExternalSecret_parameterStore(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-ssm")
	root := "/" + ns
	// The JSON document of the Parameter Store guide of External Secrets
	// Operator, with a canary for a password.
	srv.PutParameter(t, root+"/friendslist", fmt.Sprintf(`{"name":{"first":"Tom","last":"Anderson"},"friends":[{"first":"Dale"},{"first":"Roger"}],"password":%q}`, canary("ssm-json")), true)
	srv.PutParameter(t, root+"/db/user", "app-v1", false)
	srv.PutParameter(t, root+"/db/user", "app-v2", false)
	srv.PutParameter(t, root+"/db/password", canary("ssm-db"), true)
	srv.PutParameter(t, root+"/other/token", "not-matched", true)
	parameterStore(t, srv, ns, "ssm")
	storeReady(t, ns, "ssm", metav1.ConditionTrue)

	before := metricSum(t, "kseal_provider_api_calls_total", "operation", "GetParameters")
	es := externalSecret(ns, "app", "ssm", time.Hour,
		ref("first", root+"/friendslist", "name.first"),
		ref("password", root+"/friendslist", "password"),
		ref("user", root+"/db/user", ""),
		ref("pass", root+"/db/password", ""))
	old := ref("user_v1", root+"/db/user", "")
	old.RemoteRef.Version = "1"
	es.Spec.Data = append(es.Spec.Data, old)
	es.Spec.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{{Find: &v1alpha1.ExternalSecretFind{
		Path: root, Name: &v1alpha1.FindName{RegExp: "/db/"},
	}}}
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "app", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	got := getSecret(t, ns, "app").Data
	key := func(name string) string { return secretKeyOf(root + name) }
	want := map[string]string{
		"first": "Tom", "password": canary("ssm-json"), "user": "app-v2", "pass": canary("ssm-db"), "user_v1": "app-v1",
		key("/db/user"): "app-v2", key("/db/password"): canary("ssm-db"),
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("key %s: got %d bytes, want %d", k, len(got[k]), len(v))
		}
	}
	if len(got) != len(want) {
		t.Errorf("Secret has keys %v, want %d", keysOf(got), len(want))
	}
	// Four current-value reads of one ExternalSecret shared GetParameters
	// calls, counted by the provider call metric.
	if n := metricSum(t, "kseal_provider_api_calls_total", "operation", "GetParameters") - before; n < 1 {
		t.Errorf("no GetParameters call counted")
	}

	// A missing parameter is a clear condition and keeps the Secret.
	bad := externalSecret(ns, "bad", "ssm", time.Hour, ref("x", root+"/missing", ""))
	if err := env.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	cond := esCondition(t, ns, "bad", metav1.ConditionFalse, "")
	for _, c := range []string{canary("ssm-db"), canary("ssm-json")} {
		if strings.Contains(cond.Message, c) {
			t.Fatalf("condition message shows a value: %s", cond.Message)
		}
	}
	if !strings.Contains(cond.Message, "not found") {
		t.Errorf("condition message %q does not say the parameter is missing", cond.Message)
	}
}

// secretKeyOf is the Secret key a found remote name becomes.
func secretKeyOf(name string) string {
	out := []byte(name)
	for i, c := range out {
		if !(c == '-' || c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			out[i] = '_'
		}
	}
	return string(out)
}

// TestExternalSecret_parameterStoreFindByTags: dataFrom.find.tags on
// Parameter Store lists the tagged parameters (under find.path when set)
// and reads their values in GetParameters calls, as the provider call
// metric shows.
func TestExternalSecret_parameterStoreFindByTags(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-ssm-tags")
	root := "/" + ns
	for name, tags := range map[string]map[string]string{
		"/app/db-password": {"team": "shop", "env": "prod"},
		"/app/api-token":   {"team": "shop", "env": "prod"},
		"/app/dev-token":   {"team": "shop", "env": "dev"},
		"/other/token":     {"team": "shop", "env": "prod"},
	} {
		srv.PutParameter(t, root+name, canary("ssm-tag"+name), true)
		srv.TagParameter(t, root+name, tags)
	}
	srv.PutParameter(t, root+"/app/untagged", "untagged", false)
	parameterStore(t, srv, ns, "ssm")
	storeReady(t, ns, "ssm", metav1.ConditionTrue)

	before := metricSum(t, "kseal_provider_api_calls_total", "operation", "DescribeParameters")
	es := externalSecret(ns, "tagged", "ssm", time.Hour)
	es.Spec.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{{Find: &v1alpha1.ExternalSecretFind{
		Path: root + "/app", Tags: map[string]string{"team": "shop", "env": "prod"},
	}}}
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "tagged", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	got := getSecret(t, ns, "tagged").Data
	want := map[string]string{
		secretKeyOf(root + "/app/db-password"): canary("ssm-tag/app/db-password"),
		secretKeyOf(root + "/app/api-token"):   canary("ssm-tag/app/api-token"),
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("key %s: got %d bytes, want %d", k, len(got[k]), len(v))
		}
	}
	if len(got) != len(want) {
		t.Errorf("Secret has keys %v, want %d", keysOf(got), len(want))
	}
	if n := metricSum(t, "kseal_provider_api_calls_total", "operation", "DescribeParameters") - before; n < 1 {
		t.Errorf("no DescribeParameters call counted")
	}
}
