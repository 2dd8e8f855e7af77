package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Result is everything a run measured; -json writes it.
type Result struct {
	Tool     string         `json:"tool"`
	Started  time.Time      `json:"started"`
	Command  []string       `json:"command"`
	Config   config         `json:"config"`
	Machine  Machine        `json:"machine"`
	Setup    SetupResult    `json:"setup"`
	Warmup   *StepResult    `json:"warmup,omitempty"`
	Steps    []StepResult   `json:"steps"`
	Idle     *IdleResult    `json:"idle,omitempty"`
	History  *HistoryResult `json:"history,omitempty"` // -check-history
	Procs    int            `json:"procs"`
	Complete bool           `json:"complete"` // every step ran
}

// SetupResult is the preparation before any message.
type SetupResult struct {
	Users       int              `json:"users"`
	Groups      int              `json:"groups"`
	Friendships int              `json:"friendships"`
	Seconds     float64          `json:"seconds"`
	Errors      map[string]int64 `json:"errors"`
}

// StepResult is one rate of a run.
type StepResult struct {
	Rate            float64          `json:"rate"`
	Seconds         float64          `json:"seconds"` // sending
	DrainSeconds    float64          `json:"drain_seconds"`
	Scheduled       int64            `json:"scheduled"`
	Sent            int64            `json:"sent"` // answered 201/200
	Failed          int64            `json:"failed"`
	Backlog         int64            `json:"backlog"`
	SentPerSec      float64          `json:"sent_per_s"`
	Expected        int64            `json:"expected"` // deliveries owed for what was sent
	Delivered       int64            `json:"delivered"`
	DeliveredPerSec float64          `json:"delivered_per_s"`
	Lost            int64            `json:"lost"`
	Duplicated      int64            `json:"duplicated"`
	Redelivered     int64            `json:"redelivered"`  // a (conv, seq) again after acknowledging it
	StoredTwice     int64            `json:"stored_twice"` // one send under two seqs
	Latency         Percentiles      `json:"latency"`      // send → receive, per delivery
	SendLatency     Percentiles      `json:"send_latency"` // send → answer
	Errors          map[string]int64 `json:"errors"`
	Timeline        []Second         `json:"timeline"`
	Hist            string           `json:"hist"` // HDR, base64 compressed, µs
	SendHist        string           `json:"send_hist"`
	Redis           *RedisDelta      `json:"redis,omitempty"`
	ServerRSS       int64            `json:"server_rss,omitempty"`
	// CPU time used during the step (sending and drain), by the -pids
	// processes and by the generator itself, in all and per message sent:
	// a measure of cost that contention on a shared machine barely moves.
	ServerCPUSeconds     float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerMsgUS    float64 `json:"server_cpu_per_msg_us,omitempty"`
	GeneratorCPUSeconds  float64 `json:"generator_cpu_s,omitempty"`
	GeneratorCPUPerMsgUS float64 `json:"generator_cpu_per_msg_us,omitempty"`
}

// Second is one second of a step's timeline.
type Second struct {
	T         int     `json:"t"`
	Sent      int64   `json:"sent"`
	Answered  int64   `json:"answered"`
	Delivered int64   `json:"delivered"`
	Errors    int64   `json:"errors"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
	Hist      string  `json:"hist,omitempty"`
}

// RedisDelta is what Redis did during a step.
type RedisDelta struct {
	Commands       int64            `json:"commands"`
	Calls          map[string]int64 `json:"calls"`
	PerMessage     float64          `json:"commands_per_message"`
	UsedMemoryEnd  int64            `json:"used_memory_end"`
	ClientsEnd     int64            `json:"connected_clients_end"`
	CPUSecondsUsed float64          `json:"cpu_seconds"`
	CPUPerMsgUS    float64          `json:"cpu_per_msg_us"`
}

// IdleResult is the memory and connection cost of waiting polls.
type IdleResult struct {
	Polls             int     `json:"polls"`
	ServerWaiting     int     `json:"server_waiting"`
	RSS0              int64   `json:"rss_0"`
	RSSN              int64   `json:"rss_n"`
	RSSPerPollKB      float64 `json:"rss_per_poll_kb"`
	Heap0             int64   `json:"heap_0,omitempty"`
	HeapN             int64   `json:"heap_n,omitempty"`
	HeapPerPollKB     float64 `json:"heap_per_poll_kb,omitempty"`
	FDs0              int     `json:"fds_0"`
	FDsN              int     `json:"fds_n"`
	Processes         int     `json:"processes"`
	RedisMem0         int64   `json:"redis_used_memory_0"`
	RedisMemN         int64   `json:"redis_used_memory_n"`
	RedisBytesPerPoll float64 `json:"redis_bytes_per_poll"`
	RedisClients0     int64   `json:"redis_clients_0"`
	RedisClientsN     int64   `json:"redis_clients_n"`
}

// runLoad runs a whole load test in this process.
func runLoad(ctx context.Context, cfg config, co coord, pr *progress) (*Result, error) {
	e := newEngine(cfg)
	res := &Result{Tool: "webchat-loadtest", Started: time.Now().UTC(), Command: os.Args, Config: cfg, Machine: machine(), Procs: 1}
	t0 := time.Now()
	if err := e.drv.setup(ctx, e); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	if err := e.parallel(ctx, len(e.users), func(ctx context.Context, i int) error { return e.drv.settle(ctx, e, e.users[i]) }); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	res.Setup = SetupResult{Users: len(e.users), Groups: len(e.groups), Seconds: time.Since(t0).Seconds(), Errors: e.tr.setupErrs}
	if cfg.Scenario != "group" {
		res.Setup.Friendships = len(e.pairs())
	}
	if err := co.at(ctx, "ready"); err != nil {
		return nil, err
	}

	pollCtx, stopPolls := context.WithCancel(ctx)
	var polls sync.WaitGroup
	for _, u := range e.users {
		polls.Go(func() { e.pollLoop(pollCtx, u) })
	}
	defer func() {
		stopPolls()
		polls.Wait()
		e.readWG.Wait()
	}()
	pr.start(e)
	defer pr.stop()

	// Every device polls before the first message.
	deadline := time.Now().Add(60 * time.Second)
	for e.polling.Load() < int64(len(e.users)) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if cfg.Scenario == "idle" {
		if err := co.at(ctx, "waiting"); err != nil {
			return nil, err
		}
	}
	if cfg.Warmup > 0 && ctx.Err() == nil {
		if err := co.at(ctx, "warmup"); err != nil {
			return nil, err
		}
		pr.note(fmt.Sprintf("warm-up: %g msg/s for %v", cfg.Rates[0], cfg.Warmup))
		wr := stepResult(e.runStepFor(ctx, cfg.Rates[0], cfg.Warmup))
		wr.Timeline = nil
		res.Warmup = &wr
	}
	for k, rate := range cfg.Rates {
		if ctx.Err() != nil {
			break
		}
		if err := co.at(ctx, fmt.Sprintf("step-start-%d", k)); errors.Is(err, errStopLadder) {
			break
		} else if err != nil {
			return nil, err
		}
		pr.setStep(k, rate)
		st := e.runStep(ctx, rate)
		sr := stepResult(st)
		if o, ok := co.(interface{ stepDone(StepResult) }); ok {
			o.stepDone(sr)
		}
		if err := co.at(ctx, fmt.Sprintf("step-end-%d", k)); err != nil {
			return nil, err
		}
		res.Steps = append(res.Steps, sr)
		if cfg.StopP99 > 0 && time.Duration(sr.Latency.P99*float64(time.Millisecond)) > cfg.StopP99 && k < len(cfg.Rates)-1 {
			pr.note(fmt.Sprintf("p99 %.1f ms above -stop-p99 %v: stopping the ladder", sr.Latency.P99, cfg.StopP99))
			break
		}
	}
	if cfg.CheckHistory && cfg.Target == "webchat" && ctx.Err() == nil {
		pr.note(fmt.Sprintf("history: waiting %v for the archive, then paging every conversation back", cfg.HistoryWait))
		select {
		case <-ctx.Done():
		case <-time.After(cfg.HistoryWait):
		}
		res.History = e.checkHistory(ctx)
	}
	res.Complete = ctx.Err() == nil
	if ls, ok := co.(*localCoord); ok {
		ls.s.apply(res)
	}
	return res, ctx.Err()
}

// stepResult turns a step's counters into its result.
func stepResult(st *stepStats) StepResult {
	secs := st.sendEnd.Sub(st.start).Seconds()
	r := StepResult{
		Rate: st.rate, Seconds: secs, DrainSeconds: st.end.Sub(st.sendEnd).Seconds(),
		Scheduled: st.scheduled, Sent: st.answered, Failed: st.failed, Backlog: st.backlog,
		Expected: st.expected, Delivered: st.delivered, Lost: st.lost,
		Redelivered: st.redeliv, StoredTwice: st.twoSeqs, Duplicated: st.redeliv + st.twoSeqs,
		Latency: percentiles(st.hist), SendLatency: percentiles(st.sendHist),
		Errors: st.errors, Hist: encodeHist(st.hist), SendHist: encodeHist(st.sendHist),
	}
	if secs > 0 {
		r.SentPerSec = float64(st.answered) / secs
		r.DeliveredPerSec = float64(st.delivered) / secs
	}
	for i, s := range st.secs {
		p := percentiles(s.hist)
		r.Timeline = append(r.Timeline, Second{T: i, Sent: s.sent, Answered: s.answered, Delivered: s.delivered, Errors: s.errors,
			P50: p.P50, P99: p.P99, Max: p.Max, Hist: encodeHist(s.hist)})
	}
	return r
}
