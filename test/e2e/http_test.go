package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/httpapi"
	"github.com/kseal-dev/kseal/httpapi/wire"
)

func httpGet(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return b
}

func decodeItem(v string) ([]byte, error) { return base64.StdEncoding.DecodeString(v) }

// httpPost posts body and returns what a caller learns: the status, every
// header but Date, and the body.
func httpPost(t testing.TB, url string, body []byte, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Header.Del("Date")
	var out strings.Builder
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		fmt.Fprintf(&out, "%s: %s\n", k, strings.Join(resp.Header[k], ", "))
	}
	out.Write(b)
	return resp.StatusCode, out.String()
}

// TestHTTPAPI_noOracleAndBounded runs the controller as in production and
// sends its HTTP API what an attacker would: a victim's sealed values with
// templates that test the plaintext (verify must answer them all alike),
// an object over the item limit, and requests that pretend to be many
// clients (the global cap holds).
func TestHTTPAPI_noOracleAndBounded(t *testing.T) {
	c := startController(t, controllers.Options{API: httpapi.Options{
		MaxItems: 3,
		Verify:   httpapi.RateLimit{PerSecond: 0.001, Burst: 100},
		Global:   httpapi.RateLimit{PerSecond: 0.001, Burst: 30},
	}})
	defer c.stop()
	ns := newNamespace(t, "api")
	password := canary("api-password") // "canary-api-password-7f3a9": 25 bytes, starts with 'c' (99)
	victim := sealSecret(t, c, secret(ns, "db", map[string]string{"password": password}))

	probes := []string{
		"",
		`{{ if lt (index .password 0) 100 }}{{ index .password 999 }}{{ end }}`,
		`{{ if lt (index .password 0) 99 }}{{ index .password 999 }}{{ end }}`,
		`{{ if eq (len .password) 25 }}{{ .nosuch }}{{ end }}`,
		`{{ slice .password 0 26 }}`,
		`{{ slice .password 0 25 }}`,
	}
	var want string
	for i, tmpl := range probes {
		probe := victim.DeepCopy()
		probe.Spec.Template.Data = nil
		if tmpl != "" {
			probe.Spec.Template.Data = map[string]string{"probe": tmpl}
		}
		body, err := yaml.Marshal(probe)
		if err != nil {
			t.Fatal(err)
		}
		code, got := httpPost(t, c.apiURL+wire.PathVerify, body)
		if strings.Contains(got, password) {
			t.Fatal("a response contains the plaintext")
		}
		if i == 0 {
			if code != http.StatusOK {
				t.Fatalf("verify: %d: %s", code, got)
			}
			want = got
		} else if got != want {
			t.Errorf("probe %d: the answer depends on the plaintext:\n%s\nwant\n%s", i, got, want)
		}
	}

	big := sealSecret(t, c, secret(ns, "big", map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}))
	body, err := yaml.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	if code, got := httpPost(t, c.apiURL+wire.PathRotate, body); code != http.StatusRequestEntityTooLarge || !strings.Contains(got, "has 4 items, more than the 3") {
		t.Errorf("over the item limit: %d: %s", code, got)
	}

	// 6 probes and 1 rotate spent 7 of the 30 global tokens; 30 callers that
	// each claim another address get 23 more, then nothing.
	body, err = yaml.Marshal(victim)
	if err != nil {
		t.Fatal(err)
	}
	admitted := 0
	for i := range 30 {
		if code, _ := httpPost(t, c.apiURL+wire.PathVerify, body, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)); code == http.StatusOK {
			admitted++
		}
	}
	if admitted != 23 {
		t.Errorf("%d requests from distinct clients admitted, want the 23 left in the global bucket", admitted)
	}
}

// TestNetworkPolicyManifest: the shipped NetworkPolicy is accepted by a real
// API server and admits the API and metrics ports only.
func TestNetworkPolicyManifest(t *testing.T) {
	data, err := os.ReadFile("../../config/manager/networkpolicy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var np networkingv1.NetworkPolicy
	if err := yaml.UnmarshalStrict(data, &np); err != nil {
		t.Fatal(err)
	}
	np.Namespace = newNamespace(t, "netpol")
	if err := env.Client.Create(ctx, &np); err != nil {
		t.Fatalf("the API server refuses the NetworkPolicy: %v", err)
	}
	var ports []string
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			ports = append(ports, p.Port.String())
		}
	}
	if !slices.Equal(ports, []string{"http", "metrics"}) {
		t.Errorf("ingress ports %v, want http and metrics", ports)
	}
}
