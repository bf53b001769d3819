package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
)

// sinceStart says how long ago `make demo` started (KSEAL_DEMO_START, Unix
// seconds, set by hack/demo.sh), or "" when run on its own.
func sinceStart() string {
	start, err := strconv.ParseInt(os.Getenv("KSEAL_DEMO_START"), 10, 64)
	if err != nil {
		return ""
	}
	d := time.Since(time.Unix(start, 0)).Round(time.Second)
	return fmt.Sprintf(" (%dm%02ds after make demo started)", int(d.Minutes()), int(d.Seconds())%60)
}

// waitForVault makes the Vault binary available to vaulttest. hack/demo.sh
// builds it in the background and writes its path (or FAILED) to the file
// named by KSEAL_DEMO_VAULT_STATUS when done; without that variable,
// vaulttest finds the binary itself (KSEAL_VAULT or the cache).
func waitForVault() error {
	status := os.Getenv("KSEAL_DEMO_VAULT_STATUS")
	if status == "" || os.Getenv(vaulttest.BinaryEnvVar) != "" {
		return nil
	}
	buildLog := os.Getenv("KSEAL_DEMO_VAULT_LOG")
	waited := time.Now()
	report := waited.Add(time.Minute)
	for announced := false; ; announced = true {
		b, err := os.ReadFile(status)
		if err != nil {
			return fmt.Errorf("the Vault build's status: %w", err)
		}
		switch s := strings.TrimSpace(string(b)); {
		case s == "FAILED":
			log, _ := os.ReadFile(buildLog)
			return fmt.Errorf("building Vault failed (hack/build-vault.sh):\n%s", log)
		case s != "":
			if announced {
				fmt.Printf("Vault built after waiting %v.\n", time.Since(waited).Round(time.Second))
			}
			return os.Setenv(vaulttest.BinaryEnvVar, s)
		}
		if !announced {
			fmt.Printf("Waiting for the Vault build that runs in the background (log: %s)...\n", buildLog)
		} else if time.Now().After(report) {
			fmt.Printf("  still building Vault, %v so far in this wait\n", time.Since(waited).Round(time.Second))
			report = report.Add(time.Minute)
		}
		time.Sleep(time.Second)
	}
}
