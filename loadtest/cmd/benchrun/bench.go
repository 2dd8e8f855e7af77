package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scenario is one standard load test, run against webchat and Nchan.
type scenario struct {
	Name    string   `json:"name"`
	Title   string   `json:"title"`
	Args    []string `json:"args"`  // loadtest flags, the same for both targets
	Nodes   int      `json:"nodes"` // webchat nodes (users spread over them)
	P99Goal float64  `json:"p99_goal_ms"`
	Env     []string `json:"env,omitempty"` // added to the webchat nodes' environment
	// Floor runs the same ladder against loadtest/cmd/floor too: net/http
	// alone, no Redis, no sessions, driven as Nchan.
	Floor bool `json:"floor,omitempty"`
	// WebchatOnly: what it measures is webchat's alone (Nchan has no
	// typing or receipts).
	WebchatOnly bool `json:"webchat_only,omitempty"`
}

// directLadder is the 1,000-user direct rate ladder, with and without
// chatty users. From 1,500 msg/s on no step is more than 10% above the one
// before: where the knee is (1,500 to 5,000 msg/s on these shared 2-core
// machines, day by day) a build one step slower than another is less than
// 10% slower, so a 10% bound can be told from the result.
const directLadder = "500,1000,1500,1650,1800,1950,2100,2300,2500,2700,2950,3200,3500,3800,4150,4500,4900,5300,5800"

// scenarios are what `make bench` runs, 10 to 20 minutes on 2 cores. A ladder
// stops after the first step whose p99 passes 250 ms.
func scenarios(quick bool) []scenario {
	s := []scenario{
		{Name: "direct-1k", Title: "direct, 1,000 users polling: rate ladder", Nodes: 1, P99Goal: 100, Floor: true,
			Args: []string{"-scenario", "direct", "-users", "1000", "-rate", directLadder, "-warmup", "3s", "-duration", "10s", "-drain", "5s", "-stop-p99", "250ms"}},
		{Name: "direct-1k-chatty", Title: "direct, 1,000 users polling, 10% of them typing before each send and reading what they receive: rate ladder", Nodes: 1, P99Goal: 100, WebchatOnly: true,
			Args: []string{"-scenario", "direct", "-users", "1000", "-rate", directLadder, "-warmup", "3s", "-duration", "10s", "-drain", "5s", "-stop-p99", "250ms", "-chatty", "0.1"}},
		{Name: "direct-5k", Title: "direct, 5,000 users polling: rate ladder", Nodes: 1, P99Goal: 100,
			Args: []string{"-scenario", "direct", "-users", "5000", "-rate", "500,1000,2000,3000,4000", "-warmup", "3s", "-duration", "10s", "-drain", "5s", "-stop-p99", "250ms"}},
		{Name: "group-500", Title: "group, 500 members all polling, 10 group messages/s", Nodes: 1, P99Goal: 250,
			Args: []string{"-scenario", "group", "-users", "500", "-group-size", "500", "-rate", "10", "-warmup", "3s", "-duration", "20s", "-drain", "10s"}},
		{Name: "idle-1k", Title: "idle, 1,000 waiting polls, 10 messages/s", Nodes: 1, P99Goal: 100,
			Args: []string{"-scenario", "idle", "-users", "1000", "-rate", "10", "-duration", "5s", "-hold", "5s"}},
		{Name: "idle-10k", Title: "idle, 10,000 waiting polls on 1 webchat node (1 nginx), 10 messages/s", Nodes: 1, P99Goal: 100,
			Args: []string{"-scenario", "idle", "-users", "10000", "-rate", "10", "-duration", "5s", "-hold", "5s"}},
	}
	if quick {
		// A smoke test of the tooling: small, a few seconds each.
		for i := range s {
			for j := 0; j < len(s[i].Args)-1; j++ {
				switch s[i].Args[j] {
				case "-users":
					n, _ := strconv.Atoi(s[i].Args[j+1])
					s[i].Args[j+1] = strconv.Itoa(max(n/10, 50))
				case "-group-size":
					s[i].Args[j+1] = "50"
				case "-rate":
					if strings.Contains(s[i].Args[j+1], ",") {
						s[i].Args[j+1] = "200,400"
					}
				case "-duration", "-hold", "-drain", "-warmup":
					s[i].Args[j+1] = "2s"
				}
			}
		}
	}
	return s
}

// Run is one loadtest invocation, as the manifest records it.
type Run struct {
	Scenario    string    `json:"scenario"`
	Target      string    `json:"target"`
	Command     []string  `json:"command"`
	JSON        string    `json:"json"`
	Log         string    `json:"log"`
	Plot        string    `json:"plot"`
	Started     time.Time `json:"started"`
	Seconds     float64   `json:"seconds"`
	LoadBefore  string    `json:"loadavg_before"`
	LoadAfter   string    `json:"loadavg_after"`
	Error       string    `json:"error,omitempty"`
	ServerNodes int       `json:"server_nodes"`
	// ArchiveLag is webchat's archive lag over the whole run.
	ArchiveLag *ArchiveLag `json:"archive_lag,omitempty"`
}

// Manifest is what a bench run did, for render.
type Manifest struct {
	Started      time.Time  `json:"started"`
	Seconds      float64    `json:"seconds"`
	Quick        bool       `json:"quick"`
	Scenarios    []scenario `json:"scenarios"`
	Runs         []Run      `json:"runs"`
	WebchatEnv   []string   `json:"webchat_env"`
	NginxWorkers int        `json:"nginx_workers"`
	RedisVersion string     `json:"redis_version"`
	NginxVersion string     `json:"nginx_version"`
	NchanVersion string     `json:"nchan_version"`
	GoVersion    string     `json:"go_version"`
	Command      string     `json:"command"`
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchrun run", flag.ContinueOnError)
	webchat := fs.String("webchat", "", "webchat binary")
	loadtest := fs.String("loadtest", "", "loadtest binary")
	floor := fs.String("floor", "", "floor binary (loadtest/cmd/floor), run after the others in the scenarios that ask for it; empty: none")
	results := fs.String("results", "loadtest/results", "folder for results, logs and plots")
	plots := fs.String("plots", "", "folder for the PNG plots (default: -results)")
	conf := fs.String("nchan-conf", "loadtest/nchan/nginx.conf", "the nginx config template for Nchan")
	quick := fs.Bool("quick", false, "a short smoke test of the tooling")
	only := fs.String("only", "", "comma-separated scenario names to run (default all)")
	targets := fs.String("targets", "webchat,nchan", "targets to run, in turns")
	gogc := fs.String("gogc", "100", "GOGC of the webchat nodes")
	command := fs.String("command", "make bench", "the command to record in the doc")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *webchat == "" || *loadtest == "" {
		return fmt.Errorf("-webchat and -loadtest are required")
	}
	if *plots == "" {
		*plots = *results
	}
	for _, d := range []string{*results, *plots} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	workers := runtime.NumCPU() // nginx workers = webchat's GOMAXPROCS
	m := Manifest{Started: time.Now().UTC(), Quick: *quick, WebchatEnv: webchatEnv(*gogc), NginxWorkers: workers,
		RedisVersion: commandOutput("redis-server", "--version"), NginxVersion: commandOutput("nginx", "-v"),
		GoVersion: runtime.Version(), Command: *command}
	t0 := time.Now()
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	for _, sc := range scenarios(*quick) {
		if len(want) > 0 && !want[sc.Name] {
			continue
		}
		m.Scenarios = append(m.Scenarios, sc)
		fmt.Printf("\n=== %s: %s\n", sc.Name, sc.Title)
		ts := strings.Split(*targets, ",")
		if sc.WebchatOnly {
			ts = slices.DeleteFunc(ts, func(t string) bool { return t != "webchat" })
		}
		if sc.Floor && *floor != "" {
			ts = append(ts, "floor")
		}
		runs, err := runScenario(ctx, sc, bins{webchat: *webchat, loadtest: *loadtest, floor: *floor}, *results, *plots, *conf, ts, workers, *gogc, &m)
		m.Runs = append(m.Runs, runs...)
		m.Seconds = time.Since(t0).Seconds()
		if werr := writeManifest(*results, &m); werr != nil {
			return werr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
	}
	fmt.Printf("\nbench done in %.0fs; results in %s\n", time.Since(t0).Seconds(), *results)
	return nil
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644)
}

// bins are the programs a bench run starts.
type bins struct{ webchat, loadtest, floor string }

// runScenario starts a fresh Redis, then runs each target in turn on it:
// webchat node(s), then Nchan, then (if asked) the floor, which does not
// use Redis.
func runScenario(ctx context.Context, sc scenario, b bins, results, plots, conf string, targets []string, workers int, gogc string, m *Manifest) ([]Run, error) {
	dir, err := os.MkdirTemp("", "webchat-bench-"+sc.Name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st := &stack{dir: dir}
	defer st.stop()
	if err := st.startRedis(ctx); err != nil {
		return nil, err
	}
	var runs []Run
	for _, target := range targets {
		var urls []string
		var pids []int
		switch target {
		case "webchat":
			if err := st.startNodes(ctx, b.webchat, sc.Nodes, gogc, sc.Env); err != nil {
				return runs, err
			}
			urls = st.nodeURLs
			for _, p := range st.nodes {
				pids = append(pids, p.pid())
			}
		case "nchan":
			if err := st.startNchan(ctx, conf, workers); err != nil {
				return runs, err
			}
			urls = []string{st.nchanURL}
			pids = []int{st.nginx.pid()}
			if m.NchanVersion == "" {
				m.NchanVersion = nchanVersion(st.nchanURL)
			}
		case "floor":
			if err := st.startFloor(ctx, b.floor, gogc); err != nil {
				return runs, err
			}
			urls = []string{st.floorURL}
			pids = []int{st.floor.pid()}
		default:
			return runs, fmt.Errorf("unknown target %q", target)
		}
		base := filepath.Join(results, sc.Name+"-"+target)
		r := Run{Scenario: sc.Name, Target: target, JSON: base + ".json", Log: base + ".log",
			Plot: filepath.Join(plots, sc.Name+"-"+target+".png"), ServerNodes: len(urls)}
		pidList := make([]string, len(pids))
		for i, p := range pids {
			pidList[i] = strconv.Itoa(p)
		}
		// The floor speaks Nchan's protocol and has no Redis to read.
		driver, redis := target, []string{"-redis", st.redisAddr}
		if target == "floor" {
			driver, redis = "nchan", nil
		}
		r.Command = append([]string{"loadtest", "-target", driver, "-url", strings.Join(urls, ",")}, sc.Args...)
		r.Command = append(append(r.Command, redis...), "-pids", strings.Join(pidList, ","), "-json", r.JSON, "-plot", r.Plot, "-progress", "2s")
		fmt.Printf("--- %s against %s: %s\n", sc.Name, target, strings.Join(r.Command, " "))
		r.Started, r.LoadBefore = time.Now().UTC(), loadavg()
		err := runLoadtest(ctx, b.loadtest, r.Command[1:], r.Log)
		r.Seconds, r.LoadAfter = time.Since(r.Started).Seconds(), loadavg()
		if err != nil {
			r.Error = err.Error()
			fmt.Printf("--- %s against %s failed: %v\n", sc.Name, target, err)
		}
		if target == "webchat" {
			time.Sleep(2 * time.Second) // the last batches reach SQL
			if r.ArchiveLag = scrapeArchiveLag(urls); r.ArchiveLag != nil {
				fmt.Printf("--- %s against webchat: archive lag p99 ≤ %gs over %d messages (the whole ladder)\n",
					sc.Name, r.ArchiveLag.P99, r.ArchiveLag.Messages)
			}
		}
		runs = append(runs, r)
		switch target {
		case "webchat":
			st.stopNodes()
		case "nchan":
			st.stopNchan()
		case "floor":
			st.stopFloor()
		}
		if ctx.Err() != nil {
			return runs, ctx.Err()
		}
	}
	return runs, nil
}

// runLoadtest runs the generator, its output to the terminal and the log.
func runLoadtest(ctx context.Context, bin string, args []string, logPath string) error {
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	w := io.MultiWriter(os.Stdout, f)
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

func nchanVersion(url string) string {
	resp, err := http.Get(url + "/nchan_status")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "nchan version:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
