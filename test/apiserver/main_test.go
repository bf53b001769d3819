// Package apiserver_test checks the project's CustomResourceDefinitions against
// a real kube-apiserver: what the API server itself accepts and rejects,
// before any controller or webhook is involved.
//
// The objects are unstructured on purpose, so the tests exercise the CRD
// schema as published rather than what the Go types happen to marshal.
package apiserver_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kseal-dev/kseal/test/envtestenv"
)

// env is the control plane shared by every test in this package.
var env *envtestenv.Env

// TestMain starts the control plane once for the package. Without the
// binaries the package is skipped, unless KSEAL_REQUIRE_TOOLS is set (as
// `make test` does), in which case it fails.
func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())

	var err error
	env, err = envtestenv.Start()
	if err != nil {
		if errors.Is(err, envtestenv.ErrBinariesNotFound) && os.Getenv("KSEAL_REQUIRE_TOOLS") == "" {
			fmt.Fprintf(os.Stderr, "skipping API server tests: %v\n", err)
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
