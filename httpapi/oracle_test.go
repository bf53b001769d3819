package httpapi_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/httpapi"
	"github.com/kseal-dev/kseal/httpapi/wire"
)

// plaintextProbes are spec.template.data values an attacker pairs with a
// victim's real ciphertexts: each would render or fail depending on the
// plaintext (apiPlaintexts: the password is 28 bytes and starts with 'c',
// byte 99), so a verify that rendered them would answer a question about the
// value. The comment says what each would reveal.
var plaintextProbes = map[string]string{
	"none": "",
	// the first byte is below 100 / below 99
	"index below 100": `{{ if lt (index .password 0) 100 }}{{ index .password 999 }}{{ end }}`,
	"index below 99":  `{{ if lt (index .password 0) 99 }}{{ index .password 999 }}{{ end }}`,
	// the length is 28 / 27, through a missing key
	"missingkey len 28": `{{ if eq (len .password) 28 }}{{ .nosuch }}{{ end }}`,
	"missingkey len 27": `{{ if eq (len .password) 27 }}{{ .nosuch }}{{ end }}`,
	// the value is at least 29 / 28 bytes, through slice bounds
	"slice 29": `{{ slice .password 0 29 }}`,
	"slice 28": `{{ slice .password 0 28 }}`,
	// the user starts with these bytes
	"equals":  `{{ if eq (slice .user 0 7) "admin-7" }}{{ index .user 999 }}{{ end }}`,
	"differs": `{{ if eq (slice .user 0 7) "admin-8" }}{{ index .user 999 }}{{ end }}`,
	// a prefix, through printf and a comparison
	"prefix c": `{{ if eq (printf "%.1s" .password) "c" }}{{ .nosuch }}{{ end }}`,
	"prefix d": `{{ if eq (printf "%.1s" .password) "d" }}{{ .nosuch }}{{ end }}`,
}

// comparable returns what a caller learns from a response: the status, every
// header but Date, and the body.
func comparableResponse(r apiResponse) string {
	h := r.header.Clone()
	h.Del("Date")
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", r.code)
	for _, k := range slices.Sorted(maps.Keys(h)) {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(h[k], ", "))
	}
	b.Write(r.body)
	return b.String()
}

func unlimited() httpapi.Options {
	off := httpapi.RateLimit{PerSecond: -1}
	return httpapi.Options{Verify: off, Rotate: off, Global: off}
}

// TestAPI_verifyIsNoPlaintextOracle posts the same sealed values with every
// probe template: verify must answer byte for byte the same, because it must
// not run templates at all.
func TestAPI_verifyIsNoPlaintextOracle(t *testing.T) {
	old, _ := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old), unlimited())
	for _, v := range []sealing.Version{sealing.V2, sealing.V1} {
		t.Run(v.String(), func(t *testing.T) {
			victim := apiSeal(t, old, v)
			var want string
			for _, name := range slices.Sorted(maps.Keys(plaintextProbes)) {
				probe := victim.DeepCopy()
				probe.Spec.Template.Data = nil
				if tmpl := plaintextProbes[name]; tmpl != "" {
					probe.Spec.Template.Data = map[string]string{"probe": tmpl}
				}
				r := apiDo(t, base, http.MethodPost, wire.PathVerify, apiEncode(t, "yaml", probe))
				got := comparableResponse(r)
				if want == "" {
					want = got
					wantCode(t, r, http.StatusOK)
					continue
				}
				if got != want {
					t.Errorf("probe %q: the answer differs from the other probes', so it depends on the plaintext:\n%s\nwant\n%s", name, got, want)
				}
			}
		})
	}
}

// TestAPI_rotateIsNoPlaintextOracle: rotate answers the probes alike too; its
// body is the request itself when the object is already sealed to the newest
// key.
func TestAPI_rotateIsNoPlaintextOracle(t *testing.T) {
	old, renewed := apiGenerations(t)
	for _, gens := range [][]*keys.Generation{{old}, {old, renewed}} {
		base := apiServer(t, keys.NewSet(gens...), unlimited())
		victim := apiSeal(t, old, sealing.V2)
		var want string
		for _, name := range slices.Sorted(maps.Keys(plaintextProbes)) {
			probe := victim.DeepCopy()
			probe.Spec.Template.Data = nil
			if tmpl := plaintextProbes[name]; tmpl != "" {
				probe.Spec.Template.Data = map[string]string{"probe": tmpl}
			}
			body := apiEncode(t, "yaml", probe)
			r := apiDo(t, base, http.MethodPost, wire.PathRotate, body)
			wantCode(t, r, http.StatusOK)
			if len(gens) == 1 && !bytes.Equal(r.body, body) {
				t.Errorf("probe %q: an up-to-date object came back changed", name)
			}
			r.header.Del("Content-Length")
			r.body = nil
			got := comparableResponse(r)
			if want == "" {
				want = got
			} else if got != want {
				t.Errorf("probe %q: headers differ:\n%s\nwant\n%s", name, got, want)
			}
		}
	}
}
