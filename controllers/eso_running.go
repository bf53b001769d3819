package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// What shows that External Secrets Operator's controller still runs: its
// Deployment (the Helm chart labels it app.kubernetes.io/name=external-secrets)
// asking for or having replicas, or its leader election Lease held and
// renewed within its duration.
const (
	esoDeploymentLabel = "app.kubernetes.io/name"
	esoDeploymentName  = "external-secrets"
	esoLeaseName       = "external-secrets-controller"
)

// DefaultESONamespace is the namespace ESO's Helm chart is installed in by
// its documentation; --adopt-eso-namespace names another.
const DefaultESONamespace = "external-secrets"

// esoStopped returns an error naming every sign that ESO's controller
// still runs in namespace, so kseal does not start reconciling ESO's
// objects while ESO does too (two controllers would fight over every
// Secret). It reads the API server directly, at start, and only in
// that namespace (Deployments hold pod specs: kseal needs no cluster-wide
// read of them); esoWatch repeats it while kseal runs.
func esoStopped(ctx context.Context, c client.Reader, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var running []string
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, client.InNamespace(namespace), client.MatchingLabels{esoDeploymentLabel: esoDeploymentName}); err != nil {
		return fmt.Errorf("checking that External Secrets Operator is stopped: list Deployments: %w (grant list on deployments in namespace "+namespace+" (config/rbac/adopt-eso), name ESO's namespace with --adopt-eso-namespace, or pass --adopt-ignore-running)", err)
	}
	for _, d := range deps.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if want > 0 || d.Status.ReadyReplicas > 0 {
			running = append(running, fmt.Sprintf("Deployment %s/%s has %d replicas (%d ready): kubectl -n %s scale deployment %s --replicas=0",
				d.Namespace, d.Name, want, d.Status.ReadyReplicas, d.Namespace, d.Name))
		}
	}
	var leases coordinationv1.LeaseList
	if err := c.List(ctx, &leases, client.InNamespace(namespace), client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", esoLeaseName)}); err != nil {
		return fmt.Errorf("checking that External Secrets Operator is stopped: list Leases: %w (grant list on leases in namespace "+namespace+", or pass --adopt-ignore-running)", err)
	}
	now := time.Now()
	for _, l := range leases.Items {
		if leaseHeld(&l, now) {
			running = append(running, fmt.Sprintf("Lease %s/%s is held by %s", l.Namespace, l.Name, *l.Spec.HolderIdentity))
		}
	}
	if len(running) > 0 {
		return fmt.Errorf("%w, so kseal does not take over its objects (two controllers would fight over every Secret): %s; stop it first, or pass --adopt-ignore-running if these are stale",
			errESORunning, strings.Join(running, "; "))
	}
	return nil
}

// errESORunning is wrapped by esoStopped's error when ESO's controller runs
// (not when the check itself failed).
var errESORunning = errors.New("External Secrets Operator's controller still runs")

// DefaultESORecheckInterval is how often a running takeover checks again
// that ESO's controller is stopped.
const DefaultESORecheckInterval = time.Minute

// esoWatch checks, every interval while kseal reconciles ESO's objects, that
// ESO's controller has not been started again (a scaled-up Deployment, a
// held Lease): then it stops the manager with esoStopped's error, so that
// the two never fight over the Secrets; restarted, kseal refuses to take
// over until ESO is stopped. A check that cannot read is logged and tried
// again. Two namespaced lists a minute.
type esoWatch struct {
	reader    client.Reader
	namespace string
	interval  time.Duration
}

// Start runs the checks until ctx ends.
func (w esoWatch) Start(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := esoStopped(ctx, w.reader, w.namespace)
		if errors.Is(err, errESORunning) {
			logf.FromContext(ctx).Error(err, "stopping: External Secrets Operator's controller was started again while kseal reconciles its objects")
			return err
		}
		if err != nil && ctx.Err() == nil {
			logf.FromContext(ctx).Error(err, "checking that External Secrets Operator is stopped")
		}
	}
}

// leaseHeld: a holder renewed the lease within its duration.
func leaseHeld(l *coordinationv1.Lease, now time.Time) bool {
	s := l.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil {
		return false
	}
	d := 15 * time.Second
	if s.LeaseDurationSeconds != nil {
		d = time.Duration(*s.LeaseDurationSeconds) * time.Second
	}
	return s.RenewTime.Add(d).After(now)
}
