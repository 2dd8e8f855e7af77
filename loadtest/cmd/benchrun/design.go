package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// designCmd measures the two ways a waiting poll can wait (POLL_WAIT):
// a blocking read in Redis per poll (blmove) and one wake-up subscription
// per node (subscribe), each on a fresh Redis: idle polls at several
// sizes (memory, descriptors, Redis clients and memory) and the direct
// rate ladder (p99, CPU per message). It writes a Markdown table.
func designCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchrun design", flag.ContinueOnError)
	webchat := fs.String("webchat", "", "webchat binary")
	loadtest := fs.String("loadtest", "", "loadtest binary")
	results := fs.String("results", "loadtest/results/design", "folder for results, logs and plots")
	modes := fs.String("modes", "blmove,subscribe", "POLL_WAIT values to compare")
	sizes := fs.String("idle", "1000,5000,10000", "idle sizes (waiting polls) for every mode")
	maxSizes := fs.String("max", "blmove=19000,subscribe=40000", "the largest idle size per mode")
	direct := fs.String("direct", "1000", "user counts of the direct rate ladder, per mode ('' for none)")
	rates := fs.String("rates", "500,1000,1500,2000,2500,3000,4000", "the direct ladder's rates")
	perNode := fs.Int("fds-per-node", 16000, "descriptors a node may use for waiting polls (sets the node count)")
	out := fs.String("out", "", "the Markdown table (default: <results>/design.md)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *webchat == "" || *loadtest == "" {
		return fmt.Errorf("-webchat and -loadtest are required")
	}
	if *out == "" {
		*out = filepath.Join(*results, "design.md")
	}
	if err := os.MkdirAll(*results, 0o755); err != nil {
		return err
	}
	maxOf := map[string]int{}
	for _, kv := range strings.Split(*maxSizes, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if n, err := strconv.Atoi(v); err == nil {
			maxOf[strings.TrimSpace(k)] = n
		}
	}
	var scs []scenario
	for _, mode := range strings.Split(*modes, ",") {
		// A waiting poll holds its client's socket, and with blmove also a
		// Redis connection.
		fdsPerPoll := 1
		if mode == "blmove" {
			fdsPerPoll = 2
		}
		ns := ints(*sizes)
		if n := maxOf[mode]; n > 0 {
			ns = append(ns, n)
		}
		for _, n := range ns {
			nodes := max(1, (n*fdsPerPoll+*perNode-1) / *perNode)
			procs := max(1, (n+*perNode-1) / *perNode)
			a := []string{"-scenario", "idle", "-users", strconv.Itoa(n), "-rate", "10", "-duration", "5s", "-hold", "5s"}
			if procs > 1 {
				a = append(a, "-procs", strconv.Itoa(procs))
			}
			scs = append(scs, scenario{Name: fmt.Sprintf("%s-idle-%d", mode, n), Nodes: nodes, P99Goal: 100, Args: a,
				Title: fmt.Sprintf("idle, %d waiting polls, POLL_WAIT=%s, %d node(s)", n, mode, nodes),
				Env:   []string{"POLL_WAIT=" + mode, "MAX_POLLS_PER_NODE=0"}})
		}
		for _, n := range ints(*direct) {
			scs = append(scs, scenario{Name: fmt.Sprintf("%s-direct-%d", mode, n), Nodes: 1, P99Goal: 100,
				Title: fmt.Sprintf("direct, %d users, POLL_WAIT=%s", n, mode),
				Args: []string{"-scenario", "direct", "-users", strconv.Itoa(n), "-rate", *rates,
					"-warmup", "3s", "-duration", "10s", "-drain", "5s", "-stop-p99", "250ms"},
				Env: []string{"POLL_WAIT=" + mode}})
		}
	}
	m := Manifest{Started: time.Now().UTC(), WebchatEnv: webchatEnv("100"), NginxWorkers: runtime.NumCPU(),
		RedisVersion: commandOutput("redis-server", "--version"), GoVersion: runtime.Version(),
		Command: "benchrun design " + strings.Join(args, " ")}
	t0 := time.Now()
	for _, sc := range scs {
		m.Scenarios = append(m.Scenarios, sc)
		fmt.Printf("\n=== %s: %s\n", sc.Name, sc.Title)
		runs, err := runScenario(ctx, sc, bins{webchat: *webchat, loadtest: *loadtest}, *results, *results, "", []string{"webchat"}, runtime.NumCPU(), "100", &m)
		m.Runs = append(m.Runs, runs...)
		m.Seconds = time.Since(t0).Seconds()
		if werr := writeManifest(*results, &m); werr != nil {
			return werr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
	}
	md := renderDesign(&m)
	if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

func ints(list string) []int {
	var out []int
	for _, f := range strings.Split(list, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// renderDesign tabulates a design run: one row per idle size and mode,
// then the direct ladders side by side.
func renderDesign(m *Manifest) string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	p("`%s`, %s, %.0f s; %s; %s.\n\n", m.Command, m.Started.Format("2006-01-02 15:04 UTC"), m.Seconds, m.GoVersion, m.RedisVersion)
	p("| waiting polls | POLL_WAIT | nodes | polls waiting | server RSS per poll | Go heap per poll | server descriptors 0 → N | Redis clients 0 → N | Redis memory per poll | load average |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, run := range m.Runs {
		sc := sc(m, run.Scenario)
		if sc == nil || !strings.Contains(sc.Name, "-idle-") {
			continue
		}
		r := loadResult(run.JSON)
		if r == nil || r.Idle == nil {
			p("| %s | %s | %d | failed: %s | | | | | | |\n", strings.SplitN(sc.Name, "-", 3)[2], strings.SplitN(sc.Name, "-", 2)[0], sc.Nodes, run.Error)
			continue
		}
		id := r.Idle
		p("| %d | %s | %d | %d | %.1f KB | %.1f KB | %d → %d | %d → %d | %.0f B | %s → %s |\n", id.Polls, strings.SplitN(sc.Name, "-", 2)[0], sc.Nodes,
			id.ServerWaiting, id.RSSPerPollKB, id.HeapPerPollKB, id.FDs0, id.FDsN, id.RedisClients0, id.RedisClientsN, id.RedisBytesPerPoll, run.LoadBefore, run.LoadAfter)
	}
	p("\n| direct | POLL_WAIT | rate/s | sent/s | p50 ms | p99 ms | p99.9 ms | lost | dup | errors | CPU µs/msg: server, Redis | Redis cmds/msg | p99 ≤ 100 ms held |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, run := range m.Runs {
		sc := sc(m, run.Scenario)
		if sc == nil || !strings.Contains(sc.Name, "-direct-") {
			continue
		}
		r := loadResult(run.JSON)
		if r == nil {
			continue
		}
		for _, s := range r.Steps {
			cpu, cmds := "", ""
			if s.Redis != nil {
				cpu, cmds = fmt.Sprintf("%.0f, %.0f", s.ServerCPUPerMsgUS, s.Redis.CPUPerMsgUS), fmt.Sprintf("%.1f", s.Redis.PerMessage)
			}
			p("| %d users | %s | %.0f | %.0f | %.1f | %.1f | %.1f | %d | %d | %d | %s | %s | %s |\n", r.Config.Users, strings.SplitN(sc.Name, "-", 2)[0],
				s.Rate, s.SentPerSec, s.Latency.P50, s.Latency.P99, s.Latency.P999, s.Lost, s.Duplicated, s.errors(), cpu, cmds, yes(s.ok(sc.P99Goal)))
		}
	}
	return w.String()
}
