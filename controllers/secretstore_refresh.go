package controllers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// storeMinRevalidate is the shortest spec.refreshInterval a store may ask
// for: each check is a provider call, and a namespaced store is written by
// anyone who may edit its namespace.
const storeMinRevalidate = time.Minute

// storeRevalidateAfter reads a store's spec.refreshInterval (ESO's field: a
// number of seconds or a Go duration): how long until its credentials are
// checked again. Empty or 0 gives the default; a value under one minute is
// raised to it.
func storeRevalidateAfter(spec *v1alpha1.SecretStoreSpec) (time.Duration, error) {
	ri := spec.RefreshInterval
	if ri == nil {
		return storeRevalidateInterval, nil
	}
	var d time.Duration
	switch ri.Type {
	case intstr.Int:
		d = time.Duration(ri.IntVal) * time.Second
	default:
		var err error
		if d, err = time.ParseDuration(ri.StrVal); err != nil {
			return 0, fmt.Errorf("%w: spec.refreshInterval %q is not a number of seconds or a duration such as 10m", errInvalidStore, ri.StrVal)
		}
	}
	switch {
	case d < 0:
		return 0, fmt.Errorf("%w: spec.refreshInterval must not be negative", errInvalidStore)
	case d == 0:
		return storeRevalidateInterval, nil
	case d < storeMinRevalidate:
		return storeMinRevalidate, nil
	}
	return d, nil
}
