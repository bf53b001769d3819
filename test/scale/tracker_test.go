package scale

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// tracker watches the objects of one kind in one namespace and notes when
// the wanted number of them is Ready. A watch (rather than listing every
// 250 ms) sees each change once, so the harness adds little load to the
// shared machine and the time is exact to the event.
type tracker struct {
	what  string
	want  int
	ready func(client.Object) (bool, string)
	stop  context.CancelFunc

	mu sync.Mutex
	// state is each object's readiness: "" when Ready, else its reason.
	state map[string]string
	done  chan struct{}
	at    time.Time // when the last wanted object became Ready
}

// track starts watching obj's kind in ns and returns once the watch has
// listed the current objects.
func (h *harness) track(ns string, obj client.Object, want int, ready func(client.Object) (bool, string)) (*tracker, error) {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &tracker{what: fmt.Sprintf("%T in %s", obj, ns), want: want, ready: ready, stop: cancel, state: map[string]string{}, done: make(chan struct{})}
	c, err := cache.New(h.env.Config, cache.Options{Scheme: h.env.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		cancel()
		return nil, err
	}
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		cancel()
		return nil, err
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    tr.observe,
		UpdateFunc: func(_, o any) { tr.observe(o) },
		DeleteFunc: tr.forget,
	}); err != nil {
		cancel()
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		cancel()
		return nil, fmt.Errorf("watch of %s did not sync", tr.what)
	}
	return tr, nil
}

func (tr *tracker) observe(o any) {
	obj, ok := o.(client.Object)
	if !ok {
		return
	}
	ok, reason := tr.ready(obj)
	if ok {
		reason = ""
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.state[obj.GetName()] = reason
	tr.check()
}

func (tr *tracker) forget(o any) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	obj, ok := o.(client.Object)
	if !ok {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	delete(tr.state, obj.GetName())
}

// check closes done the first time want objects are Ready; mu is held.
func (tr *tracker) check() {
	if !tr.at.IsZero() || tr.readyLocked() < tr.want {
		return
	}
	tr.at = time.Now()
	close(tr.done)
}

func (tr *tracker) readyLocked() int {
	n := 0
	for _, r := range tr.state {
		if r == "" {
			n++
		}
	}
	return n
}

// readyCount returns how many objects are Ready now.
func (tr *tracker) readyCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.readyLocked()
}

// wait blocks until want objects are Ready and returns when that happened.
// It fails early when the controller exits.
func (tr *tracker) wait(p *controllerProc, timeout time.Duration) (time.Time, error) {
	select {
	case <-tr.done:
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return tr.at, nil
	case <-p.exited:
		return time.Time{}, p.errExited()
	case <-time.After(timeout):
		return time.Time{}, fmt.Errorf("%d of %d %s Ready after %v; not Ready: %s", tr.readyCount(), tr.want, tr.what, timeout, tr.summary())
	}
}

// summary counts the objects that are not Ready by reason.
func (tr *tracker) summary() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	by := map[string]int{}
	for _, r := range tr.state {
		if r != "" {
			by[r]++
		}
	}
	var parts []string
	for r, n := range by {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return fmt.Sprintf("%d objects seen", len(tr.state))
	}
	return strings.Join(parts, ", ")
}

// sealedReady: Ready=True for the current generation.
func sealedReady(o client.Object) (bool, string) {
	ss, ok := o.(*v1alpha1.SealedSecret)
	if !ok {
		return false, "not a SealedSecret"
	}
	return conditionReady(ss.Status.Conditions, ss.Generation)
}

// externalReady: Ready=True for the current generation.
func externalReady(o client.Object) (bool, string) {
	es, ok := o.(*v1alpha1.ExternalSecret)
	if !ok {
		return false, "not an ExternalSecret"
	}
	return conditionReady(es.Status.Conditions, es.Generation)
}

func conditionReady(conds []metav1.Condition, generation int64) (bool, string) {
	c := apimeta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	switch {
	case c == nil:
		return false, "no Ready condition"
	case c.ObservedGeneration != generation:
		return false, "Ready condition of an older generation"
	case c.Status != metav1.ConditionTrue:
		return false, "Ready=" + string(c.Status) + " " + c.Reason
	}
	return true, ""
}
