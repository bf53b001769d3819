package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getsops/sops/v3/config"
)

// sopsRuleFor loads .sops.yaml at path with the sops library, as sops
// --encrypt would for file, and returns the age recipients and the
// encrypted_regex of the rule that applies.
func sopsRuleFor(t *testing.T, path, file string) ([]string, string) {
	t.Helper()
	conf, err := config.LoadCreationRuleForFile(path, file, nil)
	if err != nil || conf == nil {
		t.Fatalf("sops reads %s for %s: %v", path, file, err)
	}
	var got []string
	for _, g := range conf.KeyGroups {
		for _, k := range g {
			got = append(got, k.ToString())
		}
	}
	return got, conf.EncryptedRegex
}

// TestSopsConfig: the printed rule is one sops reads, encrypting Secrets to
// the cluster's current SOPS recipient; --update moves the kseal rule to a
// renewed key and keeps team keys and every other rule.
func TestSopsConfig(t *testing.T) {
	isolateEnv(t)
	r := newRenewal(t)
	dir := t.TempDir()
	cert1, cert2 := filepath.Join(dir, "cert1.pem"), filepath.Join(dir, "cert2.pem")
	writeFiles(t, dir, map[string]string{"cert1.pem": string(r.gen1.CertificatePEM), "cert2.pem": string(r.gen2.CertificatePEM)})

	out, errOut, code := runCLI(t, "", "sops", "config", "--cert", cert1)
	if code != 0 {
		t.Fatalf("sops config = %d\n%s", code, errOut)
	}
	team := "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	sopsYAML := filepath.Join(dir, ".sops.yaml")
	// A team key after the cluster's, and a rule of another cluster.
	edited := strings.Replace(out, "      - "+r.recipient(r.gen1)+"\n", "      - "+r.recipient(r.gen1)+"\n      - "+team+"\n", 1) +
		"  # the dev cluster\n  - path_regex: dev/.*\n    age: " + r.foreignB.Recipient().String() + "\n"
	writeFiles(t, dir, map[string]string{".sops.yaml": edited})
	if got, regex := sopsRuleFor(t, sopsYAML, "overlays/prod/db.enc.yaml"); len(got) != 2 || got[0] != r.recipient(r.gen1) || regex != "^(data|stringData)$" {
		t.Fatalf("rule for generation 1 = %v, %q\n%s", got, regex, edited)
	}

	out, errOut, code = runCLI(t, "", "sops", "config", "--cert", cert2, "--update", sopsYAML)
	if code != 0 || out != "" || !strings.Contains(errOut, "updated the kseal rule") {
		t.Fatalf("sops config --update = %d\n%s%s", code, out, errOut)
	}
	updated := string(readFile(t, sopsYAML))
	if got, _ := sopsRuleFor(t, sopsYAML, "overlays/prod/db.enc.yaml"); len(got) != 2 || got[0] != r.recipient(r.gen2) || got[1] != team {
		t.Fatalf("rule after the renewal = %v\n%s", got, updated)
	}
	if got, _ := sopsRuleFor(t, sopsYAML, "dev/db.yaml"); len(got) != 1 || got[0] != r.foreignB.Recipient().String() || !strings.Contains(updated, "# the dev cluster") {
		t.Fatalf("the other rule changed: %v\n%s", got, updated)
	}
	_, errOut, code = runCLI(t, "", "sops", "config", "--cert", cert2, "--update", sopsYAML)
	if code != 0 || !strings.Contains(errOut, "is up to date") || string(readFile(t, sopsYAML)) != updated {
		t.Fatalf("second --update = %d\n%s", code, errOut)
	}

	// A file kseal cannot read is left as it is.
	bad := "creation_rules: {path_regex: x}\n"
	if err := os.WriteFile(sopsYAML, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCLI(t, "", "sops", "config", "--cert", cert2, "--update", sopsYAML)
	if code != 1 || !strings.Contains(errOut, "creation_rules is not a list") || string(readFile(t, sopsYAML)) != bad {
		t.Fatalf("--update of a bad file = %d\n%s", code, errOut)
	}
}
