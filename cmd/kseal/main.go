// Command kseal seals Kubernetes Secrets for git; see package
// github.com/kseal-dev/kseal/kubeseal-like-cli.
package main

import (
	"context"
	"os"
	"os/signal"

	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
