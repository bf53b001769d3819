package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kseal-dev/kseal/internal/version"
)

// streams are the process's standard streams, injected for tests.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// Main runs the kseal command line with args (without the program name) and
// returns the process exit code: 0 on success, 1 on any error.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainAs(ctx, "kseal", args, stdin, stdout, stderr)
}

// MainAs is [Main] for the program argv0 (os.Args[0]): installed as
// kubectl-kseal, kseal runs as a kubectl plugin and its help and completion
// say "kubectl kseal"; under any other name it is kseal.
func MainAs(ctx context.Context, argv0 string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{in: stdin, out: stdout, err: stderr}
	root := newRootCommand(s)
	if isKubectlPlugin(argv0) {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl kseal"}
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		printError(stderr, err)
		return 1
	}
	return 0
}

func newRootCommand(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "kseal",
		Short: "Keep Kubernetes Secrets in git: seal them to a cluster's key, or recover them offline",
		Long: `kseal seals Kubernetes Secrets into SealedSecrets that only the kseal controller
of one cluster can open, so they are safe to commit to git. It also unseals
offline with backed-up keys for disaster recovery, makes key generations, and
inspects certificates.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version.Get().Version,
	}
	root.SetVersionTemplate(version.Get().Line("kseal") + "\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return withHint(err, "run the command with --help to see its flags")
	})
	root.AddCommand(
		newSealCommand(s),
		newUnsealCommand(s),
		newKeygenCommand(s),
		newCertCommand(s),
		newSopsScopeCommand(s),
		newSopsCommand(s),
		newValidateCommand(s),
		newReencryptCommand(s),
		newRenderCommand(s),
		newKRMCommand(s),
		newRefreshCommand(s),
		newMigrateCommand(s),
		newVersionCommand(s),
	)
	return root
}

// isKubectlPlugin reports whether argv0 names the kubectl plugin binary
// (kubectl-kseal, or kubectl-kseal.exe on Windows).
func isKubectlPlugin(argv0 string) bool {
	name := argv0
	if i := strings.LastIndexAny(argv0, `/\`); i >= 0 {
		name = argv0[i+1:]
	}
	return strings.TrimSuffix(strings.ToLower(name), ".exe") == "kubectl-kseal"
}

// hintError is an error with advice for the user, printed on its own line.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withHint attaches advice to err; a nil err stays nil.
func withHint(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: fmt.Sprintf(format, args...)}
}

func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "error: %v\n", err)
	var h *hintError
	if errors.As(err, &h) && h.hint != "" {
		fmt.Fprintf(w, "hint: %s\n", h.hint)
	}
}
