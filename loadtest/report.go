package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// printTable prints the final table: one row per step.
func printTable(w io.Writer, r *Result) {
	c := r.Config
	fmt.Fprintf(w, "\n%s %s: %d users over %d URL(s)", c.Target, c.Scenario, c.Users, len(c.URLs))
	if c.Scenario == "group" {
		fmt.Fprintf(w, ", %d groups of %d", r.Setup.Groups, c.GroupSize)
	}
	fmt.Fprintf(w, ", poll timeout %ds, %d process(es); setup %.1fs\n", c.PollTimeout, r.Procs, r.Setup.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate/s\tsent/s\tdelivered/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\tsend p99 ms\tsent\tdelivered\tlost\tduplicated\terrors\t")
	for _, s := range r.Steps {
		l := s.Latency
		fmt.Fprintf(tw, "%g\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t%d\t%d\t\n",
			s.Rate, s.SentPerSec, s.DeliveredPerSec, l.P50, l.P90, l.P99, l.P999, l.Max, s.SendLatency.P99,
			s.Sent, s.Delivered, s.Lost, s.Duplicated, sumErrors(s.Errors))
	}
	tw.Flush()
	if hr := r.History; hr != nil {
		fmt.Fprintf(w, "history: %d conversations paged back in %.1fs: %d answered, %d found, lost %d, duplicated %d, errors %d\n",
			hr.Conversations, hr.Seconds, hr.Answered, hr.Found, hr.Lost, hr.Duplicated, hr.Errors)
	}
	if wu := r.Warmup; wu != nil {
		fmt.Fprintf(w, "warm-up (not in the table): %g/s for %.0fs, p99 %.1f ms, sent %d, delivered %d, lost %d, duplicated %d, errors %d\n",
			wu.Rate, wu.Seconds, wu.Latency.P99, wu.Sent, wu.Delivered, wu.Lost, wu.Duplicated, sumErrors(wu.Errors))
	}
	for i, s := range r.Steps {
		if len(s.Errors) > 0 {
			fmt.Fprintf(w, "errors at %g/s: %s\n", r.Steps[i].Rate, errorList(s.Errors))
		}
		if s.Redis != nil {
			fmt.Fprintf(w, "redis at %g/s: %.2f commands per message sent (%s), cpu %.1fs\n", s.Rate, s.Redis.PerMessage, topCalls(s.Redis.Calls, 6), s.Redis.CPUSecondsUsed)
		}
		if s.ServerCPUSeconds > 0 || s.GeneratorCPUSeconds > 0 {
			red := 0.0
			if s.Redis != nil {
				red = s.Redis.CPUPerMsgUS
			}
			fmt.Fprintf(w, "cpu per message at %g/s: server %.0f µs, redis %.0f µs, generator %.0f µs (server %.1fs in all)\n",
				s.Rate, s.ServerCPUPerMsgUS, red, s.GeneratorCPUPerMsgUS, s.ServerCPUSeconds)
		}
	}
	if len(r.Setup.Errors) > 0 {
		fmt.Fprintf(w, "errors during setup: %s\n", errorList(r.Setup.Errors))
	}
	if id := r.Idle; id != nil {
		fmt.Fprintf(w, "idle: %d polls waiting on the server(s) (of %d)\n", id.ServerWaiting, id.Polls)
		if id.Processes > 0 {
			fmt.Fprintf(w, "  server RSS %.1f MB → %.1f MB: %.1f KB per waiting poll (%d processes); descriptors %d → %d\n",
				mb(id.RSS0), mb(id.RSSN), id.RSSPerPollKB, id.Processes, id.FDs0, id.FDsN)
		}
		if id.HeapN > 0 {
			fmt.Fprintf(w, "  Go heap in use %.1f MB → %.1f MB: %.1f KB per waiting poll\n", mb(id.Heap0), mb(id.HeapN), id.HeapPerPollKB)
		}
		if id.RedisMemN > 0 {
			fmt.Fprintf(w, "  redis used_memory %.1f MB → %.1f MB: %.0f bytes per waiting poll; clients %d → %d\n",
				mb(id.RedisMem0), mb(id.RedisMemN), id.RedisBytesPerPoll, id.RedisClients0, id.RedisClientsN)
		}
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func sumErrors(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// topCalls lists the most called Redis commands.
func topCalls(m map[string]int64, n int) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[j].v > all[i].v || all[j].v == all[i].v && all[j].k < all[i].k {
				all[i], all[j] = all[j], all[i]
			}
		}
	}
	var parts []string
	for i, e := range all {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}

func writeJSON(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
