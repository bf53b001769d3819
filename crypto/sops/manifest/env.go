package manifest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kseal-dev/kseal/crypto/sops"
)

// decryptEnvData decrypts a Secret that secretGenerator envs: made from a
// SOPS-encrypted dotenv file. Kustomize turned each line of the file into a
// data entry, the SOPS metadata (sops_mac, sops_version, ...) included, in
// sorted order. The file is put together again, decrypted, and its
// plaintext lines become the data. As the order changed, the MAC holds only
// if the file was verified as committed (Decrypter.Verified).
func (d *Decrypter) decryptEnvData(node *kyaml.RNode, name string) (bool, error) {
	f := node.Field("data")
	if f == nil || f.Value.YNode().Kind != kyaml.MappingNode {
		return false, nil
	}
	content := f.Value.YNode().Content
	values := map[string]string{}
	var file bytes.Buffer
	for i := 0; i+1 < len(content); i += 2 {
		k, v := content[i], content[i+1]
		if v.Kind != kyaml.ScalarNode {
			return false, nil
		}
		raw, err := base64.StdEncoding.DecodeString(v.Value)
		if err != nil || bytes.ContainsAny(raw, "\n\r") {
			return false, nil
		}
		values[k.Value] = string(raw)
		fmt.Fprintf(&file, "%s=%s\n", k.Value, raw)
	}
	if values["sops_mac"] == "" || values["sops_version"] == "" {
		return false, nil
	}
	name += " data (from a SOPS-encrypted dotenv file)"
	dec, err := d.keys(values["sops_mac"], name)
	if err != nil {
		return false, err
	}
	plain, err := dec.Decrypt(name, file.Bytes(), sops.FormatDotenv)
	if err != nil {
		return false, err
	}
	data := &kyaml.Node{Kind: kyaml.MappingNode, Tag: kyaml.NodeTagMap}
	sc := bufio.NewScanner(bytes.NewReader(plain))
	sc.Buffer(make([]byte, 0, 64<<10), len(plain)+1)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		data.Content = append(data.Content,
			&kyaml.Node{Kind: kyaml.ScalarNode, Tag: kyaml.NodeTagString, Value: k},
			&kyaml.Node{Kind: kyaml.ScalarNode, Tag: kyaml.NodeTagString, Value: base64.StdEncoding.EncodeToString([]byte(v))})
	}
	f.Value.SetYNode(data)
	return true, nil
}
