package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/manifest"
)

// renderOptions holds the flags of kseal render.
type renderOptions struct {
	path          string
	ids           identityFlags
	reseal        bool
	cert          string
	formatVersion string
	namespace     string
	allowRemote   bool
	controller    controllerFlags

	now time.Time
}

func newRenderCommand(s *streams) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render [DIR|FILE]",
		Short: "Build a kustomization and decrypt its SOPS-encrypted resources, for a GitOps sync engine",
		Long: `Render runs kustomize build on DIR (default: the current directory), or reads
the *.yaml, *.yml and *.json manifests of a directory without a kustomization
(or one FILE), then decrypts every SOPS-encrypted resource:

  - a whole document encrypted with sops --encrypt (it carries a sops: field);
  - Secret data and stringData values that are SOPS-encrypted files, as from a
    secretGenerator files: entry (format from the key's extension: .yaml,
    .json, .env, .ini, else binary);
  - Secrets made by a secretGenerator envs: entry from a SOPS dotenv file.

Everything else passes through unchanged. The MAC of each SOPS file is checked
on the file as committed, before kustomize rewrites it. The YAML stream goes
to stdout only when everything succeeded; on any failure stdout stays empty.

Age identities come from --age-key-file, $` + EnvAgeKey + ` and --from-cluster, never
from SOPS_AGE_KEY or ~/.config/sops. They are read only when a document needs
them. Kustomize runs with its defaults: no plugins, and no file outside the
kustomization's directory.

With --reseal every decrypted Secret is sealed at once to the destination
cluster (--cert, or the controller's certificate as kseal seal fetches it), so
no plaintext reaches the sync engine or its caches.`,
		Example: `  kseal render overlays/prod --age-key-file key.txt | kubectl apply -f -
  KSEAL_AGE_KEY="$(cat key.txt)" kseal render .
  kseal render overlays/prod --from-cluster --reseal --namespace prod`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.path = "."
			if len(args) == 1 {
				o.path = args[0]
			}
			if !o.reseal {
				for _, name := range []string{"cert", "format-version", "namespace"} {
					if cmd.Flags().Changed(name) {
						return withHint(fmt.Errorf("--%s is used only with --reseal", name), "add --reseal to seal the decrypted Secrets")
					}
				}
			}
			o.now = time.Now()
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	o.ids.register(cmd)
	f.BoolVar(&o.reseal, "reseal", false, "seal every decrypted Secret to the cluster's certificate (a SealedSecret) instead of printing it")
	var certDefault string
	if d := defaultCerts(); len(d) > 0 {
		certDefault = d[0]
	}
	f.StringVar(&o.cert, "cert", certDefault, "with --reseal: certificate file or http(s) URL (default $KSEAL_CERT or $SEALED_SECRETS_CERT, else fetched from the controller)")
	f.StringVar(&o.formatVersion, "format-version", "v2", "with --reseal: sealed value format, v2 or v1")
	f.StringVarP(&o.namespace, "namespace", "n", "", "with --reseal: namespace of Secrets that have none (in Argo CD, $ARGOCD_APP_NAMESPACE)")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "let kustomize fetch remote bases and files (git repositories, http(s) URLs); refused by default")
	o.controller.register(cmd)
	return cmd
}

func (o *renderOptions) run(ctx context.Context, s *streams) error {
	var rs *resealer
	if o.reseal {
		var err error
		if rs, err = o.resealer(ctx); err != nil {
			return err
		}
	}
	src := &identitySource{flags: &o.ids, controller: &o.controller, getenv: os.Getenv}
	ms, verified, err := loadRenderInput(ctx, o.path, src, o.allowRemote)
	if err != nil {
		return err
	}
	d := decrypter(ctx, src, verified)
	if err := inParallel(len(ms), func(i int) error { return ms[i].decrypt(d) }); err != nil {
		return err
	}
	// Everything is rendered into memory first: a failure prints nothing.
	var out bytes.Buffer
	for i, m := range ms {
		doc, err := m.encode(rs)
		if err != nil {
			return err
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		if err := checkOutputSize(m, len(doc), out.Len()); err != nil {
			return err
		}
		out.Write(doc)
	}
	_, err = s.out.Write(out.Bytes())
	return err
}

// Output limits of kseal render and kseal krm (variables for tests). The
// API server takes a request of at most 3 MiB, so no resource it can store
// is larger than maxResourceOutput.
var (
	maxResourceOutput = 4 << 20
	maxOutput         = 64 << 20
)

// checkOutputSize refuses a resource of n bytes, written after written
// bytes, that goes over an output limit.
func checkOutputSize(m *renderItem, n, written int) error {
	if n > maxResourceOutput {
		return withHint(fmt.Errorf("%s: %d bytes rendered, more than the %d a resource may have", m.describe(), n, maxResourceOutput),
			"the API server refuses objects this large; keep large data out of manifests")
	}
	if written+n > maxOutput {
		return withHint(fmt.Errorf("the output is larger than %d bytes (at %s)", maxOutput, m.describe()),
			"split the kustomization into smaller applications")
	}
	return nil
}

// renderItem is one resource being rendered.
type renderItem struct {
	node *kyaml.RNode
	// source says where the resource came from, for messages: a file, or
	// the kustomization that produced it.
	source string
	// decrypted is set when any part of the resource was decrypted.
	decrypted bool
}

// describe names the resource for messages: kind, namespace/name, source.
func (m *renderItem) describe() string {
	kind, name, ns := m.node.GetKind(), m.node.GetName(), m.node.GetNamespace()
	if strings.HasPrefix(kind, "ENC[") || strings.HasPrefix(name, "ENC[") || strings.HasPrefix(ns, "ENC[") {
		// Encrypted with its metadata: nothing readable to show.
		kind, name, ns = "encrypted resource", "", ""
	}
	if kind == "" {
		kind = "resource"
	}
	if ns != "" {
		name = ns + "/" + name
	}
	d := kind
	if name != "" {
		d += " " + name
	}
	if m.source != "" {
		d += " (" + m.source + ")"
	}
	return d
}

// encode writes the resource as a YAML document, or, with a resealer, a
// decrypted Secret as a SealedSecret.
func (m *renderItem) encode(rs *resealer) ([]byte, error) {
	if rs != nil && m.decrypted {
		return rs.seal(m)
	}
	s, err := m.node.String()
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", m.describe(), err)
	}
	return []byte(s), nil
}

// loadRenderInput reads the resources at path: kustomize build of a
// directory with a kustomization, the manifests of another directory, or
// one file. It also returns the MACs (see sops.MACOf) of the SOPS files that
// kustomize read and kseal verified.
func loadRenderInput(ctx context.Context, path string, src *identitySource, allowRemote bool) ([]*renderItem, map[string]bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, withHint(err, "kseal render takes a kustomization directory, a directory of manifests, or a manifest file")
	}
	if !fi.IsDir() {
		ms, err := readRenderFile(ctx, path, filepath.Clean(path), src)
		return ms, nil, err
	}
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if _, err := os.Stat(filepath.Join(path, name)); err == nil {
			return kustomizeBuild(ctx, path, src, allowRemote)
		}
	}
	ms, err := readRenderDir(ctx, path, src)
	return ms, nil, err
}

// kustomizeBuild runs kustomize as `kustomize build` does by default:
// builtin plugins only, files restricted to the kustomization's root. It
// reads through a guardedFS: every file is bounded before kustomize parses
// it, and remote bases are refused unless allowRemote.
//
// Kustomize rewrites every resource (it sorts keys, applies namespaces and
// patches), which breaks the MAC of a SOPS document, so the MAC is checked
// on each SOPS file kustomize read, as committed: the file is decrypted,
// the plaintext dropped. Kustomize itself only ever sees the encrypted
// files.
func kustomizeBuild(ctx context.Context, dir string, src *identitySource, allowRemote bool) ([]*renderItem, map[string]bool, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified // sortOptions, else legacy: as kustomize build
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	opts.PluginConfig = types.DisabledPluginConfig()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	fs := &guardedFS{FileSystem: filesys.MakeFsOnDisk(), allowRemote: allowRemote, seen: map[string]bool{}}
	resMap, err := krusty.MakeKustomizer(opts).Run(fs, abs)
	if fs.err != nil {
		// A file the guard refused: kustomize's wrapping only hides why.
		return nil, nil, fs.err
	}
	if err != nil {
		return nil, nil, withHint(fmt.Errorf("kustomize build %s: %w", filepath.Clean(dir), err),
			"kseal render runs kustomize without plugins and refuses files outside the kustomization's directory, as kustomize build does")
	}
	verified, err := verifyFiles(ctx, src, fs.docs)
	if err != nil {
		return nil, nil, err
	}
	source := "kustomize build " + filepath.Clean(dir)
	var ms []*renderItem
	for _, res := range resMap.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", source, err)
		}
		node, err := kyaml.Parse(string(y))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", source, err)
		}
		ms = append(ms, &renderItem{node: node, source: source})
	}
	return ms, verified, nil
}

// verifyFiles decrypts each SOPS document to check its MAC and that a key
// opens it, dropping the plaintext, and returns the MACs of those verified.
func verifyFiles(ctx context.Context, src *identitySource, docs []sopsFile) (map[string]bool, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	dec, err := src.decryptor(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s is SOPS-encrypted: %w", docs[0].name, err)
	}
	err = inParallel(len(docs), func(i int) error {
		d := docs[i]
		if err := dec.Verify(d.name, d.data, d.format); err != nil {
			return decryptHint(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	verified := make(map[string]bool, len(docs))
	for _, d := range docs {
		verified[d.mac] = true
	}
	return verified, nil
}

// inParallel calls fn(0) ... fn(n-1) on up to GOMAXPROCS goroutines and
// returns the error of the lowest index, so failures are reported in the
// same order as when run one by one.
func inParallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// displayPath shows path relative to the working directory when it is
// below it.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return rel
}

// readRenderDir reads the *.yaml, *.yml and *.json files of dir (not its
// subdirectories) in name order, skipping hidden files such as .sops.yaml.
func readRenderDir(ctx context.Context, dir string, src *identitySource) ([]*renderItem, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	var ms []*renderItem
	for _, e := range entries {
		name := e.Name()
		switch strings.ToLower(filepath.Ext(name)) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		if strings.HasPrefix(name, ".") || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, name)
		if err := insideRoot(root, path); err != nil {
			return nil, err
		}
		got, err := readRenderFile(ctx, path, filepath.Clean(path), src)
		if err != nil {
			return nil, err
		}
		ms = append(ms, got...)
	}
	return ms, nil
}

// insideRoot refuses a path that leaves root through a symbolic link.
func insideRoot(root, path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return withHint(fmt.Errorf("%s leads outside %s", path, root), "kseal reads only files inside the directory it renders")
	}
	return nil
}

// readRenderFile reads the resources of one file. A file encrypted with
// SOPS as a whole (format from its extension) is decrypted first, so its MAC
// is checked against the file exactly as committed.
func readRenderFile(ctx context.Context, path, name string, src *identitySource) ([]*renderItem, error) {
	data, err := readFileLimit(path, defaultYAMLLimits.bytes)
	if err != nil {
		return nil, err
	}
	if _, err := checkYAML(name, data, defaultYAMLLimits, nil); err != nil {
		return nil, withHint(err, hintYAMLLimit)
	}
	decrypted := false
	if format := sops.FormatForPath(path); format != sops.FormatBinary && sops.IsEncrypted(data, format) {
		dec, err := src.decryptor(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s is SOPS-encrypted: %w", name, err)
		}
		if data, err = dec.Decrypt(name, data, format); err != nil {
			return nil, decryptHint(err)
		}
		if _, err := checkYAML(name, data, defaultYAMLLimits, nil); err != nil {
			return nil, withHint(err, hintYAMLLimit)
		}
		decrypted = true
	}
	nodes, err := manifest.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ms := make([]*renderItem, 0, len(nodes))
	for _, n := range nodes {
		ms = append(ms, &renderItem{node: n, source: name, decrypted: decrypted})
	}
	return ms, nil
}

// decrypter returns the manifest.Decrypter for src; verified holds the MACs
// of SOPS files verified as committed.
func decrypter(ctx context.Context, src *identitySource, verified map[string]bool) *manifest.Decrypter {
	return &manifest.Decrypter{
		Keys:         func() (*sops.Decryptor, error) { return src.decryptor(ctx) },
		VerifiedKeys: func() (*sops.Decryptor, error) { return src.verifiedDecryptor(ctx) },
		Verified:     verified,
	}
}

// decrypt decrypts one rendered resource in place.
func (m *renderItem) decrypt(d *manifest.Decrypter) error {
	ok, err := d.Decrypt(m.node, m.describe())
	if err != nil {
		return decryptHint(err)
	}
	m.decrypted = m.decrypted || ok
	return nil
}

// decryptHint adds advice to a decryption error.
func decryptHint(err error) error {
	var ke *sops.KeyError
	switch {
	case errors.Is(err, sops.ErrMACMismatch):
		return withHint(err, "the document was edited without sops, or rewritten by a tool (kustomize sorts keys); let kseal read the encrypted file itself (kseal render DIR, or files: of the generator), or pass --skip-mac-check")
	case errors.As(err, &ke) && !ke.Corrupt:
		return withHint(err, "encrypt to this cluster's SOPS recipient (`kseal cert inspect` prints it as \"sops recipient\"; put it in .sops.yaml) with `sops updatekeys`, or give the identity it was encrypted to")
	case errors.Is(err, sops.ErrTooLarge):
		return withHint(err, "a Kubernetes Secret holds at most 1 MiB")
	}
	return err
}

// resealer seals decrypted Secrets for the destination cluster.
type resealer struct {
	cert *keys.Certificate
	// certSource says where the certificate came from, for messages.
	certSource string
	version    sealing.Version
	// namespace is given to Secrets without one.
	namespace string
}

func (o *renderOptions) resealer(ctx context.Context) (*resealer, error) {
	version, err := parseVersion(o.formatVersion)
	if err != nil {
		return nil, err
	}
	rs := &resealer{version: version, namespace: o.namespace, certSource: o.cert}
	if o.cert == "" {
		rs.cert, rs.certSource, err = certificateFromController(ctx, &o.controller, o.now)
	} else {
		rs.cert, err = loadCertificate(ctx, o.cert, o.now)
	}
	if err != nil {
		return nil, err
	}
	if err := checkCertForVersion(rs.cert, version, rs.certSource); err != nil {
		return nil, err
	}
	return rs, nil
}

// seal turns a decrypted Secret into a SealedSecret. Any other decrypted
// resource is refused: printing it would hand plaintext to the sync engine.
func (rs *resealer) seal(m *renderItem) ([]byte, error) {
	if !manifest.IsSecret(m.node) {
		return nil, withHint(fmt.Errorf("--reseal: %s was SOPS-encrypted, but only Secrets can be sealed", m.describe()),
			"keep secret values in Secrets, or render without --reseal")
	}
	js, err := m.node.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.describe(), err)
	}
	var secret corev1.Secret
	if err := json.Unmarshal(js, &secret); err != nil {
		return nil, fmt.Errorf("%s: not a valid Secret (a field has the wrong type, or a data value is not base64)", m.describe())
	}
	defer func() {
		for _, v := range secret.Data {
			clear(v)
		}
	}()
	if secret.Namespace == "" {
		secret.Namespace = rs.namespace
	}
	ss, err := sealedsecret.Seal(&secret, &rs.cert.PublicKey, sealedsecret.SealOptions{Version: rs.version, AllowEmptyData: true})
	if errors.Is(err, sealedsecret.ErrNoNamespace) {
		return nil, withHint(fmt.Errorf("--reseal: %s: %w", m.describe(), err),
			"set namespace: in the kustomization, or pass --namespace NS (in Argo CD: --namespace $ARGOCD_APP_NAMESPACE)")
	}
	if err != nil {
		return nil, fmt.Errorf("--reseal: %s: %w", m.describe(), sealError(err))
	}
	return sealedsecret.Encode("yaml", ss)
}
