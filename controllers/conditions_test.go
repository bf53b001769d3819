package controllers

import (
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// TestSetStatus walks one object through the outcomes and checks that at
// most one kstatus condition is True, that it mirrors Ready's reason and
// message, and that both are gone once Ready is True.
func TestSetStatus(t *testing.T) {
	ss := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	steps := []struct {
		name                string
		set                 func()
		ready               metav1.ConditionStatus
		stalled, reconciles bool
	}{
		{"waiting", func() { setWaiting(ss, "keys loading") }, metav1.ConditionUnknown, false, true},
		{"terminal", func() { setFailed(ss, false, v1alpha1.ReasonScopeMismatch, "moved") }, metav1.ConditionFalse, true, false},
		{"retryable", func() { setFailed(ss, true, v1alpha1.ReasonProgressing, "write failed") }, metav1.ConditionFalse, false, true},
		{"ready", func() { setReadyTrue(ss, v1alpha1.ReasonUnsealed, "up to date") }, metav1.ConditionTrue, false, false},
	}
	for _, st := range steps {
		st.set()
		conds := ss.Status.Conditions
		ready := apimeta.FindStatusCondition(conds, v1alpha1.ConditionReady)
		if ready == nil || ready.Status != st.ready || ready.ObservedGeneration != 3 || ss.Status.ObservedGeneration != 3 {
			t.Fatalf("%s: Ready %+v, observedGeneration %d", st.name, ready, ss.Status.ObservedGeneration)
		}
		for typ, want := range map[string]bool{v1alpha1.ConditionStalled: st.stalled, v1alpha1.ConditionReconciling: st.reconciles} {
			c := apimeta.FindStatusCondition(conds, typ)
			if !want {
				if c != nil {
					t.Errorf("%s: %s present (%s)", st.name, typ, c.Status)
				}
				continue
			}
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ready.Reason || c.Message != ready.Message || c.ObservedGeneration != 3 {
				t.Errorf("%s: %s = %+v, Ready %+v", st.name, typ, c, ready)
			}
		}
	}
}
