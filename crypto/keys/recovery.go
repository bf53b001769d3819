package keys

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

// MaxRecoveryFile bounds a recovery key file.
const MaxRecoveryFile = 16 << 20

// ParsePrivateKeys reads decryption keys from a recovery file named name. It
// accepts:
//   - PEM files with RSA private keys (PKCS#1 or PKCS#8), such as tls.key or
//     the key.pem kubeseal --recovery-private-key takes;
//   - age identity files with AGE-SECRET-KEY-PQ-1... lines;
//   - Kubernetes Secrets as YAML or JSON, one or many documents or a List:
//     kseal key Secrets and sealed-secrets key Secret backups
//     (`kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`).
//
// Errors name the file and document, never key material.
func ParsePrivateKeys(name string, data []byte) ([]*sealing.DecryptionKey, error) {
	if len(data) > MaxRecoveryFile {
		return nil, fmt.Errorf("%s: file of %d bytes is larger than %d bytes", name, len(data), MaxRecoveryFile)
	}
	if looksLikeManifest(data) {
		return parseSecretKeys(name, data)
	}
	var out []*sealing.DecryptionKey
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "RSA PRIVATE KEY" && block.Type != "PRIVATE KEY" {
			continue
		}
		n++
		k, err := parseRSAPrivateKey(pem.EncodeToMemory(block))
		if err != nil {
			return nil, fmt.Errorf("%s: key %d: %w", name, n, err)
		}
		out = append(out, sealing.NewDecryptionKey(fmt.Sprintf("%s#%d", name, n), k, nil))
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 8<<10), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(s, "AGE-SECRET-KEY-PQ-1") {
			continue
		}
		id, err := age.ParseHybridIdentity(s)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: malformed age hybrid identity", name, line)
		}
		// A bare identity line does not say its purpose; treat it as a
		// legacy identity that may serve both v2 and SOPS.
		k := sealing.NewDecryptionKey(fmt.Sprintf("%s:%d", name, line), nil, id)
		k.Sops, k.Shared = id, true
		out = append(out, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no private key found (expected a PEM RSA private key, an AGE-SECRET-KEY-PQ-1 identity, or a key Secret manifest)", name)
	}
	return out, nil
}

func looksLikeManifest(data []byte) bool {
	t := bytes.TrimSpace(data)
	return bytes.HasPrefix(t, []byte("{")) || bytes.Contains(data, []byte("kind:")) || bytes.Contains(data, []byte("apiVersion:"))
}

// manifest is the part of a Kubernetes document needed to find Secrets.
type manifest struct {
	Kind  string            `json:"kind"`
	Items []json.RawMessage `json:"items"`
}

func parseSecretKeys(name string, data []byte) ([]*sealing.DecryptionKey, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*sealing.DecryptionKey
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: document %d: not valid YAML or JSON", name, doc)
		}
		if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var m manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d: not a Kubernetes object", name, doc)
		}
		items := []json.RawMessage{raw}
		if strings.HasSuffix(m.Kind, "List") {
			items = m.Items
		}
		for i, item := range items {
			var s corev1.Secret
			if err := json.Unmarshal(item, &s); err != nil || s.Kind != "Secret" {
				return nil, fmt.Errorf("%s: document %d item %d: not a Secret", name, doc, i+1)
			}
			g, err := FromSecret(&s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, g.DecryptionKey())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no key Secret found", name)
	}
	return out, nil
}
