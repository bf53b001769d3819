package sops

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Format is the syntax of a SOPS document, as the sops command's
// --input-type names it.
type Format int

// Formats of SOPS documents.
const (
	// FormatBinary is any file encrypted as a whole: at rest a JSON object
	// with the ciphertext in "data", decrypted the original bytes.
	FormatBinary Format = iota
	// FormatYAML is a YAML document, or a stream of them.
	FormatYAML
	// FormatJSON is a JSON object.
	FormatJSON
	// FormatDotenv is a file of KEY=value lines.
	FormatDotenv
	// FormatINI is an INI file.
	FormatINI
)

var formatNames = map[Format]string{
	FormatBinary: "binary",
	FormatYAML:   "yaml",
	FormatJSON:   "json",
	FormatDotenv: "dotenv",
	FormatINI:    "ini",
}

// String returns the name of f as ParseFormat accepts it.
func (f Format) String() string {
	if s, ok := formatNames[f]; ok {
		return s
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat reads a format name: yaml, json, dotenv, ini or binary (the
// names of sops --input-type).
func ParseFormat(name string) (Format, error) {
	for f, s := range formatNames {
		if strings.EqualFold(name, s) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown SOPS format %q: use yaml, json, dotenv, ini or binary", name)
}

// FormatForPath returns the format sops uses for a file name: .yaml and
// .yml are YAML, .json and .dockerconfigjson are JSON, .env is dotenv, .ini
// is INI, and anything else is binary.
func FormatForPath(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return FormatYAML
	case ".json", ".dockerconfigjson":
		return FormatJSON
	case ".env":
		return FormatDotenv
	case ".ini":
		return FormatINI
	}
	return FormatBinary
}

// IsEncrypted reports whether data is a SOPS document in format f: it carries
// SOPS metadata with a mac and a version. Anything else, including input that
// does not parse, is not encrypted. For YAML only the first document counts,
// as sops keeps the metadata there.
func IsEncrypted(data []byte, f Format) bool {
	md := metadataFields(data, f)
	for _, k := range metadataKeys {
		if _, ok := md[k]; !ok {
			return false
		}
	}
	return true
}

// MACOf returns the MAC stored in a SOPS document's metadata, still
// encrypted. It is unique to one encryption of one document, so it
// identifies the document after tools such as kustomize have rewritten it.
func MACOf(data []byte, f Format) (string, bool) {
	if !IsEncrypted(data, f) {
		return "", false
	}
	mac := metadataFields(data, f)["mac"]
	return mac, mac != ""
}

// metadataFields returns the scalar fields of the SOPS metadata of data, or nil.
func metadataFields(data []byte, f Format) (md map[string]string) {
	defer func() {
		if recover() != nil {
			md = nil
		}
	}()
	if !bytes.Contains(data, []byte("sops")) {
		return nil
	}
	switch f {
	case FormatYAML:
		return yamlMetadata(data)
	case FormatJSON, FormatBinary:
		return jsonMetadata(data)
	case FormatDotenv:
		return dotenvMetadata(data)
	case FormatINI:
		return iniMetadata(data)
	}
	return nil
}

// DetectFormat tells whether data is a SOPS document and in which format it
// is stored, from its content alone. A file encrypted as binary is reported
// as FormatJSON, its form at rest; IsBinaryEnvelope tells it apart.
func DetectFormat(data []byte) (Format, bool) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' && IsEncrypted(data, FormatJSON) {
		return FormatJSON, true
	}
	for _, f := range []Format{FormatDotenv, FormatINI, FormatYAML} {
		if IsEncrypted(data, f) {
			return f, true
		}
	}
	return 0, false
}

// IsBinaryEnvelope reports whether data is a file that sops encrypted as
// binary: a JSON object holding only "data" and "sops".
func IsBinaryEnvelope(data []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || len(m) != 2 {
		return false
	}
	_, hasData := m["data"]
	_, hasSops := m["sops"]
	return hasData && hasSops
}

// metadataKeys are the fields every SOPS metadata block has.
var metadataKeys = []string{"mac", "version"}

func yamlMetadata(data []byte) map[string]string {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "sops" {
			continue
		}
		md := top.Content[i+1]
		if md.Kind != yaml.MappingNode {
			return nil
		}
		out := map[string]string{}
		for j := 0; j+1 < len(md.Content); j += 2 {
			out[md.Content[j].Value] = md.Content[j+1].Value
		}
		return out
	}
	return nil
}

func jsonMetadata(data []byte) map[string]string {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil
	}
	var md map[string]json.RawMessage
	if json.Unmarshal(top["sops"], &md) != nil || md == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range md {
		var s string
		_ = json.Unmarshal(v, &s)
		out[k] = s
	}
	return out
}

func dotenvMetadata(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if name, isMeta := strings.CutPrefix(key, "sops_"); ok && isMeta {
			out[name] = value
		}
	}
	if sc.Err() != nil {
		return nil
	}
	return out
}

func iniMetadata(data []byte) map[string]string {
	out := map[string]string{}
	inSops := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			inSops = strings.TrimSpace(line[1:len(line)-1]) == "sops"
			continue
		}
		if key, value, ok := strings.Cut(line, "="); ok && inSops {
			out[strings.TrimSpace(key)] = strings.TrimSpace(value)
		}
	}
	if sc.Err() != nil {
		return nil
	}
	return out
}
