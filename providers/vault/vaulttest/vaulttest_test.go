package vaulttest

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	s, err := Start()
	if errors.Is(err, ErrBinaryNotFound) && os.Getenv("KSEAL_REQUIRE_TOOLS") == "" {
		t.Skipf("%v (set %s)", err, BinaryEnvVar)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Addr, "http://127.0.0.1:") {
		t.Errorf("server not on loopback: %s", s.Addr)
	}
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	self, err := c.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatalf("root token lookup: %v", err)
	}
	if policies, _ := self.TokenPolicies(); len(policies) != 1 || policies[0] != "root" {
		t.Errorf("root token policies %v", policies)
	}
	mounts, err := c.Sys().ListMounts()
	if err != nil {
		t.Fatal(err)
	}
	if m := mounts["secret/"]; m == nil || m.Type != "kv" || m.Options["version"] != "2" {
		t.Errorf("no KV v2 at secret/: %+v", m)
	}

	pid := s.PID()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop (kill -0: %v)", pid, err)
	}
	client := &http.Client{Timeout: time.Second}
	if resp, err := client.Get(s.Addr + "/v1/sys/health"); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
