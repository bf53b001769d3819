package e2e

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestTemplateBombs: a SealedSecret and an ExternalSecret whose templates
// would build hundreds of megabytes are refused with TemplateError before
// the work is done, the controller allocates little for them, and it goes
// on to reconcile ordinary objects.
func TestTemplateBombs(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "bombs")
	// A 64 KiB value, repeated by the templates below.
	value := canary("bomb") + strings.Repeat("x", 64<<10)
	srv.CreateSecret(t, ns+"/big", value, nil)
	awsStore(t, srv, ns, "aws")
	storeReady(t, ns, "aws", metav1.ConditionTrue)
	sealed := sealSecret(t, c, secret(ns, "bomb", map[string]string{"v": value}))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	// print with 10,000 arguments: 640 MiB.
	sealed.Spec.Template.Data = map[string]string{"out": "{{ print " + strings.Repeat(".v ", 10000) + "}}"}
	apply(t, sealed)
	// printf repeating its argument 5,000 times: 320 MiB.
	es := externalSecret(ns, "bomb", "aws", time.Hour, ref("v", ns+"/big", ""))
	es.Spec.Target.Template = &v1alpha1.ExternalSecretTemplate{Data: map[string]string{
		"out": `{{ printf "` + strings.Repeat("%[1]s", 5000) + `" .v }}`,
	}}
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}

	ssCond := readyCondition(t, ns, "bomb", metav1.ConditionFalse)
	esCond := esCondition(t, ns, "bomb", metav1.ConditionFalse, "")
	runtime.ReadMemStats(&after)
	for kind, cond := range map[string]*metav1.Condition{"SealedSecret": ssCond, "ExternalSecret": esCond} {
		if cond.Reason != v1alpha1.ReasonTemplateError || !strings.Contains(cond.Message, "one value may hold") || !strings.Contains(cond.Message, "(kseal template limit MaxValueSize)") {
			t.Errorf("%s: %s: %s", kind, cond.Reason, cond.Message)
		}
		if strings.Contains(cond.Message, canary("bomb")) || len(cond.Message) > 2048 {
			t.Errorf("%s: message of %d bytes quotes the value or the template", kind, len(cond.Message))
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Errorf("the controller allocated %d MiB while refusing the bombs", alloc>>20)
	} else {
		t.Logf("allocated %d MiB while refusing the bombs", alloc>>20)
	}
	for _, name := range []string{"bomb"} {
		if getSecret(t, ns, name) != nil {
			t.Errorf("%s: a Secret was written", name)
		}
	}

	// The controller still works.
	apply(t, sealSecret(t, c, secret(ns, "plain", map[string]string{"password": canary("after-bomb")})))
	readyCondition(t, ns, "plain", metav1.ConditionTrue)
	plainES := externalSecret(ns, "plain-es", "aws", time.Hour, ref("v", ns+"/big", ""))
	plainES.Spec.Target.Template = &v1alpha1.ExternalSecretTemplate{Type: corev1.SecretTypeOpaque, Data: map[string]string{"len": "{{ len .v }}"}}
	if err := env.Client.Create(ctx, plainES); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "plain-es", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if got := getSecret(t, ns, "plain-es"); got == nil || string(got.Data["len"]) != fmt.Sprint(len(value)) {
		t.Errorf("templated Secret after the bombs: %v", got)
	}
}
