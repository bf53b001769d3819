// Command release builds kseal's release archives locally, without
// goreleaser: for each platform the kseal CLI (and, on linux, the
// controller), README.md and LICENSE in a .tar.gz (.zip for windows), a
// checksums.txt of SHA-256 sums, and the krew plugin manifest
// (deploy/krew/kseal.yaml) filled in with the archives' URLs and sums.
//
//	go run ./hack/release -out bin/release -version v0.3.0 -commit $(git rev-parse HEAD)
//
// `make release-snapshot` runs it for linux, darwin and windows on amd64 and
// arm64. The archives are reproducible: entries are sorted, root-owned and
// dated -created.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kseal-dev/kseal/hack/internal/crossbuild"
)

func main() { crossbuild.Main(run) }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	var (
		o         Options
		platforms = fs.String("platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64", "comma-separated GOOS/GOARCH to build")
		epoch     = fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "time of the archive entries in Unix seconds (default $SOURCE_DATE_EPOCH, else 0)")
	)
	fs.StringVar(&o.Root, "C", ".", "directory of the kseal module")
	fs.StringVar(&o.Out, "out", "bin/release", "output directory")
	fs.StringVar(&o.Stamp.Version, "version", "dev", "version stamped into the binaries and archive names")
	fs.StringVar(&o.Stamp.Commit, "commit", "", "commit stamped into the binaries")
	fs.StringVar(&o.DownloadURL, "download-url", "https://github.com/kseal-dev/kseal/releases/download", "URL the archives are published under, followed by /<version>/ (krew manifest)")
	fs.BoolVar(&o.Krew, "krew", true, "write kseal.krew.yaml from "+KrewTemplate+" (needs every platform it lists)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.Platforms, err = crossbuild.ParsePlatforms(*platforms); err != nil {
		return fmt.Errorf("-platforms: %w", err)
	}
	if *epoch != "" {
		if o.Created, err = crossbuild.ParseEpoch(*epoch); err != nil {
			return err
		}
	}
	start := time.Now()
	r, err := Build(ctx, o)
	if err != nil {
		return err
	}
	for _, a := range r.Archives {
		fmt.Printf("%s  %s\n", a.SHA256, a.Path)
	}
	fmt.Println(r.Checksums)
	if r.Krew != "" {
		fmt.Println(r.Krew)
	}
	fmt.Printf("built %d archive(s) in %s\n", len(r.Archives), time.Since(start).Round(100*time.Millisecond))
	return nil
}
