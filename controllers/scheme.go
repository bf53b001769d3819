package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// builtinGroups are the built-in API groups the controller reads or writes:
// core (Secrets, events, service accounts, config maps, namespaces), apps
// (rollouts on reload), coordination (leader and shard Leases),
// authorization (self subject access reviews) and authentication (token
// requests). Registering client-go's whole scheme instead would link and
// initialise every API group's types (about 50 groups), resident in every
// replica for nothing.
var builtinGroups = []func(*runtime.Scheme) error{
	corev1.AddToScheme,
	appsv1.AddToScheme,
	coordinationv1.AddToScheme,
	authorizationv1.AddToScheme,
	authenticationv1.AddToScheme,
}

// AddBuiltinToScheme registers the built-in API groups the controller uses.
func AddBuiltinToScheme(s *runtime.Scheme) error {
	for _, add := range builtinGroups {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}
