package sops_test

import (
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

func TestFormatForPath(t *testing.T) {
	cases := map[string]sops.Format{
		"secret.yaml":        sops.FormatYAML,
		"dir/secret.enc.yml": sops.FormatYAML,
		"config.json":        sops.FormatJSON,
		".dockerconfigjson":  sops.FormatJSON,
		"app.env":            sops.FormatDotenv,
		"settings.ini":       sops.FormatINI,
		"tls.key":            sops.FormatBinary,
		"password":           sops.FormatBinary,
		"SECRET.YAML":        sops.FormatYAML,
	}
	for path, want := range cases {
		if got := sops.FormatForPath(path); got != want {
			t.Errorf("FormatForPath(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range []sops.Format{sops.FormatYAML, sops.FormatJSON, sops.FormatDotenv, sops.FormatINI, sops.FormatBinary} {
		got, err := sops.ParseFormat(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := sops.ParseFormat("toml"); err == nil {
		t.Error("ParseFormat(toml) succeeded")
	}
}

func TestIsEncrypted(t *testing.T) {
	cases := []struct {
		name string
		data string
		f    sops.Format
		want bool
	}{
		{"plain secret", secretYAML, sops.FormatYAML, false},
		{"yaml with metadata", "a: ENC[x]\nsops:\n  mac: ENC[y]\n  version: 3.13.3\n", sops.FormatYAML, true},
		{"yaml metadata without mac", "a: b\nsops:\n  version: 3.13.3\n", sops.FormatYAML, false},
		{"yaml metadata not a map", "a: b\nsops: yes\n", sops.FormatYAML, false},
		{"a field named sops elsewhere", "spec:\n  sops:\n    mac: x\n    version: y\n", sops.FormatYAML, false},
		{"yaml list", "- sops\n", sops.FormatYAML, false},
		{"json", `{"a":"ENC[x]","sops":{"mac":"ENC[y]","version":"3.13.3"}}`, sops.FormatJSON, true},
		{"json plain", `{"sops":"no"}`, sops.FormatJSON, false},
		{"dotenv", "A=ENC[x]\nsops_mac=ENC[y]\nsops_version=3.13.3\n", sops.FormatDotenv, true},
		{"dotenv plain", "A=b\nsops=1\n", sops.FormatDotenv, false},
		{"ini", "[db]\na = ENC[x]\n[sops]\nmac = ENC[y]\nversion = 3.13.3\n", sops.FormatINI, true},
		{"binary envelope", `{"data":"ENC[x]","sops":{"mac":"m","version":"v"}}`, sops.FormatBinary, true},
		{"random binary", "\x00\x01sops\xff", sops.FormatBinary, false},
		{"empty", "", sops.FormatYAML, false},
	}
	for _, c := range cases {
		if got := sops.IsEncrypted([]byte(c.data), c.f); got != c.want {
			t.Errorf("%s: IsEncrypted = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	cases := []struct {
		data string
		want sops.Format
		ok   bool
	}{
		{"a: ENC[x]\nsops:\n  mac: m\n  version: v\n", sops.FormatYAML, true},
		{`{"data":"ENC[x]","sops":{"mac":"m","version":"v"}}`, sops.FormatJSON, true},
		{"A=ENC[x]\nsops_mac=m\nsops_version=v\n", sops.FormatDotenv, true},
		{"[sops]\nmac = m\nversion = v\n", sops.FormatINI, true},
		{"just text", 0, false},
		{secretYAML, 0, false},
	}
	for _, c := range cases {
		got, ok := sops.DetectFormat([]byte(c.data))
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("DetectFormat(%q) = %v, %v; want %v, %v", c.data, got, ok, c.want, c.ok)
		}
	}
	if !sops.IsBinaryEnvelope([]byte(`{"data":"x","sops":{}}`)) || sops.IsBinaryEnvelope([]byte(`{"data":"x","other":1,"sops":{}}`)) {
		t.Error("IsBinaryEnvelope")
	}
}

func TestMACOf(t *testing.T) {
	kp := newX25519(t)
	for _, f := range []sops.Format{sops.FormatYAML, sops.FormatJSON, sops.FormatDotenv, sops.FormatINI, sops.FormatBinary} {
		plain := map[sops.Format]string{
			sops.FormatYAML: "a: b\n", sops.FormatJSON: `{"a":"b"}`, sops.FormatDotenv: "A=b\n", sops.FormatINI: "[s]\na = b\n", sops.FormatBinary: "bytes",
		}[f]
		enc := encrypt(t, plain, f, sopstest.Options{Recipients: []string{kp.recipient}})
		mac, ok := sops.MACOf(enc, f)
		if !ok || !strings.HasPrefix(mac, "ENC[AES256_GCM,") || !strings.Contains(string(enc), mac) {
			t.Errorf("%v: MACOf = %q, %v", f, mac, ok)
		}
		again := encrypt(t, plain, f, sopstest.Options{Recipients: []string{kp.recipient}})
		if other, _ := sops.MACOf(again, f); other == mac {
			t.Errorf("%v: two encryptions share a MAC", f)
		}
	}
	if _, ok := sops.MACOf([]byte("a: b\n"), sops.FormatYAML); ok {
		t.Error("MACOf of a plain document")
	}
}
