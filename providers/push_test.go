package providers

import "testing"

// TestPushRefOwns: kseal's own pushes need kseal's two marks; a PushSecret
// taken over from ESO owns a remote secret with ESO's mark only when its
// status records it (ESO's mark names no PushSecret) or kseal's owner mark
// names it, never one another PushSecret marked.
func TestPushRefOwns(t *testing.T) {
	kseal := PushRef{Key: "k", Owner: "ns/a"}
	eso := PushRef{Key: "k", Owner: "ns/a", ManagedBy: "external-secrets"}
	recorded := eso
	recorded.Recorded = true
	for _, tc := range []struct {
		name  string
		ref   PushRef
		marks map[string]string
		want  bool
	}{
		{"kseal: both marks", kseal, map[string]string{ManagedByKey: ManagedByValue, OwnerKey: "ns/a"}, true},
		{"kseal: another owner", kseal, map[string]string{ManagedByKey: ManagedByValue, OwnerKey: "ns/b"}, false},
		{"kseal: ESO's mark", kseal, map[string]string{ManagedByKey: "external-secrets"}, false},
		{"kseal: recorded does not count", PushRef{Key: "k", Owner: "ns/a", Recorded: true}, map[string]string{ManagedByKey: ManagedByValue}, false},
		{"eso: not recorded", eso, map[string]string{ManagedByKey: "external-secrets"}, false},
		{"eso: recorded", recorded, map[string]string{ManagedByKey: "external-secrets"}, true},
		{"eso: recorded, another's owner mark", recorded, map[string]string{ManagedByKey: "external-secrets", OwnerKey: "ns/b"}, false},
		{"eso: kseal's owner mark", eso, map[string]string{ManagedByKey: "external-secrets", OwnerKey: "ns/a"}, true},
		{"eso: recorded, kseal's mark", recorded, map[string]string{ManagedByKey: ManagedByValue, OwnerKey: "ns/a"}, false},
		{"eso: unmarked", recorded, map[string]string{}, false},
		{"no owner", PushRef{Key: "k", ManagedBy: "external-secrets", Recorded: true}, map[string]string{ManagedByKey: "external-secrets"}, false},
	} {
		if got := tc.ref.Owns(tc.marks); got != tc.want {
			t.Errorf("%s: Owns = %v, want %v", tc.name, got, tc.want)
		}
	}
	if eso.Mark() != "external-secrets" || kseal.Mark() != ManagedByValue {
		t.Errorf("Mark: %q %q", eso.Mark(), kseal.Mark())
	}
}
