// Command image builds kseal's container images without a container
// daemon: static binaries cross-compiled for each platform, one layer each,
// a multi-arch OCI image index written as an OCI image layout directory and
// as a tar archive of that directory (what `docker load`, `ctr images
// import`, `kind load image-archive` and `crane push` read).
//
//	go run ./hack/image -out bin/image -version v0.3.0 -commit $(git rev-parse HEAD)
//
// makes bin/image/kseal-controller/ and bin/image/kseal-controller.tar (the
// controller), and bin/image/kseal-cmp/ and bin/image/kseal-cmp.tar (the
// Argo CD plugin sidecar: the kseal CLI and a POSIX shell for the plugin's
// generate command). `make image` runs it with the version from git.
//
// Each image runs as user 65532:65532 with root-owned, read-only files, so
// it works with readOnlyRootFilesystem; it has no shell (except the sidecar's
// /bin/sh), no package manager and no /etc/passwd. The Go build info of each
// binary (`go version -m`) is in /usr/local/share/kseal/buildinfo/.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kseal-dev/kseal/hack/internal/crossbuild"
)

func main() { crossbuild.Main(run) }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var (
		o         Options
		platforms = fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated GOOS/GOARCH of the index")
		images    = fs.String("images", "", "comma-separated images to build (default all: "+strings.Join(imageNames(), ",")+")")
		epoch     = fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "creation time in Unix seconds (default $SOURCE_DATE_EPOCH, else 0, for reproducible images)")
	)
	fs.StringVar(&o.Root, "C", ".", "directory of the kseal module")
	fs.StringVar(&o.Out, "out", "bin/image", "output directory")
	fs.StringVar(&o.Stamp.Version, "version", "dev", "version stamped into the binaries and labels")
	fs.StringVar(&o.Stamp.Commit, "commit", "", "commit stamped into the binaries and labels")
	fs.StringVar(&o.Source, "source", "https://github.com/kseal-dev/kseal", "org.opencontainers.image.source label")
	fs.StringVar(&o.Repository, "repository", "ghcr.io/kseal-dev", "registry and path the images are named under (ref.name annotation)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.Platforms, err = crossbuild.ParsePlatforms(*platforms); err != nil {
		return fmt.Errorf("-platforms: %w", err)
	}
	if *images != "" {
		o.Images = strings.Split(*images, ",")
	}
	if *epoch != "" {
		if o.Created, err = crossbuild.ParseEpoch(*epoch); err != nil {
			return err
		}
	}
	start := time.Now()
	built, err := Build(ctx, o)
	if err != nil {
		return err
	}
	for _, b := range built {
		fmt.Printf("%s\t%s\t%s\n", b.Ref, b.Digest, b.Tarball)
	}
	fmt.Printf("built %d image(s) for %s in %s\n", len(built), *platforms, time.Since(start).Round(100*time.Millisecond))
	return nil
}
