package controllers

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// recentSyncs remembers the last successful sync of each ExternalSecret in
// this process. The informer's copy of an ExternalSecret lags its status
// patch: the Secret write of a sync queues the ExternalSecret again, and a
// reconcile that read the copy from before the patch would fetch every
// value a second time (and could write a value that changed in between).
// With this record the reconcile sees that the sync it would repeat has just
// been done. It holds one small entry per ExternalSecret, dropped when the
// ExternalSecret is deleted or a sync fails.
type recentSyncs struct {
	mu sync.Mutex
	m  map[types.NamespacedName]recentSync
}

// recentSync is what a sync served: the spec version, the force-sync value,
// when, and the Ready reason and message it recorded.
type recentSync struct {
	version, forceSync string
	at                 time.Time
	reason, message    string
}

// record notes a successful sync of es at the time at.
func (r *recentSyncs) record(es *v1alpha1.ExternalSecret, at time.Time, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[types.NamespacedName]recentSync{}
	}
	r.m[types.NamespacedName{Namespace: es.Namespace, Name: es.Name}] = recentSync{
		version: syncVersion(es), forceSync: es.Annotations[v1alpha1.AnnotationForceSync], at: at,
		reason: reason, message: message,
	}
}

// drop forgets key.
func (r *recentSyncs) drop(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}

// covers reports whether a sync of this process, newer than the status of
// es (a cached copy that may lag), already serves es's spec and force-sync
// value and is not yet due again (interval 0: never due by time). It
// returns when the next refresh is due. When it does, es's status is set to
// what that sync recorded, so the status patch is sent again if it was lost.
func (r *recentSyncs) covers(es *v1alpha1.ExternalSecret, now time.Time, interval time.Duration) (time.Duration, bool) {
	r.mu.Lock()
	s, ok := r.m[types.NamespacedName{Namespace: es.Namespace, Name: es.Name}]
	r.mu.Unlock()
	if !ok || !s.at.After(es.Status.RefreshTime.Time) || s.version != syncVersion(es) || s.forceSync != es.Annotations[v1alpha1.AnnotationForceSync] {
		return 0, false
	}
	next := time.Duration(0)
	if interval > 0 {
		if next = s.at.Add(interval + refreshJitter(es, interval)).Sub(now); next <= 0 {
			return 0, false
		}
	}
	es.Status.RefreshTime = metav1.NewTime(s.at)
	es.Status.SyncedResourceVersion = s.version
	recordForceSync(es)
	setReadyTrue(es, s.reason, s.message)
	return next, true
}
