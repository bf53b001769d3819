package sops

import (
	"bytes"
	"strings"
	"testing"
)

// fuzzKey is a fixed data key, so FuzzParse's seeds and saved inputs replay.
var fuzzKey = bytes.Repeat([]byte{7}, dataKeySize)

// FuzzParse feeds arbitrary input to kseal's own SOPS parsers (every
// format, the metadata and its flattened form), then walks what parsed
// with a fixed data key and writes it in every format, with no recover in
// between: none of it may panic, and no error may quote the input.
func FuzzParse(f *testing.F) {
	const canary = "canary-value-1234"
	md := "sops:\n    age:\n        - recipient: age1x\n          enc: x\n    lastmodified: \"2024-01-01T00:00:00Z\"\n    mac: ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n    version: 3.13.3\n"
	f.Add([]byte("a: "+canary+"\n# c\nl: [1, {x: y}]\n"+md), uint8(FormatYAML))
	f.Add([]byte("a: &x {b: "+canary+"}\nc: *x\n---\nd: 1\n"+md), uint8(FormatYAML))
	f.Add([]byte(`{"a":"`+canary+`","n":[1,2.5,null,true],"sops":{"age":[{"recipient":"r","enc":"e"}],"lastmodified":"2024-01-01T00:00:00Z","mac":"","mac_only_encrypted":true,"encrypted_regex":"^a$"}}`), uint8(FormatJSON))
	f.Add([]byte("A="+canary+"\n#c\nsops_age__list_0__map_recipient=r\nsops_age__list_0__map_enc=e\nsops_lastmodified=2024-01-01T00:00:00Z\nsops_mac=\nsops_shamir_threshold=2\n"), uint8(FormatDotenv))
	f.Add([]byte("[s]\na = "+canary+"\n[sops]\nage__list_0__map_recipient = r\nage__list_0__map_enc = e\nlastmodified = 2024-01-01T00:00:00Z\nmac =\n"), uint8(FormatINI))
	f.Add([]byte(`{"data":"ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:bytes]","sops":{"key_groups":[{"age":[{"recipient":"r","enc":"e"}]},{"pgp":[{"fp":"F","created_at":"2024-01-01T00:00:00Z"}]}],"lastmodified":"2024-01-01T00:00:00Z"}}`), uint8(FormatBinary))
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		if len(data) > 1<<16 {
			return
		}
		in := Format(format % 5)
		docs, md, err := loadEncrypted(data, in)
		if err != nil {
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		dataKeyID(md)
		if _, err := decryptTree(docs, md, fuzzKey); err != nil {
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		for out := range formatNames {
			if _, err := emitDoc(docs, out); err != nil && strings.Contains(err.Error(), canary) {
				t.Fatalf("error quotes the input: %v", err)
			}
		}
	})
}
