// Command kseal seals Kubernetes Secrets for git; see package
// github.com/kseal-dev/kseal/kubeseal-like-cli. Installed as kubectl-kseal it
// is a kubectl plugin (kubectl kseal ...).
package main

import (
	"context"
	"os"
	"os/signal"

	// CA roots for systems and images without a CA bundle (scratch).
	_ "golang.org/x/crypto/x509roots/fallback"

	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.MainAs(ctx, os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
