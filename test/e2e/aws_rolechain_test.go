package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestExternalSecret_awsRoleChain: a store's additionalRoles, role,
// externalID, session tags and prefix reach STS and Secrets Manager as in
// External Secrets Operator (checked on what the emulator received), and
// the settings kseal does not implement are refused with a message.
func TestExternalSecret_awsRoleChain(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-aws-chain")
	srv.CreateSecret(t, ns+"/team/db", canary("aws-chain"), nil)
	awsStore(t, srv, ns, "chain")
	const hop, role = "arn:aws:iam::111111111111:role/hop", "arn:aws:iam::222222222222:role/team-b"
	edit := func(name string, mod func(*v1alpha1.AWSProvider)) {
		t.Helper()
		s := &v1alpha1.SecretStore{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			t.Fatal(err)
		}
		s.Spec.Provider.AWS.STSEndpoint = srv.URL
		mod(s.Spec.Provider.AWS)
		if err := env.Client.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	edit("chain", func(p *v1alpha1.AWSProvider) {
		p.Role, p.Prefix = role, ns+"/"
		p.AdditionalRoles = []string{hop}
		p.ExternalID = "team-b-external"
		p.SessionTags = []*v1alpha1.AWSTag{{Key: "cost-center", Value: "team-b"}}
		p.TransitiveTagKeys = []string{"cost-center"}
	})
	if err := env.Client.Create(ctx, externalSecret(ns, "db", "chain", time.Hour, ref("password", "team/db", ""))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "db", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if got := getSecret(t, ns, "db"); string(got.Data["password"]) != canary("aws-chain") {
		t.Error("the prefixed key was not read")
	}
	var hopCall, roleCall *awstest.AssumeRoleCall
	calls := srv.AssumeRoleCalls()
	for i := range calls {
		switch calls[i].RoleARN {
		case hop:
			hopCall = &calls[i]
		case role:
			roleCall = &calls[i]
		}
	}
	switch {
	case hopCall == nil || roleCall == nil:
		t.Fatalf("AssumeRole calls %+v, want %s then %s", calls, hop, role)
	case hopCall.SignedBy != awstest.AccessKeyID || roleCall.SignedBy != hopCall.Issued:
		t.Errorf("chain: %s signed by %s, %s signed by %s (want the store's key, then %s's credentials)", hop, hopCall.SignedBy, role, roleCall.SignedBy, hop)
	case hopCall.ExternalID != "" || len(hopCall.Tags) > 0:
		t.Errorf("the additional role got the external id or tags: %+v", hopCall)
	case roleCall.ExternalID != "team-b-external" || !slices.Equal(roleCall.Tags, []string{"cost-center=team-b"}) || !slices.Equal(roleCall.TransitiveTagKeys, []string{"cost-center"}):
		t.Errorf("role call %+v, want the external id, tag and transitive key", roleCall)
	}

	refused := map[string]func(*v1alpha1.AWSProvider){
		"sessionTagsPolicy Simple is not supported":              func(p *v1alpha1.AWSProvider) { p.Role, p.SessionTagsPolicy = role, "Simple" },
		"externalID and sessionTags are sent when assuming role": func(p *v1alpha1.AWSProvider) { p.ExternalID = "x-123" },
		"not both": func(p *v1alpha1.AWSProvider) {
			p.SecretsManager = &v1alpha1.AWSSecretsManager{ForceDeleteWithoutRecovery: true, RecoveryWindowInDays: 7}
		},
		"is not an IAM role ARN": func(p *v1alpha1.AWSProvider) { p.AdditionalRoles = []string{"admin"} },
	}
	i := 0
	for want, mod := range refused {
		i++
		name := "refused-" + string(rune('a'+i))
		awsStore(t, srv, ns, name)
		edit(name, mod)
		if msg := storeReady(t, ns, name, metav1.ConditionFalse).Message; !strings.Contains(msg, want) {
			t.Errorf("store %s: Ready message %q, want %q", name, msg, want)
		}
	}
}
