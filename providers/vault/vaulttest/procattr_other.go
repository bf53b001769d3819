//go:build !linux

package vaulttest

import "os/exec"

// setProcAttr does nothing where there is no parent-death signal; Stop (or
// the end of the test binary's process group) ends the server.
func setProcAttr(*exec.Cmd) {}
