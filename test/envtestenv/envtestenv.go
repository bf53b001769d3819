// Package envtestenv starts a real kube-apiserver and etcd for tests, with the
// project's CustomResourceDefinitions from config/crd/bases installed.
//
// The binaries are built from Go module source by hack/build-envtest.sh (also
// run by `make envtest`). They are looked up in KUBEBUILDER_ASSETS when that is
// set, and otherwise in the directory the script writes to:
// ${KSEAL_CACHE:-$HOME/.cache/kseal}/envtest/k8s-<version>-etcd-<version>.
//
// Starting takes a few seconds, so start one environment per test package, in
// TestMain:
//
//	var env *envtestenv.Env
//
//	func TestMain(m *testing.M) {
//		var err error
//		env, err = envtestenv.Start()
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		if err := env.Stop(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//		}
//		os.Exit(code)
//	}
package envtestenv

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Versions of the control plane binaries. They must match hack/build-envtest.sh
// and the wrapper modules in hack/tools.
const (
	// KubernetesVersion is the kube-apiserver version the tests run against.
	KubernetesVersion = "v1.37.2"
	// EtcdVersion is the etcd version the tests run against.
	EtcdVersion = "v3.7.3"
)

// ModulePath is the Go module path of this repository; RepoRoot looks for
// the go.mod that declares it.
const ModulePath = "github.com/kseal-dev/kseal"

// AssetsEnvVar names the environment variable that, when set, holds the
// directory with the kube-apiserver and etcd binaries.
const AssetsEnvVar = "KUBEBUILDER_ASSETS"

// CacheEnvVar names the environment variable that overrides the kseal cache
// directory (default $HOME/.cache/kseal) used by hack/build-envtest.sh.
const CacheEnvVar = "KSEAL_CACHE"

// startTimeoutEnvVar is controller-runtime's override for how long to wait
// for the control plane to come up.
const startTimeoutEnvVar = "KUBEBUILDER_CONTROLPLANE_START_TIMEOUT"

// defaultStartTimeout replaces controller-runtime's 20 s default, which is
// tight on small CI machines that are also compiling other test packages.
const defaultStartTimeout = 90 * time.Second

// ErrBinariesNotFound is returned (wrapped) by Start and AssetsDir when the
// kube-apiserver or etcd binary is missing.
var ErrBinariesNotFound = errors.New("envtest binaries not found")

// Env is a running control plane.
type Env struct {
	// Config connects to the API server as a member of system:masters.
	Config *rest.Config
	// Scheme holds client-go's types and those added through Start's
	// addToScheme arguments. Adding more to it later is fine; Client sees
	// the additions.
	Scheme *runtime.Scheme
	// Client is a controller-runtime client for Config using Scheme. It
	// also handles *unstructured.Unstructured objects of any kind.
	Client client.Client
	// Environment is the underlying envtest environment, for what this
	// package does not wrap (AddUser, KubeConfig, installed CRDs).
	Environment *envtest.Environment
}

// Start starts etcd and kube-apiserver, installs the CRDs from
// <repo root>/config/crd/bases and waits for them to be served. Each
// addToScheme function (for example a generated AddToScheme) is applied to
// Env.Scheme on top of client-go's scheme.
//
// On error nothing is left running.
func Start(addToScheme ...func(*runtime.Scheme) error) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("envtestenv: adding client-go types to scheme: %w", err)
	}
	for i, add := range addToScheme {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("envtestenv: addToScheme[%d]: %w", i, err)
		}
	}

	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	te.ControlPlane.GetAPIServer().Path = filepath.Join(assets, "kube-apiserver")
	te.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(assets, "etcd")}
	if os.Getenv(startTimeoutEnvVar) == "" {
		te.ControlPlaneStartTimeout = defaultStartTimeout
	}

	cfg, err := te.Start()
	if err != nil {
		// Start can fail after the processes are up (e.g. a CRD that does
		// not install); stop them so they do not outlive the test binary.
		if stopErr := te.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping: %w", stopErr))
		}
		return nil, fmt.Errorf("envtestenv: starting control plane from %s: %w", assets, err)
	}

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = te.Stop()
		return nil, fmt.Errorf("envtestenv: creating client: %w", err)
	}
	return &Env{Config: cfg, Scheme: scheme, Client: c, Environment: te}, nil
}

// Stop stops kube-apiserver and etcd and removes their temporary data.
func (e *Env) Stop() error {
	if e == nil || e.Environment == nil {
		return nil
	}
	if err := e.Environment.Stop(); err != nil {
		return fmt.Errorf("envtestenv: stopping control plane: %w", err)
	}
	return nil
}

// AssetsDir returns the directory holding the kube-apiserver and etcd
// binaries: $KUBEBUILDER_ASSETS if set, else the cache directory written by
// hack/build-envtest.sh. It returns an error wrapping ErrBinariesNotFound,
// saying how to build them, if either binary is missing.
func AssetsDir() (string, error) {
	dir := os.Getenv(AssetsEnvVar)
	from := "$" + AssetsEnvVar
	if dir == "" {
		var err error
		if dir, err = DefaultAssetsDir(); err != nil {
			return "", err
		}
		from = "the default location"
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return "", fmt.Errorf("%w: no %s in %s (%s); build them with `make envtest` or "+
				"`hack/build-envtest.sh` (which prints the directory to use as %s)",
				ErrBinariesNotFound, name, dir, from, AssetsEnvVar)
		}
	}
	return dir, nil
}

// DefaultAssetsDir returns the directory hack/build-envtest.sh builds into:
// ${KSEAL_CACHE:-$HOME/.cache/kseal}/envtest/k8s-<version>-etcd-<version>.
func DefaultAssetsDir() (string, error) {
	cache := os.Getenv(CacheEnvVar)
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("envtestenv: locating the kseal cache (set $%s or $HOME): %w", CacheEnvVar, err)
		}
		cache = filepath.Join(home, ".cache", "kseal")
	}
	return filepath.Join(cache, "envtest", "k8s-"+KubernetesVersion+"-etcd-"+EtcdVersion), nil
}

// RepoRoot returns the root of the repository: the nearest directory, from
// the working directory upwards, whose go.mod declares ModulePath. `go test`
// runs test binaries in their package's directory, so this works from any
// test package in the module.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("envtestenv: %w", err)
	}
	for dir := wd; ; {
		mod, err := modulePath(filepath.Join(dir, "go.mod"))
		switch {
		case err == nil && mod == ModulePath:
			return dir, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("envtestenv: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("envtestenv: no go.mod for module %s in %s or any parent directory", ModulePath, wd)
		}
		dir = parent
	}
}

// modulePath returns the module path declared in the go.mod file at path.
func modulePath(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return "", nil
}
