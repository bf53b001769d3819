package controllers

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func TestStoreRevalidateAfter(t *testing.T) {
	i := func(n int32) *intstr.IntOrString { v := intstr.FromInt32(n); return &v }
	s := func(v string) *intstr.IntOrString { x := intstr.FromString(v); return &x }
	tests := []struct {
		name string
		ri   *intstr.IntOrString
		want time.Duration
		bad  bool
	}{
		{"unset", nil, storeRevalidateInterval, false},
		{"zero", i(0), storeRevalidateInterval, false},
		{"seconds", i(300), 5 * time.Minute, false},
		{"duration", s("1h"), time.Hour, false},
		{"raised to the minimum", s("5s"), storeMinRevalidate, false},
		{"zero duration", s("0s"), storeRevalidateInterval, false},
		{"negative", i(-1), 0, true},
		{"not a duration", s("soon"), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := storeRevalidateAfter(&v1alpha1.SecretStoreSpec{RefreshInterval: tt.ri})
			if tt.bad {
				if !errors.Is(err, errInvalidStore) {
					t.Fatalf("error %v, want an invalid store", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
