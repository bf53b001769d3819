package template_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"runtime"
	"strings"
	"testing"
	gotemplate "text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"github.com/go-jose/go-jose/v4"

	"github.com/kseal-dev/kseal/crypto/template"
)

// sprigRender renders src with plain text/template and Sprig, as External
// Secrets Operator's v2 engine does.
func sprigRender(t *testing.T, src string, data map[string]string) string {
	t.Helper()
	tt, err := gotemplate.New("out").Option("missingkey=error").Funcs(sprig.TxtFuncMap()).Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tt.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRender_sprigSameAsESO: templates from ESO's documentation and
// Sprig's common functions give what text/template with Sprig gives.
func TestRender_sprigSameAsESO(t *testing.T) {
	data := map[string]string{"user": "app-user", "password": "cGFzc3dvcmQ=", "dburl": "postgres://db:5432/x", "uri": "oci://reg", "json": `{"a":{"b":[1,2,"x"]},"c":"d"}`}
	tests := map[string]string{
		"b64dec (merge example)":    `{{ .password | b64dec }}`,
		"replace (multiline)":       `{{ .dburl | replace "postgres://" "postgresql://" }}`,
		"hasPrefix and b64enc":      `my-application-{{ .user }}: {{ .password | b64enc }}{{ if hasPrefix "oci://" .uri }} oci{{ else }} no{{ end }}`,
		"transform":                 `ENV_{{ .user | upper | replace "-" "_" }}`,
		"strings":                   `{{ trim "  x " }}|{{ lower "AbC" }}|{{ title "hello world" }}|{{ quote .user }}|{{ squote .user }}|{{ trunc 3 .user }}|{{ substr 1 4 .user }}|{{ nospace "a b c" }}|{{ abbrev 6 "hello world" }}`,
		"indent":                    `x:{{ "a\nb" | nindent 4 }}{{ "c\nd" | indent 2 }}`,
		"lists":                     `{{ list 1 2 3 | join "," }}|{{ splitList "," "a,b,c" | last }}|{{ list "b" "a" | sortAlpha | first }}|{{ until 4 | join "-" }}|{{ seq 1 2 7 }}|{{ uniq (list 1 1 2) | len }}`,
		"dicts":                     `{{ $d := dict "a" 1 "b" "two" }}{{ get $d "b" }}|{{ hasKey $d "a" }}|{{ keys $d | sortAlpha | join "," }}|{{ $_ := set $d "c" 3 }}{{ len $d }}|{{ toJson (pick $d "a") }}`,
		"json":                      `{{ $j := fromJson .json }}{{ $j.c }}|{{ toJson $j }}|{{ dig "a" "b" "none" $j | toJson }}|{{ toPrettyJson $j }}`,
		"defaults":                  `{{ default "x" "" }}|{{ empty "" }}|{{ coalesce "" "y" }}|{{ ternary "yes" "no" true }}`,
		"hashes and encodings":      `{{ sha256sum .user }}|{{ sha1sum .user }}|{{ b32enc .user }}|{{ .user | b64enc | b64dec }}|{{ adler32sum .user }}`,
		"regex":                     `{{ regexReplaceAll "a(.)" .user "<${1}>" }}|{{ regexMatch "^app" .user }}|{{ regexFindAll "p" .user -1 | len }}|{{ regexSplit "-" .user -1 | first }}|{{ regexQuoteMeta "a.b" }}`,
		"numbers":                   `{{ add 1 2 3 }}|{{ sub 5 2 }}|{{ mul 2 3 }}|{{ div 7 2 }}|{{ mod 7 2 }}|{{ max 1 5 3 }}|{{ atoi "42" }}|{{ int64 "7" }}|{{ floor 1.5 }}`,
		"paths and urls":            `{{ base "a/b/c.txt" }}|{{ dir "a/b/c" }}|{{ ext "x.yaml" }}|{{ (urlParse .dburl).host }}`,
		"range over data (literal)": `{{- range $k, $v := . }}{{ $k }}={{ len $v }};{{ end }}`,
		"range over a list":         `{{ range $i, $e := list "a" "b" }}{{ $i }}{{ $e }}{{ else }}none{{ end }}{{ range until 3 }}{{ . }}{{ end }}{{ range 3 }}{{ . }}{{ end }}`,
		"range with break":          `{{ range $i, $e := list 1 2 3 }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $e }}{{ end }}`,
		"semver":                    `{{ semverCompare ">=1.2.0" "1.3.0" }}|{{ (semver "1.2.3").Minor }}`,
		"slice of a list":           `{{ slice (list 1 2 3) 1 | len }}|{{ slice (list 1 2 3) 1 2 | first }}`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := render(template.Limits{}, src, data)
			if err != nil {
				t.Fatal(err)
			}
			if want := sprigRender(t, src, data); got != want {
				t.Errorf("got %q, want %q (text/template with Sprig)", got, want)
			}
		})
	}
}

// TestRender_sprigRandomAndCrypto: functions whose output differs between
// runs give output of the right form.
func TestRender_sprigRandomAndCrypto(t *testing.T) {
	for src, check := range map[string]func(string) bool{
		`{{ randAlphaNum 12 }}`:                     func(s string) bool { return len(s) == 12 },
		`{{ uuidv4 }}`:                              func(s string) bool { return len(s) == 36 },
		`{{ genPrivateKey "ecdsa" }}`:               func(s string) bool { return strings.HasPrefix(s, "-----BEGIN EC PRIVATE KEY-----") },
		`{{ htpasswd "user" "pw" }}`:                func(s string) bool { return strings.HasPrefix(s, "user:$2a$") },
		`{{ htpasswd "user" "pw" "bcrypt" }}`:       func(s string) bool { return strings.HasPrefix(s, "user:$2a$") },
		`{{ htpasswd "user" "pw" "sha" }}`:          func(s string) bool { return s == "user:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=" },
		`{{ (genCA "ca" 30).Cert }}`:                func(s string) bool { return strings.HasPrefix(s, "-----BEGIN CERTIFICATE-----") },
		`{{ now | date "2006" }}`:                   func(s string) bool { return len(s) == 4 },
		`{{ dateInZone "2006" (now) "UTC" }}`:       func(s string) bool { return len(s) == 4 },
		`{{ encryptAES "k" "v" | decryptAES "k" }}`: func(s string) bool { return s == "v" },
	} {
		got, err := render(template.Limits{}, src, nil)
		if err != nil || !check(got) {
			t.Errorf("%s: %q, %v", src, got, err)
		}
	}
}

// TestRender_sprigUnavailable: functions that read the environment, the
// file system or the network, or take unbounded memory, are refused with a
// message that says why.
func TestRender_sprigUnavailable(t *testing.T) {
	for src, why := range map[string]string{
		`{{ env "HOME" }}`:                             "environment",
		`{{ expandenv "$HOME" }}`:                      "environment",
		`{{ getHostByName "example.com" }}`:            "DNS",
		`{{ derivePassword 1 "long" "p" "u" "s" }}`:    "32 MiB",
		`{{ dateInZone "2006" (now) "Europe/Paris" }}`: "UTC",
		`{{ genPrivateKey "dsa" }}`:                    "DSA",
	} {
		_, err := render(template.Limits{}, src, nil)
		templateError(t, err)
		if !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want a message with %q", src, err, why)
		}
	}
}

// TestRender_sprigBombs: hostile templates using Sprig are each stopped by
// a limit before they cost much, and their errors quote no value.
func TestRender_sprigBombs(t *testing.T) {
	const secret = "s3cr3t-canary-value"
	data := map[string][]byte{"v": []byte(strings.Repeat("v", 1024)), "password": []byte(secret), "big": []byte(strings.Repeat("a-", 200<<10))}
	bombs := map[string]struct {
		src   string
		limit template.Limit
	}{
		"repeat":                      {`{{ repeat 1000000000 .v }}`, template.LimitValueSize},
		"repeat doubling":             {`{{ $x := repeat 2 .v }}` + strings.Repeat(`{{ $x = repeat 2 $x }}`, 40), template.LimitWork},
		"indent":                      {`{{ indent 100000000 .v }}`, template.LimitValueSize},
		"nindent of many lines":       {`{{ nindent 1000 (repeat 2000 "\n") }}`, template.LimitValueSize},
		"seq":                         {`{{ seq 1 1000000000000 }}`, template.LimitValueSize},
		"seq overflow":                {`{{ seq -9223372036854775807 9223372036854775807 }}`, template.LimitValueSize},
		"until":                       {`{{ until 1000000000 }}`, template.LimitValueSize},
		"untilStep":                   {`{{ untilStep 0 1000000000000 1 }}`, template.LimitValueSize},
		"randAlphaNum":                {`{{ randAlphaNum 1000000000 }}`, template.LimitValueSize},
		"randBytes":                   {`{{ randBytes 1000000000 }}`, template.LimitValueSize},
		"replace growth":              {`{{ replace "" .v .v }}`, template.LimitValueSize},
		"regexReplaceAll growth":      {`{{ regexReplaceAll "" .v .v }}`, template.LimitValueSize},
		"regexp on a large value":     {strings.Repeat(`{{ regexMatch "(a|b|c|d|e|f|g|h)*x(a|b|c|d|e|f|g|h)*y" .big }}`, 4), template.LimitWork},
		"regexp with a large program": {`{{ regexMatch "` + strings.Repeat(`\\pL{1000}`, 20) + `" .v }}`, ""},
		"splitList of every byte":     {`{{ splitList "" .big }}`, template.LimitValueSize},
		"wrapWith":                    {`{{ wrapWith 1 .v .v }}`, template.LimitValueSize},
		"list doubling":               {`{{ $l := list .v .v }}` + strings.Repeat(`{{ $l = list $l $l }}`, 30), template.LimitValueSize},
		"dict that holds itself":      {`{{ $d := dict }}{{ $_ := set $d "self" $d }}{{ toJson $d }}`, ""},
		"merge into itself":           {`{{ $d := dict "a" 1 }}{{ $e := dict "d" $d }}{{ $_ := merge $d $e }}{{ $d }}`, ""},
		"range over a huge int":       {`{{ range 1000000000000 }}{{ end }}`, template.LimitWork},
		"nested ranges":               {`{{ $l := until 1000 }}{{ range $l }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}{{ end }}`, template.LimitWork},
		"range over many elements":    {`{{ range splitList "" .big }}{{ end }}`, template.LimitValueSize},
		"uniq":                        {`{{ $l := splitList "" (repeat 20000 "a") }}{{ uniq $l }}{{ uniq $l }}{{ uniq $l }}`, template.LimitWork},
		"pretty JSON of deep lists":   {`{{ $l := list 1 }}` + strings.Repeat(`{{ $l = list $l $l }}`, 14) + strings.Repeat(`{{ toPrettyJson $l }}`, 4), template.LimitWork},
		"fromYaml alias bomb":         {`{{ fromYaml "` + yamlBomb() + `" }}`, ""},
		"fromJson of a large value":   {strings.Repeat(`{{ fromJson .big }}`, 8), template.LimitWork},
		"fail with a value":           {`{{ fail .password }}`, ""},
		"mustFromJson of a value":     {`{{ mustFromJson .password }}`, ""},
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	errs := map[string]error{}
	for name, b := range bombs {
		errs[name] = template.Render(map[string]string{"bomb": b.src}, data)
	}
	runtime.ReadMemStats(&after)
	for name, b := range bombs {
		err := errs[name]
		if err == nil {
			t.Errorf("%s: rendered", name)
			continue
		}
		te := templateError(t, err)
		if te.Limit != b.limit {
			t.Errorf("%s: limit %q, want %q: %v", name, te.Limit, b.limit, err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "vvvvvvvv") {
			t.Errorf("%s: error quotes a value: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("all Sprig bombs: %d KiB allocated", alloc>>10)
	if alloc >= 96<<20 {
		t.Errorf("rendering the bombs allocated %d MiB", alloc>>20)
	}
}

// yamlBomb is a billion-laughs document, quoted for a template string.
func yamlBomb() string {
	var b strings.Builder
	b.WriteString(`a: &a [x,x,x,x,x,x,x,x,x]\n`)
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString(n + ": &" + n + " [")
		for i := range 9 {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString(`]\n`)
		prev = n
	}
	return b.String()
}

// TestRender_esoFunctions: ESO's own functions.
func TestRender_esoFunctions(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"a.example"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}, EmailAddresses: []string{"x@example.com"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	jwk, err := jose.JSONWebKey{Key: key}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	data := map[string]string{
		"mysecret": "junk before\n" + keyPEM + certPEM,
		"cert":     certPEM,
		"myjwk":    string(jwk),
		"yaml":     "a: 1\nb: [p, q]\n",
	}
	tests := map[string]func(string) bool{
		`{{ .mysecret | filterPEM "CERTIFICATE" }}`: func(s string) bool { return s == certPEM },
		`{{ .mysecret | filterPEM "PRIVATE KEY" }}`: func(s string) bool { return s == keyPEM },
		`{{ .cert | certSANs | join "," }}`:         func(s string) bool { return s == "a.example,10.0.0.1,x@example.com" },
		`{{ .myjwk | jwkPublicKeyPem }}`:            func(s string) bool { return strings.HasPrefix(s, "-----BEGIN PUBLIC KEY-----\n") },
		`{{ .myjwk | jwkPrivateKeyPem }}`:           func(s string) bool { return strings.HasPrefix(s, "-----BEGIN PRIVATE KEY-----\n") },
		`{{ (fromYaml .yaml).b | toJson }}`:         func(s string) bool { return s == `["p","q"]` },
		`{{ fromYaml .yaml | toYaml }}`:             func(s string) bool { return s == "a: 1\nb:\n- p\n- q" },
	}
	for src, ok := range tests {
		got, err := render(template.Limits{}, src, data)
		if err != nil || !ok(got) {
			t.Errorf("%s: %q, %v", src, got, err)
		}
	}
}

// TestRender_sprigCostlyCalls: key generation and bcrypt are charged a
// fixed cost before they run, so an object can run only a few; here the
// budget allows none and nothing is computed.
func TestRender_sprigCostlyCalls(t *testing.T) {
	l := template.Limits{MaxWork: 64 << 10}
	for _, src := range []string{`{{ genPrivateKey "rsa" }}`, `{{ genCA "x" 1 }}`, `{{ bcrypt "pw" }}`, `{{ htpasswd "u" "pw" }}`, strings.Repeat(`{{ genPrivateKey "ecdsa" }}`, 100)} {
		_, err := render(l, src, nil)
		if te := templateError(t, err); te.Limit != template.LimitWork {
			t.Errorf("%.40s: %v", src, err)
		}
	}
}
