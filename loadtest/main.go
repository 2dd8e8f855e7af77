// Command loadtest is webchat's load generator. It talks HTTP only, as
// browsers do, and imports nothing of webchat's: its wire structs are its
// own, so a drift in the API breaks it loudly.
//
// It signs up users, makes friendships or groups for the scenario, runs the
// real poll loop for every simulated user (cursor, immediate re-poll) and
// sends at a fixed total rate (open model: the rate does not sag when the
// server slows). Every message body carries its send time; send→receive
// latency goes into an HDR histogram, and every delivery is accounted for:
// lost (answered but never received by an intended device) and duplicated
// (one (conv, seq) received twice by a device that had acknowledged it, or
// one send stored under two seqs).
//
// The same scenarios run against Nchan (-target nchan), one channel per user
// (and per group), so one command compares both on the same machine.
//
//	go run ./loadtest -scenario direct -users 1000 -rate 3000 -duration 20s
//	go run ./loadtest -target nchan -url http://127.0.0.1:8090 -rate 1000,2000,3000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is every setting of a run, from flags.
type config struct {
	Target      string        `json:"target"`
	URLs        []string      `json:"urls"`
	Scenario    string        `json:"scenario"`
	Users       int           `json:"users"`
	Rates       []float64     `json:"rates"`
	Duration    time.Duration `json:"duration_ns"`
	Warmup      time.Duration `json:"warmup_ns"`
	Drain       time.Duration `json:"drain_ns"`
	GroupSize   int           `json:"group_size"`
	Friends     int           `json:"friends"`
	PollTimeout int           `json:"poll_timeout_s"`
	BodySize    int           `json:"body_size"`
	SetupConc   int           `json:"setup_concurrency"`
	MaxInflight int           `json:"max_inflight"`
	StopP99     time.Duration `json:"stop_p99_ns"`
	Hold        time.Duration `json:"hold_ns"`
	Seed        uint64        `json:"seed"`
	Label       string        `json:"label,omitempty"`
	PIDs        []int         `json:"pids,omitempty"`
	Redis       string        `json:"redis,omitempty"`
	Procs       int           `json:"procs"`

	JSONOut  string        `json:"-"`
	PlotOut  string        `json:"-"`
	Progress time.Duration `json:"-"`
	Child    bool          `json:"-"` // run as one of -procs children
	Quiet    bool          `json:"-"`
	// CheckHistory pages every conversation's history back after the
	// last step, HistoryWait after it (HistoryResult).
	CheckHistory bool          `json:"check_history,omitempty"`
	HistoryWait  time.Duration `json:"history_wait_ns,omitempty"`
	// Chatty is the share of users (0–1) who, as people do, type before
	// each send and mark read what they receive (webchat): typing notices,
	// read markers and receipts on top of the messages.
	Chatty float64 `json:"chatty,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	raiseOpenFiles()
	switch {
	case cfg.Child:
		return runChild(ctx, cfg, os.Stdin, stdout)
	case cfg.Procs > 1:
		return runParent(ctx, cfg, args, stdout, stderr)
	}
	res, err := runLoad(ctx, cfg, newLocalCoord(cfg, stderr), newProgress(cfg, stderr))
	if err != nil {
		return err
	}
	return finish(cfg, res, stdout)
}

// finish prints the table and writes the JSON result and the plot.
func finish(cfg config, res *Result, stdout io.Writer) error {
	printTable(stdout, res)
	if cfg.JSONOut != "" {
		if err := writeJSON(cfg.JSONOut, res); err != nil {
			return err
		}
	}
	if cfg.PlotOut != "" {
		if err := writePlot(cfg.PlotOut, res); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var urls, rates, pids string
	fs.StringVar(&cfg.Target, "target", "webchat", "server kind: webchat or nchan")
	fs.StringVar(&urls, "url", "http://127.0.0.1:8080", "base URL(s), comma-separated; users are spread over them (loopback only)")
	fs.StringVar(&cfg.Scenario, "scenario", "direct", "direct (1:1 between random friends), group (fan-out to groups of -group-size), idle (waiting polls, few messages)")
	fs.IntVar(&cfg.Users, "users", 1000, "simulated users, each with one device polling")
	fs.StringVar(&rates, "rate", "1000", "messages per second in total; a comma-separated list runs one step per rate with the same users (a ladder)")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long each step sends")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "before the first step, send at its rate this long; reported apart (lost and duplicated still count)")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "after a step, how long to wait for deliveries before counting the rest lost")
	fs.IntVar(&cfg.GroupSize, "group-size", 50, "members per group (group scenario)")
	fs.IntVar(&cfg.Friends, "friends", 1, "friendships each user starts with the next users (direct, idle): each user has 2×friends friends")
	fs.IntVar(&cfg.PollTimeout, "poll-timeout", 25, "poll timeout in seconds sent with every poll")
	fs.IntVar(&cfg.BodySize, "body", 64, "message body size in bytes (at least the embedded header)")
	fs.IntVar(&cfg.SetupConc, "setup-concurrency", 32, "concurrent requests while setting up users")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", 5000, "sends in flight at most; a send due beyond it is counted as a backlog error, not delayed")
	fs.DurationVar(&cfg.StopP99, "stop-p99", 0, "in a ladder, stop after a step whose p99 exceeds this (0: run every step)")
	fs.DurationVar(&cfg.Hold, "hold", 5*time.Second, "idle: how long every poll must be waiting before memory is sampled")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed for who sends to whom")
	fs.StringVar(&cfg.Label, "label", "", "free text stored in the result")
	fs.StringVar(&pids, "pids", "", "server process ids (with their children) whose RSS is sampled, comma-separated")
	fs.StringVar(&cfg.Redis, "redis", "", "host:port of the Redis behind the server, for INFO (memory, clients, commandstats) before and after")
	fs.IntVar(&cfg.Procs, "procs", 1, "run as this many processes (users and rate split between them), for more connections than one process may open")
	fs.StringVar(&cfg.JSONOut, "json", "", "write the result as JSON to this file")
	fs.StringVar(&cfg.PlotOut, "plot", "", "draw latency over time and the latency distribution to this PNG")
	fs.DurationVar(&cfg.Progress, "progress", time.Second, "interval of the live progress line (0: none)")
	fs.BoolVar(&cfg.Child, "child", false, "internal: run as a child of -procs")
	fs.BoolVar(&cfg.Quiet, "q", false, "no progress line")
	fs.BoolVar(&cfg.CheckHistory, "check-history", false, "webchat: after the last step, page every conversation's history back to its first message and count answered messages missing from it (lost) or in it twice (duplicated)")
	fs.Float64Var(&cfg.Chatty, "chatty", 0, "webchat: share of users (0 to 1) who type before each send (POST .../typing) and mark read every message they receive (POST .../read), as people do")
	fs.DurationVar(&cfg.HistoryWait, "history-wait", 3*time.Second, "with -check-history, how long to wait after the last step (for the archive) before paging")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loadtest [flags]\n\nLoad generator for webchat (and Nchan, side by side). Sends only to loopback addresses and stops by itself.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.URLs = splitList(urls)
	for _, r := range splitList(rates) {
		f, err := strconv.ParseFloat(r, 64)
		if err != nil || f < 0 {
			return cfg, fmt.Errorf("-rate %q: want a non-negative number", r)
		}
		cfg.Rates = append(cfg.Rates, f)
	}
	for _, p := range splitList(pids) {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("-pids %q: want process ids", p)
		}
		cfg.PIDs = append(cfg.PIDs, n)
	}
	return cfg, cfg.validate()
}

// Bounds that keep a run from becoming a flood or running for ever.
const (
	maxUsers    = 100000
	maxRate     = 100000
	maxDuration = 30 * time.Minute
	maxSteps    = 20
)

func (c *config) validate() error {
	switch c.Target {
	case "webchat", "nchan":
	default:
		return fmt.Errorf("-target %q: want webchat or nchan", c.Target)
	}
	switch c.Scenario {
	case "direct", "group", "idle":
	default:
		return fmt.Errorf("-scenario %q: want direct, group or idle", c.Scenario)
	}
	if len(c.URLs) == 0 {
		return errors.New("-url: at least one URL")
	}
	for i, u := range c.URLs {
		norm, err := loopbackURL(u)
		if err != nil {
			return fmt.Errorf("-url: %w", err)
		}
		c.URLs[i] = norm
	}
	if c.Redis != "" {
		if err := loopbackHostPort(c.Redis); err != nil {
			return fmt.Errorf("-redis: %w", err)
		}
	}
	if c.Users < 2 || c.Users > maxUsers {
		return fmt.Errorf("-users %d: want 2 to %d", c.Users, maxUsers)
	}
	if len(c.Rates) == 0 || len(c.Rates) > maxSteps {
		return fmt.Errorf("-rate: want 1 to %d rates", maxSteps)
	}
	for _, r := range c.Rates {
		if r > maxRate {
			return fmt.Errorf("-rate %g: at most %d", r, maxRate)
		}
	}
	if c.Duration <= 0 || c.Duration > maxDuration {
		return fmt.Errorf("-duration %v: want more than 0 and at most %v", c.Duration, maxDuration)
	}
	if c.Warmup < 0 || c.Warmup > 5*time.Minute {
		return fmt.Errorf("-warmup %v: want 0 to 5m", c.Warmup)
	}
	if c.Drain < 0 || c.Drain > 5*time.Minute {
		return fmt.Errorf("-drain %v: want 0 to 5m", c.Drain)
	}
	if c.Scenario == "group" && (c.GroupSize < 2 || c.GroupSize > c.Users) {
		return fmt.Errorf("-group-size %d: want 2 to -users (%d)", c.GroupSize, c.Users)
	}
	if c.Scenario != "group" && (c.Friends < 1 || 2*c.Friends >= c.Users) {
		return fmt.Errorf("-friends %d: want at least 1 and 2×friends below -users", c.Friends)
	}
	if c.PollTimeout < 0 || c.PollTimeout > 55 {
		return fmt.Errorf("-poll-timeout %d: want 0 to 55 seconds", c.PollTimeout)
	}
	if c.BodySize < minBody || c.BodySize > 4000 {
		return fmt.Errorf("-body %d: want %d to 4000", c.BodySize, minBody)
	}
	if c.SetupConc < 1 || c.MaxInflight < 1 {
		return errors.New("-setup-concurrency and -max-inflight must be positive")
	}
	if c.Procs < 1 || c.Procs > 16 {
		return fmt.Errorf("-procs %d: want 1 to 16", c.Procs)
	}
	if c.Procs > 1 && c.Users/c.Procs < 2 {
		return errors.New("-procs: each process needs at least 2 users")
	}
	if c.Procs > 1 && c.Scenario == "group" && c.Users/c.Procs < c.GroupSize {
		return errors.New("-procs: each process needs at least -group-size users (groups do not span processes)")
	}
	if c.Quiet {
		c.Progress = 0
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
