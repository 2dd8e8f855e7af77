package main

import (
	"encoding/json"
	"os"
)

// The subset of the load generator's JSON result that the doc shows. It is
// a copy on purpose: benchrun reads files, it does not link the generator.
type result struct {
	Config struct {
		Target    string   `json:"target"`
		Scenario  string   `json:"scenario"`
		Users     int      `json:"users"`
		URLs      []string `json:"urls"`
		GroupSize int      `json:"group_size"`
	} `json:"config"`
	Machine struct {
		CPU       string `json:"cpu"`
		Cores     int    `json:"cores"`
		MemoryMB  int64  `json:"memory_mb"`
		Kernel    string `json:"kernel"`
		OpenFiles uint64 `json:"open_files"`
	} `json:"machine"`
	Setup struct {
		Seconds float64 `json:"seconds"`
	} `json:"setup"`
	Warmup *step  `json:"warmup"`
	Steps  []step `json:"steps"`
	Idle   *struct {
		Polls             int     `json:"polls"`
		ServerWaiting     int     `json:"server_waiting"`
		RSS0              int64   `json:"rss_0"`
		RSSN              int64   `json:"rss_n"`
		RSSPerPollKB      float64 `json:"rss_per_poll_kb"`
		Heap0             int64   `json:"heap_0"`
		HeapN             int64   `json:"heap_n"`
		HeapPerPollKB     float64 `json:"heap_per_poll_kb"`
		FDs0              int     `json:"fds_0"`
		FDsN              int     `json:"fds_n"`
		Processes         int     `json:"processes"`
		RedisMem0         int64   `json:"redis_used_memory_0"`
		RedisMemN         int64   `json:"redis_used_memory_n"`
		RedisBytesPerPoll float64 `json:"redis_bytes_per_poll"`
		RedisClients0     int64   `json:"redis_clients_0"`
		RedisClientsN     int64   `json:"redis_clients_n"`
	} `json:"idle"`
}

type step struct {
	Rate            float64          `json:"rate"`
	Sent            int64            `json:"sent"`
	Scheduled       int64            `json:"scheduled"`
	SentPerSec      float64          `json:"sent_per_s"`
	Expected        int64            `json:"expected"`
	Delivered       int64            `json:"delivered"`
	DeliveredPerSec float64          `json:"delivered_per_s"`
	Lost            int64            `json:"lost"`
	Duplicated      int64            `json:"duplicated"`
	Latency         pct              `json:"latency"`
	SendLatency     pct              `json:"send_latency"`
	Errors          map[string]int64 `json:"errors"`
	Redis           *struct {
		PerMessage  float64          `json:"commands_per_message"`
		Calls       map[string]int64 `json:"calls"`
		CPU         float64          `json:"cpu_seconds"`
		CPUPerMsgUS float64          `json:"cpu_per_msg_us"`
	} `json:"redis"`
	ServerCPUPerMsgUS    float64 `json:"server_cpu_per_msg_us"`
	GeneratorCPUPerMsgUS float64 `json:"generator_cpu_per_msg_us"`
}

type pct struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

func (s step) errors() int64 {
	var n int64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// ok reports whether a step held its rate within the latency goal: p99 at
// most goal, at least 95% of the rate answered, at least 99.9% of what was
// answered delivered, errors under 1% of the sends. The same rule for both
// targets; lost and duplicated are reported separately.
func (s step) ok(goal float64) bool {
	if s.Sent == 0 || s.Expected == 0 {
		return false
	}
	return s.Latency.P99 <= goal && s.SentPerSec >= 0.95*s.Rate &&
		float64(s.Delivered) >= 0.999*float64(s.Expected) && float64(s.errors()) < 0.01*float64(s.Scheduled)
}

// best is the highest rate that was ok, 0 if none.
func best(r *result, goal float64) (float64, *step) {
	var b float64
	var bs *step
	if r == nil {
		return 0, nil
	}
	for i, s := range r.Steps {
		if s.ok(goal) && s.Rate > b {
			b, bs = s.Rate, &r.Steps[i]
		}
	}
	return b, bs
}

func loadResult(path string) *result {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var r result
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}
