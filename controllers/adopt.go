package controllers

import (
	"fmt"
	"slices"
	"strings"
)

// Values of --adopt-apis: the other controllers' APIs kseal reconciles in
// place, through the CRDs those controllers installed (see docs/migrate.md).
const (
	// AdoptBitnami: sealed-secrets' bitnami.com/v1alpha1 SealedSecrets.
	AdoptBitnami = "bitnami"
	// AdoptExternalSecrets: External Secrets Operator's external-secrets.io
	// kinds.
	AdoptExternalSecrets = "external-secrets"
)

// AdoptAPIs is the set of APIs named by --adopt-apis.
type AdoptAPIs map[string]bool

// ParseAdoptAPIs reads a comma-separated --adopt-apis value; empty items
// are ignored and an unknown one is an error that lists the known values.
func ParseAdoptAPIs(s string) (AdoptAPIs, error) {
	known := []string{AdoptBitnami, AdoptExternalSecrets}
	out := AdoptAPIs{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !slices.Contains(known, item) {
			return nil, fmt.Errorf("--adopt-apis: unknown API %q (known: %s)", item, strings.Join(known, ", "))
		}
		out[item] = true
	}
	return out, nil
}
