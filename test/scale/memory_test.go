package scale

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
)

// cacheCost is the Go heap that an informer cache like the controller's
// holds.
type cacheCost struct {
	SealedSecrets, Secrets int
	// Heap is the live heap of a cache of every SealedSecret and Secret,
	// whole; Stripped that of the controller's cache (controllers.CacheOptions:
	// no ciphertexts, only the Secrets kseal wrote, no managed fields).
	Heap, Stripped int64
}

// measureCache starts, in this process, informers on every SealedSecret and
// Secret in the cluster, and measures the live heap they hold: whole, and
// with the controller's cache options. The controller exposes no
// heap profile, so this is how the harness attributes its memory. A heap
// profile of the full cache goes to dir/<name>.heap.pprof for
// `go tool pprof -sample_index=inuse_space`.
func (h *harness) measureCache(t *testing.T, name, dir string) (*cacheCost, error) {
	t.Helper()
	full, ss, secrets, err := h.cacheHeap(cache.Options{}, filepath.Join(dir, name+".heap.pprof"))
	if err != nil {
		return nil, err
	}
	stripped, _, _, err := h.cacheHeap(controllers.CacheOptions(cache.Options{}), filepath.Join(dir, name+".controller.heap.pprof"))
	if err != nil {
		return nil, err
	}
	c := &cacheCost{SealedSecrets: ss, Secrets: secrets, Heap: full, Stripped: stripped}
	t.Logf("%s: an informer cache of %d SealedSecrets and %d Secrets holds %.1f MiB of Go heap (%.1f KiB per SealedSecret); with the controller's cache options %.1f MiB",
		name, ss, secrets, mib(full), float64(full)/1024/float64(max(ss, 1)), mib(stripped))
	return c, nil
}

func (h *harness) cacheHeap(opts cache.Options, profile string) (heap int64, sealed, secrets int, err error) {
	before := liveHeap()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.Scheme = h.env.Scheme
	c, err := cache.New(h.env.Config, opts)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, obj := range []client.Object{&v1alpha1.SealedSecret{}, &corev1.Secret{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return 0, 0, 0, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return 0, 0, 0, fmt.Errorf("cache did not sync")
	}
	heap = liveHeap() - before
	if profile != "" {
		if err := writeHeapProfile(profile); err != nil {
			return 0, 0, 0, err
		}
	}
	var ssList v1alpha1.SealedSecretList
	var secretList corev1.SecretList
	if err := c.List(ctx, &ssList); err != nil {
		return 0, 0, 0, err
	}
	if err := c.List(ctx, &secretList); err != nil {
		return 0, 0, 0, err
	}
	runtime.KeepAlive(c)
	return heap, len(ssList.Items), len(secretList.Items), nil
}

// liveHeap returns the heap in use after two collections.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func writeHeapProfile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
