// Package rekey moves SOPS documents to a new age recipient (kseal
// reencrypt), as `sops updatekeys` and `sops rotate` do. Unlike package
// sops, which decrypts without it, it uses the SOPS library to write the
// re-encrypted documents; only the kseal command links it.
package rekey

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"

	"filippo.io/age"
	gosops "github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/logging"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	"github.com/getsops/sops/v3/stores/json"
	"github.com/getsops/sops/v3/stores/yaml"

	"github.com/kseal-dev/kseal/crypto/sops"
)

// rekeyer holds what Rekey needs of a Decryptor.
type rekeyer struct {
	identities []age.Identity
	held       []string
	maxSize    int
}

// dataKeySize is the size of a SOPS data key (AES-256).
const dataKeySize = 32

// errUndecryptable is the one cause given for every failure after an age
// stanza of the document opened, as sops.Decryptor gives it.
var errUndecryptable = fmt.Errorf("%w: the document's values do not decrypt with its data key (a value or the data key was changed, or copied from another file)", sops.ErrCorrupt)

// quietOnce silences the SOPS library's loggers, which write to stderr and
// may print values (for example a comment it could not decrypt).
var quietOnce sync.Once

func quiet() {
	quietOnce.Do(func() {
		for _, l := range logging.Loggers {
			l.SetOutput(io.Discard)
		}
	})
}

// dataKey opens the document's data key with the identities held.
func (d *rekeyer) dataKey(md *gosops.Metadata) ([]byte, error) {
	ks := &ageKeyService{identities: d.identities}
	key, err := md.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ks)}, nil)
	switch {
	case err == nil && len(key) != dataKeySize:
		clear(key)
		return nil, errUndecryptable
	case err != nil && (ks.oversized > 0 || (ks.opened > 0 && strings.Contains(err.Error(), "shamir"))):
		// An opened stanza was too large, or opened Shamir parts do not
		// combine: both depend on what the stanzas hold.
		return nil, errUndecryptable
	case err != nil:
		return nil, d.keyError(md, ks)
	}
	return key, nil
}

// store returns the SOPS store for f.
func store(f sops.Format) (gosops.Store, error) {
	switch f {
	case sops.FormatYAML:
		return yaml.NewStore(&config.YAMLStoreConfig{}), nil
	case sops.FormatJSON:
		return json.NewStore(&config.JSONStoreConfig{}), nil
	case sops.FormatBinary:
		return json.NewBinaryStore(&config.JSONBinaryStoreConfig{}), nil
	case sops.FormatDotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{}), nil
	case sops.FormatINI:
		return ini.NewStore(&config.INIStoreConfig{}), nil
	}
	return nil, fmt.Errorf("unknown SOPS format %d", int(f))
}

// loadError explains why a document did not load, without its content.
func loadError(err error, f sops.Format) error {
	if errors.Is(err, gosops.MetadataNotFound) {
		return sops.ErrNotEncrypted
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Error unmarshaling input YAML"), strings.Contains(msg, "Could not unmarshal input data"),
		strings.Contains(msg, "invalid dotenv input line"):
		return fmt.Errorf("%w: not a valid %s document (%s)", sops.ErrMalformed, f, parseDetail(msg))
	}
	return fmt.Errorf("%w: %s", sops.ErrMalformed, redact(msg, nil))
}

// decryptError explains a failure of Tree.Decrypt.
func decryptError(err error, values []string) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not match sops' data format"):
		return fmt.Errorf("%w: a value that should be encrypted is not in SOPS's ENC[...] form (was it added or edited after encryption? edit with `sops FILE`)", sops.ErrMalformed)
	case strings.Contains(msg, "Could not decrypt with AES_GCM"):
		return errUndecryptable
	case strings.Contains(msg, "Expected encrypted value as string"):
		return fmt.Errorf("%w: a value that should be encrypted is not a string", sops.ErrMalformed)
	}
	return fmt.Errorf("%w: %s", sops.ErrCorrupt, redact(msg, values))
}

// keyError describes why no data key was found.
func (d *rekeyer) keyError(md *gosops.Metadata, ks *ageKeyService) error {
	ke := &sops.KeyError{Held: d.held}
	for _, group := range md.KeyGroups {
		for _, k := range group {
			if ak, ok := k.(*sopsage.MasterKey); ok {
				ke.Recipients = append(ke.Recipients, ak.Recipient)
				continue
			}
			ke.OtherKeys = append(ke.OtherKeys, k.TypeToIdentifier()+": "+k.ToString())
		}
	}
	if ks.failed > 0 && ks.noMatch == 0 {
		ke.Corrupt = true
	}
	return ke
}

// leafStrings appends the string values of branches (plaintext or
// ciphertext) to out, for redaction.
func leafStrings(branches gosops.TreeBranches, out []string) []string {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case gosops.TreeBranch:
			for _, item := range v {
				walk(item.Value)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case gosops.Comment:
			out = append(out, v.Value)
		}
	}
	for _, b := range branches {
		walk(b)
	}
	return out
}

// Redaction of messages that come from the SOPS library or YAML/JSON
// parsers. The Decryptor builds its own messages for every failure it
// understands; what remains is passed through redact, which removes every
// value of the document that it knows, every quoted string, and the value
// part of messages known to quote input.
var (
	// quoted matches "...", '...' and `...` spans, where parsers and
	// fmt's %q put the input they complain about.
	quoted = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|`[^`]*`")
	// inputString is the aes cipher's message for a value that is not in
	// SOPS's ENC[...] form; it quotes the value without quotation marks.
	inputString = regexp.MustCompile(`(?s)Input string .* does not match sops' data format`)
	// afterColon are messages whose tail, after "prefix:", is input.
	afterColon = []string{"invalid dotenv input line", "Could not convert", "walkValue of Comment"}
)

const redacted = "<redacted>"

// redact removes values from msg. values are the strings known to be in the
// document (plaintext or ciphertext); short ones are left alone, as
// replacing them would garble the message without hiding anything.
func redact(msg string, values []string) string {
	msg = inputString.ReplaceAllString(msg, "Input string "+redacted+" does not match sops' data format")
	for _, p := range afterColon {
		if i := strings.Index(msg, p); i >= 0 {
			msg = msg[:i+len(p)] + ": " + redacted
		}
	}
	msg = quoted.ReplaceAllString(msg, redacted)
	sorted := append([]string(nil), values...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, v := range sorted {
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, redacted)
		}
	}
	return msg
}

// lineOf keeps the "line N" part of a parser message, dropping the rest.
var lineOf = regexp.MustCompile(`line \d+`)

// parseDetail describes a parser failure by position only.
func parseDetail(msg string) string {
	if m := lineOf.FindString(msg); m != "" {
		return "syntax error at " + m
	}
	return "syntax error"
}
