package migrate

import (
	"fmt"
	"sort"
)

// Check lists what kseal would refuse in one converted document of kind,
// each with the reason and what to write instead. It reads the fields
// kseal's schema refuses (CEL rules) or its controller refuses at sync;
// it never changes obj.
func Check(doc int, kind string, obj map[string]any) []Problem {
	c := &checker{doc: doc, kind: kind}
	spec := asMap(obj["spec"])
	switch kind {
	case "SecretStore", "ClusterSecretStore":
		c.store(spec)
	case "ExternalSecret":
		c.externalSecret("spec", spec)
	case "ClusterExternalSecret":
		c.externalSecret("spec.externalSecretSpec", asMap(spec["externalSecretSpec"]))
	case "PushSecret":
		c.pushSecret("spec", spec)
	case "ClusterPushSecret":
		c.pushSecret("spec.pushSecretSpec", asMap(spec["pushSecretSpec"]))
	}
	sort.SliceStable(c.out, func(i, j int) bool { return c.out[i].Field < c.out[j].Field })
	return c.out
}

type checker struct {
	doc  int
	kind string
	out  []Problem
}

func (c *checker) add(field, why string) {
	c.out = append(c.out, Problem{Doc: c.doc, Kind: c.kind, Field: field, Why: why})
}

func (c *checker) store(spec map[string]any) {
	if v, _ := spec["controller"].(string); v != "" {
		c.add("spec.controller", "ESO's controller class is not supported by kseal: remove it")
	}
	if spec["retrySettings"] != nil {
		c.add("spec.retrySettings", "not supported by kseal (it retries provider calls itself): remove it")
	}
	provider := asMap(spec["provider"])
	for _, name := range sortedKeys(provider) {
		if name != "aws" && name != "vault" {
			c.add("spec.provider."+name, "kseal supports the aws (SecretsManager, ParameterStore) and vault providers only")
		}
	}
	if aws := asMap(provider["aws"]); aws != nil {
		if svc, _ := aws["service"].(string); svc != "SecretsManager" && svc != "ParameterStore" {
			c.add("spec.provider.aws.service", fmt.Sprintf("service %q is not supported by kseal: use SecretsManager or ParameterStore", svc))
		}
		if p, _ := aws["sessionTagsPolicy"].(string); p == "Simple" || p == "Custom" {
			c.add("spec.provider.aws.sessionTagsPolicy", "sessionTagsPolicy "+p+" is not supported by kseal: list the tags in sessionTags")
		}
	}
	if vault := asMap(provider["vault"]); vault != nil {
		auth := asMap(vault["auth"])
		for method, why := range map[string]string{
			"ldap": "use userPass with path set to the LDAP auth mount, or appRole",
			"iam":  "use kubernetes or jwt auth with a service account, or appRole",
			"gcp":  "use kubernetes or jwt auth with a service account, or appRole",
		} {
			if auth[method] != nil {
				c.add("spec.provider.vault.auth."+method, "not supported by kseal: "+why)
			}
		}
	}
}

func (c *checker) externalSecret(path string, spec map[string]any) {
	if spec["syncWindows"] != nil {
		c.add(path+".syncWindows", "syncWindows are not supported by kseal: remove them (refreshPolicy OnChange or CreatedOnce limit refreshes)")
	}
	target := asMap(spec["target"])
	if p, _ := target["creationPolicy"].(string); p == "CreateOrMerge" {
		c.add(path+".target.creationPolicy", "CreateOrMerge is not supported by kseal: use Owner or Merge")
	}
	if p, _ := target["deletionPolicy"].(string); p == "Merge" {
		c.add(path+".target.deletionPolicy", "deletionPolicy Merge is not supported by kseal: use Retain or Delete")
	}
	if m := asMap(target["manifest"]); m != nil && (m["apiVersion"] != "v1" || m["kind"] != "Secret") {
		c.add(path+".target.manifest", "kseal writes Secrets only: remove target.manifest")
	}
	tpl := asMap(target["template"])
	if v, _ := tpl["engineVersion"].(string); v == "v1" {
		c.add(path+".target.template.engineVersion", "the v1 engine is not supported by kseal: write engineVersion: v2 and the v2 syntax")
	}
	if f, _ := asMap(tpl["metadata"])["finalizers"].([]any); len(f) > 0 {
		c.add(path+".target.template.metadata.finalizers", "not supported by kseal: remove them")
	}
	for i, d := range asList(spec["data"]) {
		e := asMap(d)
		field := fmt.Sprintf("%s.data[%d]", path, i)
		if pol, _ := asMap(e["remoteRef"])["metadataPolicy"].(string); pol == "Fetch" {
			c.add(field+".remoteRef.metadataPolicy", "metadataPolicy Fetch is not supported by kseal yet")
		}
		c.generator(field, e)
	}
	for i, d := range asList(spec["dataFrom"]) {
		e := asMap(d)
		field := fmt.Sprintf("%s.dataFrom[%d]", path, i)
		c.generator(field, e)
	}
}

func (c *checker) generator(field string, entry map[string]any) {
	g := asMap(asMap(entry["sourceRef"])["generatorRef"])
	if g == nil {
		return
	}
	kind, _ := g["kind"].(string)
	c.add(field+".sourceRef.generatorRef", fmt.Sprintf("generator %s: kseal does not run ESO's generators (a Password generator is being added): fetch the value from a store", kind))
}

func (c *checker) pushSecret(path string, spec map[string]any) {
	for field, why := range map[string]string{
		"dataTo":   "dataTo is not supported by kseal: list each key in data",
		"template": "template is not supported by kseal on PushSecret: template the source Secret instead",
	} {
		if spec[field] != nil {
			c.add(path+"."+field, why)
		}
	}
	if asMap(spec["selector"])["generatorRef"] != nil {
		c.add(path+".selector.generatorRef", "not supported by kseal: push a Secret")
	}
	for i, r := range asList(spec["secretStoreRefs"]) {
		if asMap(r)["labelSelector"] != nil {
			c.add(fmt.Sprintf("%s.secretStoreRefs[%d].labelSelector", path, i), "not supported by kseal: name each store")
		}
	}
	for i, d := range asList(spec["data"]) {
		if asMap(d)["metadata"] != nil {
			c.add(fmt.Sprintf("%s.data[%d].metadata", path, i), "not supported by kseal: remote secrets get kseal's ownership tags only")
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
