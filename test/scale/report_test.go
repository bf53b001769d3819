package scale

import (
	"fmt"
	"strings"
	"time"
)

// Targets from the scale issue. They are reported, never asserted: the
// machines are shared and noisy.
const (
	targetN              = 5000
	targetES             = 1000
	targetV2Cold         = 60 * time.Second
	targetRestart        = 30 * time.Second
	targetPeakRSSMiB     = 150
	targetCallsPerCycle  = 60
	v1DecryptCostSeconds = 0.0045 // one RSA-4096 OAEP decryption, from `make bench`

	// The optional large size (v2 only).
	targetLargeN          = 20000
	targetLargeCold       = 120 * time.Second
	targetLargeRestart    = 10 * time.Second
	targetLargePeakRSSMiB = 250
)

// markdown renders the results as the tables of docs/BENCHMARKS.md.
func (r *results) markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %.1f GiB, Linux %s, %s; load average at the start %s. Run took %v.\n",
		m.CPUs, m.Model, m.MemoryGiB, m.Kernel, m.Go, m.LoadAvg, r.Duration.Round(time.Second))
	args := "defaults (`" + r.Defaults + "`)"
	if r.ControllerArgs != "" {
		args += " plus `" + r.ControllerArgs + "`"
	}
	if r.ControllerEnv != "" {
		args += ", environment `" + r.ControllerEnv + "`"
	}
	fmt.Fprintf(&b, "Controller built from %s; flags: %s.\n\n", r.Controller, args)

	b.WriteString("Cold start: the SealedSecrets exist before the controller starts; time from process start until all are Ready.\n\n")
	b.WriteString("| format | N | time to Ready | controller CPU | CPU ÷ wall | decryptions | decryptions/s | peak RSS | API writes (until idle) | apiserver + etcd CPU | load avg |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|\n")
	for _, s := range r.Sealed {
		if c := s.Cold; c != nil {
			fmt.Fprintf(&b, "| %s | %s | %.1f s | %.1f s | %.2f | %s | %s | %.0f MiB | %s | %.1f s | %.1f |\n",
				s.Format, thousands(s.N), c.Wall.Seconds(), c.CPU, c.CPU/c.Wall.Seconds(), thousands(int(c.Decryptions)),
				thousands(int(c.Decryptions/c.Wall.Seconds())), mib(c.PeakRSS), writesCell(c), c.Others.APIServer+c.Others.Etcd, c.Load)
		}
	}
	b.WriteString("\nRestart with nothing changed: time from process start until every SealedSecret was reconciled and the queue is empty (controller metrics).\n\n")
	b.WriteString("| format | N | time | controller CPU | decryptions | peak RSS | API writes |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|---|\n")
	for _, s := range r.Sealed {
		if c := s.Restart; c != nil {
			fmt.Fprintf(&b, "| %s | %s | %.1f s | %.1f s | %s | %.0f MiB | %s |\n",
				s.Format, thousands(s.N), c.Wall.Seconds(), c.CPU, thousands(int(c.Decryptions)), mib(c.PeakRSS), writesCell(c))
		}
	}
	var cached []*sealedRun
	for _, s := range r.Sealed {
		if s.Cache != nil {
			cached = append(cached, s)
		}
	}
	if len(cached) > 0 {
		b.WriteString("\nInformer cache of every SealedSecret and Secret, whole and with the controller's cache options, measured in the test process after the run: live Go heap.\n\n")
		b.WriteString("| format | SealedSecrets | Secrets | cache heap | per SealedSecret | as the controller caches |\n|---|--:|--:|--:|--:|--:|\n")
		for _, s := range cached {
			c := s.Cache
			fmt.Fprintf(&b, "| %s | %s | %s | %.1f MiB | %.1f KiB | %.1f MiB |\n", s.Format, thousands(c.SealedSecrets), thousands(c.Secrets),
				mib(c.Heap), float64(c.Heap)/1024/float64(max(c.SealedSecrets, 1)), mib(c.Stripped))
		}
	}
	b.WriteString(bitnamiMarkdown(r.Bitnami))
	if e := r.External; e != nil && e.Cold != nil {
		fmt.Fprintf(&b, "\nExternalSecrets: %s on one AWS store (emulator), one data ref each; provider calls counted by the emulator.\n\n", thousands(e.N))
		b.WriteString("| cycle | time | provider calls | BatchGetSecretValue | GetSecretValue | ListSecrets | other | peak RSS | API writes |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
		fmt.Fprintf(&b, "| first sync (cold start → all Ready) | %.1f s | %s | %s | %.0f MiB | %s |\n",
			e.Cold.Wall.Seconds(), thousands(e.Calls.Total), callCells(e.Calls), mib(e.Cold.PeakRSS), writesCell(e.Cold))
		if e.Refresh > 0 && e.RefreshCalls.ByOp != nil {
			fmt.Fprintf(&b, "| next refresh (refreshInterval %v) | — | %s | %s | — | %s |\n",
				e.Refresh, thousands(e.RefreshCalls.Total), callCells(e.RefreshCalls), formatWrites(e.RefreshWrites))
		}
	}
	if x := r.Mixed; x != nil && x.Cold != nil {
		fmt.Fprintf(&b, "\nTogether: %s SealedSecrets (v2) and %s ExternalSecrets, cold start.\n\n", thousands(x.Sealed), thousands(x.External))
		b.WriteString("| time to Ready | controller CPU | peak RSS | resident at the end: anonymous / file-backed | Go heap in use at the end | API writes |\n|--:|--:|--:|--:|--:|---|\n")
		fmt.Fprintf(&b, "| %.1f s | %.1f s | %.0f MiB | %.0f / %.0f MiB | %.0f MiB | %s |\n", x.Cold.Wall.Seconds(), x.Cold.CPU, mib(x.Cold.PeakRSS),
			mib(x.Cold.RSSAnon), mib(x.Cold.RSSFile), mib(x.Cold.HeapInuse), writesCell(x.Cold))
	}
	b.WriteString("\n")
	b.WriteString(r.targets())
	return b.String()
}

// targets is the table of targets with the measured figures.
func (r *results) targets() string {
	var b strings.Builder
	b.WriteString("| target | goal | measured | met |\n|---|---|---|---|\n")
	row := func(target, goal, measured string, met *bool) {
		verdict := "not measured"
		switch {
		case met == nil && measured != "":
			verdict = "reported"
		case met != nil && *met:
			verdict = "yes"
		case met != nil:
			verdict = "**no**"
		}
		if measured == "" {
			measured = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", target, goal, measured, verdict)
	}
	yes := func(ok bool) *bool { return &ok }
	n := thousands(targetN)
	if s := r.sealed("v2", targetN); s != nil && s.Cold != nil {
		row("v2 cold start, "+n+" SealedSecrets → all Ready", fmt.Sprintf("≤ %v s", targetV2Cold.Seconds()),
			fmt.Sprintf("%.1f s", s.Cold.Wall.Seconds()), yes(s.Cold.Wall <= targetV2Cold))
	} else {
		row("v2 cold start, "+n+" SealedSecrets → all Ready", fmt.Sprintf("≤ %v s", targetV2Cold.Seconds()), "", nil)
	}
	if s := r.sealed("v1", targetN); s != nil && s.Cold != nil {
		floor := float64(targetN*itemsPerSecret) * v1DecryptCostSeconds / float64(r.Machine.CPUs)
		row("v1 cold start, "+n+" SealedSecrets (RSA bound)", fmt.Sprintf("report; CPU floor ≈ %.0f s on %d cores", floor, r.Machine.CPUs),
			fmt.Sprintf("%.1f s wall, %.1f controller CPU-s, %s decryptions/s", s.Cold.Wall.Seconds(), s.Cold.CPU, thousands(int(s.Cold.Decryptions/s.Cold.Wall.Seconds()))), nil)
	} else {
		row("v1 cold start, "+n+" SealedSecrets (RSA bound)", "report", "", nil)
	}
	for _, f := range []string{"v2", "v1"} {
		if s := r.sealed(f, targetN); s != nil && s.Restart != nil {
			row("restart, "+n+" unchanged "+f+" SealedSecrets", fmt.Sprintf("≤ %v s and 0 decryptions", targetRestart.Seconds()),
				fmt.Sprintf("%.1f s, %v decryptions", s.Restart.Wall.Seconds(), s.Restart.Decryptions),
				yes(s.Restart.Wall <= targetRestart && s.Restart.Decryptions == 0))
		}
	}
	r.largeTargets(row)
	rss := fmt.Sprintf("≤ %d MiB", targetPeakRSSMiB)
	if x := r.Mixed; x != nil && x.Cold != nil && x.Sealed == targetN && x.External == targetES {
		row("peak RSS, "+n+" SealedSecrets + "+thousands(targetES)+" ExternalSecrets", rss,
			fmt.Sprintf("%.0f MiB", mib(x.Cold.PeakRSS)), yes(mib(x.Cold.PeakRSS) <= targetPeakRSSMiB))
	} else {
		row("peak RSS, "+n+" SealedSecrets + "+thousands(targetES)+" ExternalSecrets", rss, "", nil)
	}
	goal := fmt.Sprintf("≤ %d", targetCallsPerCycle)
	if e := r.External; e != nil && e.Cold != nil && e.N == targetES {
		row("provider calls, first sync of "+thousands(targetES)+" ExternalSecrets", goal,
			thousands(e.Calls.Total), yes(e.Calls.Total <= targetCallsPerCycle))
		if e.RefreshCalls.ByOp != nil {
			row(fmt.Sprintf("provider calls, a refresh cycle of %s ExternalSecrets (refreshInterval %v)", thousands(targetES), e.Refresh), goal,
				thousands(e.RefreshCalls.Total), yes(e.RefreshCalls.Total <= targetCallsPerCycle))
		}
	} else {
		row("provider calls per refresh cycle of "+thousands(targetES)+" ExternalSecrets", goal, "", nil)
	}
	return b.String()
}

// largeTargets adds the rows of the 20,000 v2 SealedSecrets size, when it
// ran (it is optional: make bench-scale SCALE_N=20000 ...).
func (r *results) largeTargets(row func(target, goal, measured string, met *bool)) {
	s := r.sealed("v2", targetLargeN)
	if s == nil || s.Cold == nil {
		return
	}
	yes := func(ok bool) *bool { return &ok }
	n := thousands(targetLargeN)
	row("v2 cold start, "+n+" SealedSecrets → all Ready", fmt.Sprintf("≤ %v s", targetLargeCold.Seconds()),
		fmt.Sprintf("%.1f s (%.1f controller CPU-s, load %.1f)", s.Cold.Wall.Seconds(), s.Cold.CPU, s.Cold.Load), yes(s.Cold.Wall <= targetLargeCold))
	peak := s.Cold.PeakRSS
	if s.Restart != nil {
		row("restart, "+n+" unchanged v2 SealedSecrets", fmt.Sprintf("≤ %v s and 0 decryptions", targetLargeRestart.Seconds()),
			fmt.Sprintf("%.1f s (%.1f controller CPU-s, load %.1f), %v decryptions", s.Restart.Wall.Seconds(), s.Restart.CPU, s.Restart.Load, s.Restart.Decryptions),
			yes(s.Restart.Wall <= targetLargeRestart && s.Restart.Decryptions == 0))
		peak = max(peak, s.Restart.PeakRSS)
	}
	row("peak RSS, "+n+" v2 SealedSecrets (cold start and restart)", fmt.Sprintf("≤ %d MiB", targetLargePeakRSSMiB),
		fmt.Sprintf("%.0f MiB", mib(peak)), yes(mib(peak) <= targetLargePeakRSSMiB))
}

func (r *results) sealed(format string, n int) *sealedRun {
	for _, s := range r.Sealed {
		if s.Format == format && s.N == n {
			return s
		}
	}
	return nil
}

func callCells(c callCounts) string {
	return fmt.Sprintf("%s | %s | %s | %s", thousands(c.ByOp["BatchGetSecretValue"]), thousands(c.ByOp["GetSecretValue"]),
		thousands(c.ByOp["ListSecrets"]), thousands(c.ByOp["DescribeSecret"]+c.ByOp["other"]))
}

// writesCell lists the controller's Kubernetes API writes by method.
func writesCell(ph *phase) string { return formatWrites(ph.writes()) }

func formatWrites(w map[string]float64) string {
	var parts []string
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if w[m] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", thousands(int(w[m])), m))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
