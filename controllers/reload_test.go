package controllers

import (
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func secretEnv(name string) corev1.EnvVar {
	return corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}}}
}

func TestPodSpecSecrets(t *testing.T) {
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []string
	}{
		{"empty", corev1.PodSpec{}, nil},
		{"env secretKeyRef", corev1.PodSpec{Containers: []corev1.Container{{Env: []corev1.EnvVar{secretEnv("a"), {Name: "plain", Value: "v"}}}}}, []string{"a"}},
		{"env configMapKeyRef is not a Secret", corev1.PodSpec{Containers: []corev1.Container{{Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
			ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}}}}}, nil},
		{"envFrom secretRef", corev1.PodSpec{Containers: []corev1.Container{{EnvFrom: []corev1.EnvFromSource{
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "b"}}},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
		}}}}, []string{"b"}},
		{"init and ephemeral containers", corev1.PodSpec{
			InitContainers:      []corev1.Container{{Env: []corev1.EnvVar{secretEnv("init")}}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Env: []corev1.EnvVar{secretEnv("eph")}}}},
		}, []string{"eph", "init"}},
		{"secret volume", corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "c"}}}}}, []string{"c"}},
		{"projected volume", corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "d"}}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}},
		}}}}}}, []string{"d"}},
		{"imagePullSecrets", corev1.PodSpec{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}, {Name: ""}}}, []string{"regcred"}},
		{"duplicates once, sorted", corev1.PodSpec{
			Containers: []corev1.Container{{Env: []corev1.EnvVar{secretEnv("z"), secretEnv("a")}}, {Env: []corev1.EnvVar{secretEnv("z")}}},
			Volumes:    []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "a"}}}},
		}, []string{"a", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podSpecSecrets(&tt.spec); !slices.Equal(got, tt.want) {
				t.Errorf("podSpecSecrets = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorkloadSecrets(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Env: []corev1.EnvVar{secretEnv("used")}}}}}
	tests := []struct {
		name string
		ann  map[string]string
		want []string
	}{
		{"not opted in", nil, nil},
		{"reload false", map[string]string{v1alpha1.AnnotationReload: "false"}, nil},
		{"reload true", map[string]string{v1alpha1.AnnotationReload: "true"}, []string{"used"}},
		{"named only", map[string]string{v1alpha1.AnnotationReloadSecrets: " x, ,y,x"}, []string{"x", "y"}},
		{"both", map[string]string{v1alpha1.AnnotationReload: "true", v1alpha1.AnnotationReloadSecrets: "x,used"}, []string{"used", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := workloadSecrets(tt.ann, tmpl); !slices.Equal(got, tt.want) {
				t.Errorf("workloadSecrets = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorkloadSecrets_boundsNames(t *testing.T) {
	names := make([]string, 3*maxReloadSecrets)
	for i := range names {
		names[i] = "s" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
	}
	got := workloadSecrets(map[string]string{v1alpha1.AnnotationReloadSecrets: strings.Join(names, ",")}, &corev1.PodTemplateSpec{})
	if len(got) > maxReloadSecrets {
		t.Errorf("%d names kept, want at most %d", len(got), maxReloadSecrets)
	}
}

func TestTargetSelects(t *testing.T) {
	lbls := map[string]string{"app": "web"}
	tests := []struct {
		name    string
		target  v1alpha1.RolloutRestartTarget
		want    bool
		wantErr bool
	}{
		{"by name", v1alpha1.RolloutRestartTarget{Kind: "Deployment", Name: "web"}, true, false},
		{"other name", v1alpha1.RolloutRestartTarget{Kind: "Deployment", Name: "api"}, false, false},
		{"other kind", v1alpha1.RolloutRestartTarget{Kind: "StatefulSet", Name: "web"}, false, false},
		{"selector matches", v1alpha1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: lbls}}, true, false},
		{"selector misses", v1alpha1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}, false, false},
		{"empty selector refused", v1alpha1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{}}, false, true},
		{"bad selector", v1alpha1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := targetSelects(tt.target, "Deployment", "web", lbls)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("targetSelects = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDataChanged(t *testing.T) {
	withHash := func(h string, data string) *corev1.Secret {
		s := &corev1.Secret{Data: map[string][]byte{"k": []byte(data)}}
		if h != "" {
			s.Annotations = map[string]string{AnnotationDataHash: h}
		}
		return s
	}
	tests := []struct {
		name          string
		before, after *corev1.Secret
		want          bool
	}{
		{"created", nil, withHash("h1", "a"), false},
		{"same hash", withHash("h1", "a"), withHash("h1", "a"), false},
		{"metadata only", withHash("h1", "a"), withHash("h1", "a"), false},
		{"hash changed", withHash("h1", "a"), withHash("h2", "b"), true},
		{"taken over, same data", withHash("", "a"), withHash("h1", "a"), false},
		{"taken over, other data", withHash("", "a"), withHash("h1", "b"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dataChanged(tt.before, tt.after); got != tt.want {
				t.Errorf("dataChanged = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRestartFingerprint(t *testing.T) {
	a := restartFingerprint(map[string]string{"a": "1", "b": "2"})
	if b := restartFingerprint(map[string]string{"b": "2", "a": "1"}); a != b {
		t.Error("fingerprint depends on map order")
	}
	for _, other := range []map[string]string{{"a": "1"}, {"a": "1", "b": "3"}, {"a": "1", "c": "2"}} {
		if restartFingerprint(other) == a {
			t.Errorf("%v has the fingerprint of a=1,b=2", other)
		}
	}
}

func TestReloader_concerns(t *testing.T) {
	ss := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}
	ss.Spec.RolloutRestartTargets = []v1alpha1.RolloutRestartTarget{{Kind: "StatefulSet", Name: "worker"}}
	b := &reloadBatch{writes: map[string]string{"db": "7", "tls": "9"}, owners: map[string]reloadOwner{
		"ss/db": {obj: ss, secret: "db", targets: ss.Spec.RolloutRestartTargets},
	}}
	dep := func(name string, ann map[string]string, env ...string) workload {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Annotations: ann}}
		for _, e := range env {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Env: []corev1.EnvVar{secretEnv(e)}})
		}
		return workload{v1alpha1.WorkloadDeployment, d, &d.Spec.Template}
	}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: "ns"}}
	tests := []struct {
		name       string
		w          workload
		wantWrites []string
		wantOwners int
	}{
		{"uses db, opted in", dep("web", map[string]string{v1alpha1.AnnotationReload: "true"}, "db", "other"), []string{"db"}, 1},
		{"uses db and tls", dep("web", map[string]string{v1alpha1.AnnotationReload: "true"}, "db", "tls"), []string{"db", "tls"}, 1},
		{"uses db, not opted in", dep("web", nil, "db"), nil, 0},
		{"names tls", dep("web", map[string]string{v1alpha1.AnnotationReloadSecrets: "tls"}), []string{"tls"}, 0},
		{"uses an unchanged Secret", dep("web", map[string]string{v1alpha1.AnnotationReload: "true"}, "other"), nil, 0},
		{"targeted by the SealedSecret", workload{v1alpha1.WorkloadStatefulSet, sts, &sts.Spec.Template}, []string{"db"}, 1},
	}
	r := &reloader{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writes, owners := r.concerns(b, tt.w)
			got := slices.Sorted(maps.Keys(writes))
			if !slices.Equal(got, tt.wantWrites) || len(owners) != tt.wantOwners {
				t.Errorf("concerns = %q, %d owners; want %q, %d", got, len(owners), tt.wantWrites, tt.wantOwners)
			}
		})
	}
}

func TestForceSyncRequested(t *testing.T) {
	es := &v1alpha1.ExternalSecret{}
	if forceSyncRequested(es) {
		t.Error("no annotation, nothing recorded: requested")
	}
	es.Annotations = map[string]string{v1alpha1.AnnotationForceSync: "1"}
	if !forceSyncRequested(es) {
		t.Error("new value: not requested")
	}
	recordForceSync(es)
	if forceSyncRequested(es) {
		t.Error("after the sync that served it: still requested")
	}
	delete(es.Annotations, v1alpha1.AnnotationForceSync)
	if !forceSyncRequested(es) {
		t.Error("annotation removed: not requested")
	}
}

func FuzzWorkloadSecrets(f *testing.F) {
	f.Add("a,b, c", "true")
	f.Add(",,,", "")
	f.Fuzz(func(t *testing.T, list, reload string) {
		got := workloadSecrets(map[string]string{v1alpha1.AnnotationReloadSecrets: list, v1alpha1.AnnotationReload: reload}, &corev1.PodTemplateSpec{})
		if len(got) > maxReloadSecrets {
			t.Fatalf("%d names", len(got))
		}
		for _, n := range got {
			if n == "" || strings.TrimSpace(n) != n || strings.Contains(n, ",") {
				t.Fatalf("name %q", n)
			}
		}
	})
}

func TestReloader_restartSkipsWhenAlreadyRestartedForTheseWrites(t *testing.T) {
	writes := map[string]string{"db": "7"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	d.Spec.Template.Annotations = map[string]string{v1alpha1.AnnotationRestartedFor: restartFingerprint(writes)}
	r := &reloader{} // no client: a patch would panic
	r.restart(t.Context(), workload{v1alpha1.WorkloadDeployment, d, &d.Spec.Template}, writes, nil)
}
