// Package argocdplugin reads the Argo CD config management plugin that
// kseal ships (config/argocd/plugin.yaml), so the tests that run its
// generate command (the CLI's, the sidecar image's, the e2e one) read it
// one way.
package argocdplugin

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Path is plugin.yaml relative to the repository root.
const Path = "config/argocd/plugin.yaml"

// Generate returns the generate command of the plugin under repoRoot:
// the program and its arguments, as the CMP server runs them.
func Generate(repoRoot string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, Path))
	if err != nil {
		return nil, err
	}
	var plugin struct {
		Spec struct {
			Generate struct {
				Command []string `json:"command"`
				Args    []string `json:"args"`
			} `json:"generate"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &plugin); err != nil {
		return nil, fmt.Errorf("%s: %w", Path, err)
	}
	cmd := append(plugin.Spec.Generate.Command, plugin.Spec.Generate.Args...)
	if len(cmd) == 0 {
		return nil, fmt.Errorf("%s has no generate command", Path)
	}
	return cmd, nil
}
