package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sops"
)

type reencryptOptions struct {
	controller controllerFlags
	sops       sopsRekeyFlags
}

func newReencryptCommand(s *streams) *cobra.Command {
	o := &reencryptOptions{}
	cmd := &cobra.Command{
		Use:   "reencrypt PATH...",
		Short: "Re-encrypt SealedSecrets and SOPS files in files and directories to the controller's newest key",
		Long: `Reencrypt sends every SealedSecret found in the given files, and in the
*.yaml, *.yml and *.json files under the given directories (hidden directories
such as .git are skipped), to the controller, which seals its items again with
its newest key generation. Files are rewritten in place, atomically, and only
when a SealedSecret changed; other documents of a multi-document file are kept
byte for byte. kseal.dev objects are sealed in format v2, bitnami.com objects in
format v1, each with its scope.

SOPS documents (YAML, JSON and .env files with sops metadata, such as
Secrets encrypted with encrypted_regex for Flux) are moved to the newest key
generation's SOPS recipient, on this machine, with the key generations read
by --from-cluster or from a key Secret backup given to --age-key-file: the
data key is opened and encrypted to the new recipient, the recipients of the
older generations are removed, and every other recipient and key group is
kept. --rotate-data-key also makes a new data key and rewrites values and
MAC. A document whose MAC does not match is refused; one not encrypted to
the cluster is left alone and listed.

A file with a problem (not YAML, a SealedSecret the controller cannot
unseal, a SOPS document that does not open) is left untouched and listed at
the end; the exit code is then 1.`,
		Example: `  kseal reencrypt clusters/prod
  kseal reencrypt --context prod apps/db/sealed.yaml
  kseal reencrypt --from-cluster overlays/prod          # SealedSecrets and SOPS files
  kseal reencrypt --age-key-file keys-backup.yaml --rotate-data-key overlays/prod/db.enc.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	o.controller.register(cmd)
	o.sops.register(cmd)
	return cmd
}

// fileResult is what became of one file.
type fileResult int

const (
	fileWithout   fileResult = iota // no SealedSecret in it
	fileUnchanged                   // every SealedSecret was up to date
	fileChanged                     // rewritten
)

func (o *reencryptOptions) run(ctx context.Context, s *streams, paths []string) error {
	files, links, err := manifestFiles(paths)
	if err != nil {
		return err
	}
	for _, l := range links {
		fmt.Fprintf(s.err, "reencrypt: skipped symbolic link %s (name the file it points to to re-encrypt it)\n", l)
	}
	r := &reencrypter{controller: &o.controller,
		sops: &sopsRekeyer{flags: &o.sops, controller: &o.controller, getenv: os.Getenv}}
	progress := isTerminal(s.err)
	var changed, unchanged, found int
	var failed, notes []string
	var abort error
	for i, path := range files {
		if progress {
			fmt.Fprintf(s.err, "\r\033[K[%d/%d] %s", i+1, len(files), path)
		}
		res, fileNotes, err := r.file(ctx, path)
		for _, n := range fileNotes {
			notes = append(notes, path+": "+n)
		}
		if err != nil {
			var setup *setupError
			switch {
			case r.clientErr != nil:
				abort = r.clientErr
			case errors.As(err, &setup):
				abort = setup.err
			case unreachable(err):
				abort = o.controller.reachError("re-encrypt "+path, r.client, err)
			}
			if abort != nil {
				break
			}
			failed = append(failed, fmt.Sprintf("%s: %v", path, err))
			found++
			continue
		}
		switch res {
		case fileChanged:
			changed++
		case fileUnchanged:
			unchanged++
		}
		if res != fileWithout {
			found++
		}
	}
	if progress {
		fmt.Fprint(s.err, "\r\033[K")
	}
	fmt.Fprintf(s.out, "reencrypt: %d changed, %d unchanged, %d failed\n", changed, unchanged, len(failed))
	for _, f := range failed {
		fmt.Fprintf(s.out, "  failed: %s\n", f)
	}
	for _, n := range notes {
		fmt.Fprintf(s.out, "  skipped: %s\n", n)
	}
	switch {
	case abort != nil:
		return abort
	case len(failed) > 0:
		return withHint(fmt.Errorf("%d file(s) could not be re-encrypted and were left unchanged", len(failed)),
			"fix the files listed above and run kseal reencrypt again; files already re-encrypted stay as they are")
	case found == 0 && len(notes) == 0:
		fmt.Fprintf(s.err, "reencrypt: no SealedSecret or SOPS document found in %d file(s)\n", len(files))
	}
	return nil
}

// unreachable reports whether err is about the controller rather than one
// object: then every other file would fail the same way.
func unreachable(err error) bool {
	var ce *controllerError
	if errors.As(err, &ce) {
		switch ce.Status {
		case 400, 409, 413:
			return false
		}
		return true
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// reencrypter re-encrypts the documents of one run: SealedSecrets through
// the controller (reached on the first one), SOPS documents on this
// machine.
type reencrypter struct {
	controller *controllerFlags
	sops       *sopsRekeyer
	// client is the controller's, once made; clientErr why it could not be.
	client    *controllerClient
	clientErr error
}

func (r *reencrypter) rotate(ctx context.Context, body []byte) ([]byte, bool, error) {
	if r.client == nil && r.clientErr == nil {
		r.client, r.clientErr = r.controller.client()
	}
	if r.clientErr != nil {
		return nil, false, r.clientErr
	}
	return r.client.Rotate(ctx, body)
}

// file re-encrypts the SealedSecrets and SOPS documents of the file at path
// and rewrites it when one changed. notes are documents left alone.
func (r *reencrypter) file(ctx context.Context, path string) (fileResult, []string, error) {
	before, err := os.Stat(path)
	if err != nil {
		return 0, nil, err
	}
	data, err := readFileLimit(path, maxInput)
	if err != nil {
		return 0, nil, err
	}
	out, res, notes, err := r.content(ctx, path, data)
	if err != nil || res != fileChanged {
		return res, notes, err
	}
	unchanged := func() error { return checkUnchanged(path, before, data) }
	if err := writeAtomic(path, out, 0o644, false, unchanged); err != nil {
		return 0, notes, err
	}
	return fileChanged, notes, nil
}

// content re-encrypts the documents of one file's data and returns the new
// content when one changed.
func (r *reencrypter) content(ctx context.Context, path string, data []byte) ([]byte, fileResult, []string, error) {
	f := sops.FormatForPath(path)
	switch {
	case f == sops.FormatDotenv || (f == sops.FormatJSON && sops.IsEncrypted(data, f)):
		return r.whole(ctx, path, data, f)
	}
	if _, err := checkYAML(path, data, defaultYAMLLimits, nil); err != nil {
		return nil, 0, nil, withHint(err, hintYAMLLimit)
	}
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, 0, nil, err
	}
	if sopsStream(docs) {
		return r.whole(ctx, path, data, sops.FormatYAML)
	}
	res := fileWithout
	var notes []string
	for i := range docs {
		d := &docs[i]
		if !d.sealed && d.sopsMAC == "" {
			continue
		}
		var out []byte
		var rotated bool
		if d.sealed {
			out, rotated, err = r.rotate(ctx, d.body)
		} else {
			out, rotated, err = r.sops.rekey(ctx, path+": "+d.describe(), d.body, sops.FormatYAML)
		}
		if note, failed := sopsOutcome(err); err != nil && !failed {
			notes = append(notes, d.describe()+": "+note)
			continue
		}
		if res == fileWithout {
			res = fileUnchanged
		}
		if err != nil {
			return nil, 0, notes, fmt.Errorf("%s: %w", d.describe(), sopsError(err))
		}
		if !rotated {
			continue
		}
		if i < len(docs)-1 && !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		d.body, res = out, fileChanged
	}
	if res != fileChanged {
		return nil, res, notes, nil
	}
	return joinDocuments(docs), fileChanged, notes, nil
}

// errChanged: a file changed while kseal re-encrypted it.
var errChanged = errors.New("changed while kseal reencrypt ran; left as it is")

// checkUnchanged fails when the file at path is no longer what was read:
// another size, time or content (an editor or a git checkout wrote it).
func checkUnchanged(path string, before os.FileInfo, data []byte) error {
	now, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %w", errChanged, err)
	}
	if now.Size() != before.Size() || !now.ModTime().Equal(before.ModTime()) || !os.SameFile(now, before) {
		return withHint(errChanged, "run kseal reencrypt again")
	}
	again, err := readFileLimit(path, maxInput)
	if err != nil || !bytes.Equal(again, data) {
		return withHint(errChanged, "run kseal reencrypt again")
	}
	return nil
}

// manifestFiles lists the files named in paths, and the *.yaml, *.yml and
// *.json files under the directories named, skipping hidden directories.
// Symbolic links found in directories are not followed; they are returned
// in links, to be reported.
func manifestFiles(paths []string) (files, links []string, err error) {
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, nil, withHint(err, "kseal reencrypt takes files and directories of manifests")
		}
		if !fi.IsDir() {
			// Rewrite the file a symbolic link points to, not the link.
			resolved, err := filepath.EvalSymlinks(root)
			if err != nil {
				return nil, nil, err
			}
			add(resolved)
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			manifest := false
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml", ".json", ".env":
				manifest = true
			}
			switch {
			case manifest && d.Type().IsRegular():
				add(p)
			case d.Type()&fs.ModeSymlink != 0:
				if fi, err := os.Stat(p); manifest || (err == nil && fi.IsDir()) {
					links = append(links, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return files, links, nil
}

// isTerminal reports whether w is a terminal, where progress may be drawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// document is one document of a YAML stream, kept as text.
type document struct {
	// index is the 1-based position in the stream; line is where its text
	// starts (1-based).
	index, line int
	// sep is the "---" line before the document, with its line break; empty
	// for a first document without one.
	sep []byte
	// body is the document's text, up to the next separator.
	body []byte
	// sealed is true for a kseal.dev or bitnami.com SealedSecret.
	sealed bool
	// sopsMAC is the stored MAC of a SOPS document (a top-level sops
	// mapping with mac and version), "" for other documents.
	sopsMAC string
	// namespace and name identify a SealedSecret, for messages.
	namespace, name string
}

func (d *document) describe() string {
	if d.sopsMAC != "" {
		return fmt.Sprintf("SOPS document %d", d.index)
	}
	if d.name == "" {
		return fmt.Sprintf("document %d", d.index)
	}
	if d.namespace == "" {
		return fmt.Sprintf("SealedSecret %s (document %d)", d.name, d.index)
	}
	return fmt.Sprintf("SealedSecret %s/%s (document %d)", d.namespace, d.name, d.index)
}

// splitDocuments cuts a YAML (or JSON) stream at its "---" lines and finds
// the SealedSecrets, keeping every byte so that joinDocuments gives the
// input back. A document that is not YAML is an error that names its line.
func splitDocuments(data []byte) ([]document, error) {
	docs := []document{{index: 1, line: 1}}
	line := 1
	for rest := data; len(rest) > 0; line++ {
		n := bytes.IndexByte(rest, '\n') + 1
		if n == 0 {
			n = len(rest)
		}
		l := rest[:n]
		rest = rest[n:]
		if isSeparator(l) {
			docs = append(docs, document{index: len(docs) + 1, line: line + 1, sep: l})
			continue
		}
		d := &docs[len(docs)-1]
		d.body = append(d.body, l...)
	}
	for i := range docs {
		if err := docs[i].classify(); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n'
}

func joinDocuments(docs []document) []byte {
	var b bytes.Buffer
	for _, d := range docs {
		b.Write(d.sep)
		b.Write(d.body)
	}
	return b.Bytes()
}

var lineNumber = regexp.MustCompile(`line (\d+)`)

// classify reads the kind of the document.
func (d *document) classify() error {
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Sops any `json:"sops"`
	}
	if err := yaml.Unmarshal(d.body, &obj); err != nil {
		// Report the position only: the message may quote the input.
		where := ""
		if m := lineNumber.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			where = fmt.Sprintf(" (syntax error at line %d)", d.line+n-1)
		}
		return withHint(fmt.Errorf("document %d is not a valid YAML or JSON object%s", d.index, where),
			"fix the file, or move it out of the directory given to kseal")
	}
	d.sealed = obj.Kind == v1alpha1.SealedSecretKind &&
		(obj.APIVersion == sealedsecret.APIVersion || obj.APIVersion == sealedsecret.BitnamiAPIVersion)
	if d.sealed {
		d.namespace, d.name = obj.Metadata.Namespace, obj.Metadata.Name
	}
	if md, ok := obj.Sops.(map[string]any); ok && md["version"] != nil {
		if mac, ok := md["mac"].(string); ok && mac != "" {
			d.sopsMAC = mac
		}
	}
	return nil
}
