package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// reloadOn runs rollout restarts with a short debounce, so the tests do not
// wait the default 5 s for every change.
var reloadOn = controllers.Options{Reload: controllers.ReloadOptions{Enabled: true, Debounce: 300 * time.Millisecond}}

// podTemplate is a pod template whose container reads the named Secrets
// through env.
func podTemplate(app string, secrets ...string) corev1.PodTemplateSpec {
	c := corev1.Container{Name: "app", Image: "registry.invalid/app:1"}
	for _, s := range secrets {
		c.Env = append(c.Env, corev1.EnvVar{Name: "V_" + fmt.Sprint(len(c.Env)), ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: s}, Key: "v"}}})
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
}

// createWorkload creates a Deployment, StatefulSet or DaemonSet named name
// with annotations ann, whose pods read the given Secrets.
func createWorkload(t testing.TB, kind, ns, name string, ann map[string]string, secrets ...string) {
	t.Helper()
	meta := metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann, Labels: map[string]string{"app": name}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	var obj client.Object
	switch kind {
	case v1alpha1.WorkloadDeployment:
		obj = &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: podTemplate(name, secrets...)}}
	case v1alpha1.WorkloadStatefulSet:
		obj = &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: podTemplate(name, secrets...)}}
	case v1alpha1.WorkloadDaemonSet:
		obj = &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: podTemplate(name, secrets...)}}
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
}

// restartState returns a workload's generation (each patch of its pod
// template adds one) and its pod template annotations.
func restartState(t testing.TB, kind, ns, name string) (int64, map[string]string) {
	t.Helper()
	var obj client.Object
	var tmpl *corev1.PodTemplateSpec
	switch kind {
	case v1alpha1.WorkloadDeployment:
		d := &appsv1.Deployment{}
		obj, tmpl = d, &d.Spec.Template
	case v1alpha1.WorkloadStatefulSet:
		s := &appsv1.StatefulSet{}
		obj, tmpl = s, &s.Spec.Template
	case v1alpha1.WorkloadDaemonSet:
		d := &appsv1.DaemonSet{}
		obj, tmpl = d, &d.Spec.Template
	}
	if err := env.Client.Get(ctx, clientKey(ns, name), obj); err != nil {
		t.Fatal(err)
	}
	return obj.GetGeneration(), tmpl.Annotations
}

// wantRestarts checks that each workload ("Kind/name") has been restarted
// exactly n times: its generation is 1+n, and restartedAt is set iff n > 0.
func wantRestarts(t testing.TB, ns string, n int64, workloads ...string) {
	t.Helper()
	for _, w := range workloads {
		kind, name, _ := strings.Cut(w, "/")
		gen, ann := restartState(t, kind, ns, name)
		if gen != 1+n || (ann[v1alpha1.AnnotationRestartedAt] != "") != (n > 0) {
			t.Errorf("%s in %s: generation %d, restartedAt %q; want %d restarts", w, ns, gen, ann[v1alpha1.AnnotationRestartedAt], n)
		}
	}
}

// waitRestarted waits until the workload's pod template was patched, then
// until the reloader has nothing left to do: a settle point after which
// the restarts of every earlier change have been issued.
func waitRestarted(t testing.TB, c *controller, ns, kind, name string, gen int64) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%s %s/%s restarted", kind, ns, name), func() bool {
		g, _ := restartState(t, kind, ns, name)
		return g >= gen
	})
	waitFor(t, 60*time.Second, "rollout restarts settled", c.RolloutRestartsIdle)
}

// reloadFixture seals Secrets straight with the controller's certificate.
type reloadFixture struct {
	t   testing.TB
	pub *sealing.PublicKey
}

func newReloadFixture(t testing.TB, c *controller) *reloadFixture {
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &reloadFixture{t: t, pub: &cert.PublicKey}
}

// seal creates or updates the SealedSecret ns/name to hold v (always a
// new ciphertext), with the given restart targets, and waits until the
// controller has written its Secret from it.
func (f *reloadFixture) seal(ns, name, v string, targets ...v1alpha1.RolloutRestartTarget) {
	f.t.Helper()
	ss, err := sealedsecret.Seal(secret(ns, name, map[string]string{"v": v}), f.pub, sealedsecret.SealOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	ss.Spec.RolloutRestartTargets = targets
	oldHash := ""
	cur := &v1alpha1.SealedSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, name), cur); err == nil {
		oldHash = getSecret(f.t, ns, name).Annotations[controllers.AnnotationSealedHash]
		cur.Spec = ss.Spec
		if err := env.Client.Update(ctx, cur); err != nil {
			f.t.Fatal(err)
		}
	} else if err := env.Client.Create(ctx, ss); err != nil {
		f.t.Fatal(err)
	}
	readyCondition(f.t, ns, name, metav1.ConditionTrue)
	waitFor(f.t, 60*time.Second, "Secret "+ns+"/"+name+" written", func() bool {
		s := getSecret(f.t, ns, name)
		return s != nil && string(s.Data["v"]) == v && s.Annotations[controllers.AnnotationSealedHash] != oldHash
	})
}

// hasEvent reports whether an event with reason was recorded on the object
// kind/name in ns.
func hasEvent(t testing.TB, ns, kind, name, reason string) bool {
	var list corev1.EventList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name && e.Reason == reason {
			return true
		}
	}
	return false
}

// TestRolloutRestart_changedSealedSecretRestartsItsUsersOnce: a changed
// SealedSecret restarts, once each, exactly the workloads that opted in and
// use it (reload annotation), name it (reload-secrets), or that it names
// (rolloutRestartTargets, by name and by selector); a workload that uses it
// without opting in, one that uses another Secret, and one in another
// namespace reading a Secret of the same name are never touched.
func TestRolloutRestart_changedSealedSecretRestartsItsUsersOnce(t *testing.T) {
	c := startController(t, reloadOn)
	defer c.stop()
	f := newReloadFixture(t, c)
	ns, other := newNamespace(t, "reload"), newNamespace(t, "reload-other")
	reload := map[string]string{v1alpha1.AnnotationReload: "true"}
	f.seal(ns, "db", canary("reload-db-1"),
		v1alpha1.RolloutRestartTarget{Kind: v1alpha1.WorkloadStatefulSet, Name: "worker"},
		v1alpha1.RolloutRestartTarget{Kind: v1alpha1.WorkloadDeployment, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "batch"}}})
	f.seal(ns, "cache", canary("reload-cache-1"))
	f.seal(other, "db", canary("reload-other-db"))
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "web", reload, "db", "cache")
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "legacy", nil, "db")
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "api", reload, "cache")
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "batch", nil)
	createWorkload(t, v1alpha1.WorkloadStatefulSet, ns, "worker", nil)
	createWorkload(t, v1alpha1.WorkloadDaemonSet, ns, "agent", map[string]string{v1alpha1.AnnotationReloadSecrets: "db"})
	createWorkload(t, v1alpha1.WorkloadDeployment, other, "web", reload, "db")
	restartsBefore := metricSum(t, "kseal_rollout_restarts_total", "result", "success")

	f.seal(ns, "db", canary("reload-db-2"),
		v1alpha1.RolloutRestartTarget{Kind: v1alpha1.WorkloadStatefulSet, Name: "worker"},
		v1alpha1.RolloutRestartTarget{Kind: v1alpha1.WorkloadDeployment, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "batch"}}})
	waitRestarted(t, c, ns, v1alpha1.WorkloadDeployment, "web", 2)

	wantRestarts(t, ns, 1, "Deployment/web", "Deployment/batch", "StatefulSet/worker", "DaemonSet/agent")
	wantRestarts(t, ns, 0, "Deployment/legacy", "Deployment/api")
	wantRestarts(t, other, 0, "Deployment/web")
	if d := metricSum(t, "kseal_rollout_restarts_total", "result", "success") - restartsBefore; d != 4 {
		t.Errorf("kseal_rollout_restarts_total{result=success} grew by %v, want 4", d)
	}
	_, ann := restartState(t, v1alpha1.WorkloadDeployment, ns, "web")
	if _, err := time.Parse(time.RFC3339, ann[v1alpha1.AnnotationRestartedAt]); err != nil || ann[v1alpha1.AnnotationRestartedFor] == "" {
		t.Errorf("pod template annotations %v: want an RFC 3339 %s and %s", ann, v1alpha1.AnnotationRestartedAt, v1alpha1.AnnotationRestartedFor)
	}
	waitFor(t, 30*time.Second, "RolloutRestarted events on the Deployment and the SealedSecret", func() bool {
		return hasEvent(t, ns, "Deployment", "web", controllers.EventRolloutRestarted) && hasEvent(t, ns, "SealedSecret", "db", controllers.EventRolloutRestarted)
	})
}

// TestRolloutRestart_noRestartWithoutDataChange: re-sealing the same value
// (the Secret is rewritten, its data is not) and restarting the controller
// restart nothing. A later real change of another Secret in the namespace
// is the settle point.
func TestRolloutRestart_noRestartWithoutDataChange(t *testing.T) {
	c := startController(t, reloadOn)
	f := newReloadFixture(t, c)
	ns := newNamespace(t, "reload-noop")
	reload := map[string]string{v1alpha1.AnnotationReload: "true"}
	f.seal(ns, "db", canary("noop-db"))
	f.seal(ns, "sentinel", "s1")
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "web", reload, "db")
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "sentinel", reload, "sentinel")

	f.seal(ns, "db", canary("noop-db")) // a new ciphertext of the same value
	f.seal(ns, "sentinel", "s2")
	waitRestarted(t, c, ns, v1alpha1.WorkloadDeployment, "sentinel", 2)
	wantRestarts(t, ns, 0, "Deployment/web")

	c.stop()
	reconciles := metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")
	c = startController(t, reloadOn)
	defer c.stop()
	waitFor(t, 60*time.Second, "SealedSecrets reconciled after the restart", func() bool {
		return metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")-reconciles >= 2
	})
	f.seal(ns, "sentinel", "s3")
	waitRestarted(t, c, ns, v1alpha1.WorkloadDeployment, "sentinel", 3)
	wantRestarts(t, ns, 0, "Deployment/web")
	wantRestarts(t, ns, 2, "Deployment/sentinel")
}

// TestRolloutRestart_changesTogetherRestartOnce: two Secrets a workload
// uses, changed within the debounce window (the default 5 s), restart it
// once.
func TestRolloutRestart_changesTogetherRestartOnce(t *testing.T) {
	c := startController(t, controllers.Options{Reload: controllers.ReloadOptions{Enabled: true}})
	defer c.stop()
	f := newReloadFixture(t, c)
	ns := newNamespace(t, "reload-together")
	f.seal(ns, "a", "a1")
	f.seal(ns, "b", "b1")
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "web", map[string]string{v1alpha1.AnnotationReload: "true"}, "a", "b")

	f.seal(ns, "a", "a2")
	f.seal(ns, "b", "b2")
	waitRestarted(t, c, ns, v1alpha1.WorkloadDeployment, "web", 2)
	wantRestarts(t, ns, 1, "Deployment/web")
}

// TestRolloutRestart_offByDefault: without --rollout-restarts, a changed
// Secret patches no workload, even with a debounce configured. This is a
// negative check with no settle signal: it looks again after 20 times the
// debounce the options name.
func TestRolloutRestart_offByDefault(t *testing.T) {
	c := startController(t, controllers.Options{Reload: controllers.ReloadOptions{Debounce: 100 * time.Millisecond}})
	defer c.stop()
	f := newReloadFixture(t, c)
	ns := newNamespace(t, "reload-off")
	f.seal(ns, "db", "v1", v1alpha1.RolloutRestartTarget{Kind: v1alpha1.WorkloadDeployment, Name: "web"})
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "web", map[string]string{v1alpha1.AnnotationReload: "true"}, "db")
	f.seal(ns, "db", "v2", v1alpha1.RolloutRestartTarget{Kind: v1alpha1.WorkloadDeployment, Name: "web"})
	time.Sleep(2 * time.Second)
	wantRestarts(t, ns, 0, "Deployment/web")
}

// TestRolloutRestart_rateLimitedPerNamespace: with a burst of 2 and a rate
// that never refills, a change used by five workloads restarts two at once
// and queues three (kseal_rollout_restarts_queued); another namespace has
// its own budget, so its workload restarts meanwhile.
func TestRolloutRestart_rateLimitedPerNamespace(t *testing.T) {
	c := startController(t, controllers.Options{Reload: controllers.ReloadOptions{Enabled: true, Debounce: 300 * time.Millisecond, RatePerSecond: 1e-6, Burst: 2}})
	stopped := false
	defer func() {
		if !stopped {
			c.stop()
		}
	}()
	f := newReloadFixture(t, c)
	ns, other := newNamespace(t, "reload-rate"), newNamespace(t, "reload-rate-other")
	reload := map[string]string{v1alpha1.AnnotationReload: "true"}
	f.seal(ns, "db", "v1")
	f.seal(other, "db", "v1")
	for i := range 5 {
		createWorkload(t, v1alpha1.WorkloadDeployment, ns, fmt.Sprintf("web-%d", i), reload, "db")
	}
	createWorkload(t, v1alpha1.WorkloadDeployment, other, "web", reload, "db")
	queued := metricSum(t, "kseal_rollout_restarts_queued")
	restarted := metricSum(t, "kseal_rollout_restarts_total", "result", "success")

	f.seal(ns, "db", "v2")
	f.seal(other, "db", "v2")
	waitFor(t, 60*time.Second, "3 restarts issued and 3 queued", func() bool {
		return metricSum(t, "kseal_rollout_restarts_queued")-queued == 3 &&
			metricSum(t, "kseal_rollout_restarts_total", "result", "success")-restarted == 3
	})
	n := 0
	for i := range 5 {
		if gen, _ := restartState(t, v1alpha1.WorkloadDeployment, ns, fmt.Sprintf("web-%d", i)); gen > 1 {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d workloads restarted in the limited namespace, want 2 (the burst)", n)
	}
	wantRestarts(t, other, 1, "Deployment/web")
	c.stop()
	stopped = true
	waitFor(t, 30*time.Second, "no restart counted as queued once the controller stopped", func() bool {
		return metricSum(t, "kseal_rollout_restarts_queued") == queued
	})
}
