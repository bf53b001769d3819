package cli_test

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kseal": func() {
			os.Exit(cli.MainAs(context.Background(), os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
		"kubectl-kseal": func() {
			os.Exit(cli.MainAs(context.Background(), os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the end-to-end CLI scenarios in testdata/script: each is a
// txtar archive of commands and files, run in a fresh directory.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("KSEAL_CERT", "")
			env.Setenv("SEALED_SECRETS_CERT", "")
			env.Setenv("KUBECONFIG", "")
			return setupScriptController(env)
		},
		Cmds: scriptCommands,
	})
}
