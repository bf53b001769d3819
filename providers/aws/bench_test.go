package aws

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// BenchmarkProvider_GetSecret_1000 reads 1,000 distinct secrets with 64
// concurrent workers through one Provider, with coalescing (default
// window and batch size) and without (one GetSecretValue per secret), on
// loopback and with a simulated network round trip. calls/op counts the
// AWS API calls that reached the server for the 1,000 reads.
//
//	go test -run '^$' -bench BenchmarkProvider_GetSecret_1000 -benchtime 20x ./providers/aws/
func BenchmarkProvider_GetSecret_1000(b *testing.B) {
	const workers = 64
	srv := awstest.NewServer(b)
	keys := seed(b, srv, secretName(b, "s"), 1000)
	for _, rtt := range []time.Duration{0, 5 * time.Millisecond} {
		for _, mode := range []struct {
			name string
			mod  func(*Config)
		}{{"batched", func(*Config) {}}, {"unbatched", noBatch}} {
			b.Run(fmt.Sprintf("rtt=%s/%s", rtt, mode.name), func(b *testing.B) {
				srv.SetLatency(rtt)
				defer srv.SetLatency(0)
				p := newTestProvider(b, srv, mode.mod)
				srv.ResetCalls()
				for b.Loop() {
					readAll(b, p, keys, workers)
				}
				b.ReportMetric(float64(srv.TotalCalls())/float64(b.N), "calls/op")
			})
		}
	}
}

func readAll(b *testing.B, p *Provider, keys []string, workers int) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				if _, err := p.GetSecret(context.Background(), providers.Ref{Key: keys[i]}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
