package main

import (
	"fmt"
	"math"
	"strings"
)

func ratio(a, b float64) string {
	if b == 0 || a == 0 || math.IsNaN(a/b) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func targetRows(w *strings.Builder, m *Manifest, res map[string]*result) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	for _, c := range []struct {
		name string
		goal float64
	}{{"direct-1k", 3000}, {"direct-5k", 2000}} {
		wc, nc := res[c.name+"/webchat"], res[c.name+"/nchan"]
		if wc == nil && nc == nil {
			continue
		}
		bw, _ := best(wc, 100)
		bn, _ := best(nc, 100)
		users := 1000
		if c.name == "direct-5k" {
			users = 5000
		}
		// A server that held the ladder's top rung has its limit above it.
		atLeast := func(r *result, b float64) (string, string) {
			if r != nil && len(r.Steps) > 0 && b > 0 && b == r.Steps[len(r.Steps)-1].Rate && b == maxRate(sc(m, c.name)) {
				return "≥ ", " (ladder's top)"
			}
			return "", ""
		}
		pw, sw := atLeast(wc, bw)
		pn, sn := atLeast(nc, bn)
		rt := ratio(bw, bn)
		if pn != "" && rt != "—" {
			rt = "≤ " + rt
		}
		p("| direct, %d users: highest rate with p99 ≤ 100 ms, goal ≥ %.0f msg/s | %s%.0f msg/s%s | %s%.0f msg/s%s | %s | %s |\n",
			users, c.goal, pw, bw, sw, pn, bn, sn, rt, yes(bw >= c.goal))
		p("| direct, %d users: webchat's best ≥ Nchan's (aim 1.5×) | | | %s | %s |\n", users, rt, yes(bw > 0 && bw >= bn))
	}
	if wc, nc := res["direct-1k/webchat"], res["direct-1k/nchan"]; wc != nil && nc != nil && len(wc.Steps) > 0 && len(nc.Steps) > 0 {
		ws, ns := wc.Steps[0], nc.Steps[0]
		if ws.Rate == ns.Rate && ws.ServerCPUPerMsgUS > 0 && ns.ServerCPUPerMsgUS > 0 {
			p("| direct, 1000 users, %g msg/s: server CPU per message (less is better) | %.0f µs | %.0f µs | %s | |\n",
				ws.Rate, ws.ServerCPUPerMsgUS, ns.ServerCPUPerMsgUS, ratio(ws.ServerCPUPerMsgUS, ns.ServerCPUPerMsgUS))
			if ws.Redis != nil && ns.Redis != nil {
				p("| direct, 1000 users, %g msg/s: Redis CPU per message (less is better) | %.0f µs | %.0f µs | %s | |\n",
					ws.Rate, ws.Redis.CPUPerMsgUS, ns.Redis.CPUPerMsgUS, ratio(ws.Redis.CPUPerMsgUS, ns.Redis.CPUPerMsgUS))
			}
		}
	}
	chattyRows(w, res)
	floorRow(w, res)
	var lost, dup, nlost, ndup int64
	for k, r := range res {
		all := r.Steps
		if r.Warmup != nil {
			all = append(append([]step(nil), all...), *r.Warmup)
		}
		for _, s := range all {
			if strings.HasSuffix(k, "/webchat") {
				lost += s.Lost
				dup += s.Duplicated
			} else if strings.HasSuffix(k, "/nchan") {
				nlost += s.Lost
				ndup += s.Duplicated
			}
		}
	}
	p("| lost, every run and warm-up (goal 0 for webchat) | %d | %d | | %s |\n", lost, nlost, yes(lost == 0))
	p("| duplicated, every run and warm-up (goal 0 for webchat) | %d | %d | | %s |\n", dup, ndup, yes(dup == 0))
	if wc, nc := res["group-500/webchat"], res["group-500/nchan"]; wc != nil && len(wc.Steps) > 0 {
		np99 := 0.0
		if nc != nil && len(nc.Steps) > 0 {
			np99 = nc.Steps[0].Latency.P99
		}
		p("| group of 500, 10 msg/s: p99 to every member ≤ 250 ms | %.1f ms | %.1f ms | %s | %s |\n",
			wc.Steps[0].Latency.P99, np99, ratio(wc.Steps[0].Latency.P99, np99), yes(wc.Steps[0].Latency.P99 <= 250 && wc.Steps[0].Lost == 0))
	}
	if wc, nc := res["idle-10k/webchat"], res["idle-10k/nchan"]; wc != nil && wc.Idle != nil {
		var n float64
		if nc != nil && nc.Idle != nil {
			n = nc.Idle.RSSPerPollKB
		}
		p("| idle, 10,000 waiting polls: server RSS per waiting poll ≤ 24 KB | %.1f KB | %.1f KB | %s | %s |\n",
			wc.Idle.RSSPerPollKB, n, ratio(wc.Idle.RSSPerPollKB, n), yes(wc.Idle.RSSPerPollKB <= 24))
		if wc.Idle.HeapN > 0 {
			p("| idle, 10,000 waiting polls: Go heap per waiting poll | %.1f KB | | | |\n", wc.Idle.HeapPerPollKB)
		}
		var nr float64
		if nc != nil && nc.Idle != nil {
			nr = nc.Idle.RedisBytesPerPoll
		}
		p("| idle, 10,000 waiting polls: Redis memory per waiting poll | %.0f B | %.0f B | %s | |\n", wc.Idle.RedisBytesPerPoll, nr, ratio(wc.Idle.RedisBytesPerPoll, nr))
	}
}

func idleTable(w *strings.Builder, wc, nc *result) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	get := func(r *result, f func(*result) string) string {
		if r == nil || r.Idle == nil {
			return "—"
		}
		return f(r)
	}
	rows := []struct {
		name string
		f    func(*result) string
	}{
		{"polls waiting on the server(s)", func(r *result) string { return fmt.Sprintf("%d of %d", r.Idle.ServerWaiting, r.Idle.Polls) }},
		{"server processes sampled", func(r *result) string { return fmt.Sprint(r.Idle.Processes) }},
		{"server RSS at 0 → N", func(r *result) string { return fmt.Sprintf("%.1f → %.1f MB", mb(r.Idle.RSS0), mb(r.Idle.RSSN)) }},
		{"**server RSS per waiting poll**", func(r *result) string { return fmt.Sprintf("**%.1f KB**", r.Idle.RSSPerPollKB) }},
		{"Go heap in use at 0 → N (per poll)", func(r *result) string {
			if r.Idle.HeapN == 0 {
				return "—"
			}
			return fmt.Sprintf("%.1f → %.1f MB (%.1f KB)", mb(r.Idle.Heap0), mb(r.Idle.HeapN), r.Idle.HeapPerPollKB)
		}},
		{"server open descriptors at 0 → N", func(r *result) string { return fmt.Sprintf("%d → %d", r.Idle.FDs0, r.Idle.FDsN) }},
		{"Redis used_memory at 0 → N (per poll)", func(r *result) string {
			return fmt.Sprintf("%.1f → %.1f MB (%.0f B)", mb(r.Idle.RedisMem0), mb(r.Idle.RedisMemN), r.Idle.RedisBytesPerPoll)
		}},
		{"Redis connected clients at 0 → N", func(r *result) string { return fmt.Sprintf("%d → %d", r.Idle.RedisClients0, r.Idle.RedisClientsN) }},
	}
	p("| waiting polls | webchat | Nchan |\n| --- | --- | --- |\n")
	for _, r := range rows {
		p("| %s | %s | %s |\n", r.name, get(wc, r.f), get(nc, r.f))
	}
	p("\n")
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// floorRow sets the server CPU per message of webchat and Nchan beside
// the floor's (net/http alone) at the highest rate webchat held that all
// three ran.
func floorRow(w *strings.Builder, res map[string]*result) {
	wc, nc, fl := res["direct-1k/webchat"], res["direct-1k/nchan"], res["direct-1k/floor"]
	if wc == nil || nc == nil || fl == nil {
		return
	}
	var ws, ns, fs *step
	for i := range wc.Steps {
		s := &wc.Steps[i]
		n, f := findStep(nc, s.Rate), findStep(fl, s.Rate)
		if n == nil || f == nil || s.ServerCPUPerMsgUS <= 0 || n.ServerCPUPerMsgUS <= 0 || f.ServerCPUPerMsgUS <= 0 {
			continue
		}
		if ws == nil || s.ok(100) {
			ws, ns, fs = s, n, f
		}
	}
	if ws == nil {
		return
	}
	fmt.Fprintf(w, "| direct, 1000 users, %g msg/s: server CPU per message; net/http alone (the floor) %.0f µs | %.0f µs (floor %+.0f) | %.0f µs (floor %+.0f) | %s | |\n",
		ws.Rate, fs.ServerCPUPerMsgUS, ws.ServerCPUPerMsgUS, ws.ServerCPUPerMsgUS-fs.ServerCPUPerMsgUS,
		ns.ServerCPUPerMsgUS, ns.ServerCPUPerMsgUS-fs.ServerCPUPerMsgUS, ratio(ws.ServerCPUPerMsgUS, ns.ServerCPUPerMsgUS))
}

// findStep returns r's step at rate, nil if none.
func findStep(r *result, rate float64) *step {
	if r == nil {
		return nil
	}
	for i := range r.Steps {
		if r.Steps[i].Rate == rate {
			return &r.Steps[i]
		}
	}
	return nil
}

func stepTable(w *strings.Builder, sc scenario, wc, nc, fl *result) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	rates := map[float64]bool{}
	var order []float64
	for _, r := range []*result{wc, nc, fl} {
		if r == nil {
			continue
		}
		for _, s := range r.Steps {
			if !rates[s.Rate] {
				rates[s.Rate] = true
				order = append(order, s.Rate)
			}
		}
	}
	if len(order) == 0 {
		p("No results.\n\n")
		return
	}
	p("| rate/s | target | sent/s | delivered/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | sent | lost | dup | errors | CPU µs/msg: server, Redis | Redis cmds/msg | p99 ≤ %.0f ms held |\n", sc.P99Goal)
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, rate := range order {
		ws, ns := findStep(wc, rate), findStep(nc, rate)
		type row struct {
			name string
			s    *step
		}
		rows := []row{{"webchat", ws}, {"Nchan", ns}}
		if fl != nil {
			rows = append(rows, row{"floor (net/http alone)", findStep(fl, rate)})
		}
		for _, x := range rows {
			if x.s == nil {
				p("| %g | %s | not run (ladder stopped) | | | | | | | | | | | | | |\n", rate, x.name)
				continue
			}
			s := x.s
			red, cpu := "—", fmt.Sprintf("%.0f, —", s.ServerCPUPerMsgUS)
			if s.Redis != nil {
				red = fmt.Sprintf("%.1f", s.Redis.PerMessage)
				cpu = fmt.Sprintf("%.0f, %.0f", s.ServerCPUPerMsgUS, s.Redis.CPUPerMsgUS)
			}
			errs := fmt.Sprint(s.errors())
			if len(s.Errors) > 0 {
				errs = fmt.Sprintf("%d (%s)", s.errors(), errorKinds(s.Errors))
			}
			p("| %g | %s | %.0f | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d | %s | %s | %s | %s |\n",
				rate, x.name, s.SentPerSec, s.DeliveredPerSec, s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.P999, s.Latency.Max,
				s.Sent, s.Lost, s.Duplicated, errs, cpu, red, yes(s.ok(sc.P99Goal)))
		}
		if ws != nil && ns != nil {
			cpuR := ratio(ws.ServerCPUPerMsgUS, ns.ServerCPUPerMsgUS)
			if ws.Redis != nil && ns.Redis != nil {
				cpuR += ", " + ratio(ws.Redis.CPUPerMsgUS, ns.Redis.CPUPerMsgUS)
			}
			p("| %g | ratio webchat ÷ Nchan | %s | %s | %s | %s | %s | %s | %s | | | | | %s | | |\n", rate,
				ratio(ws.SentPerSec, ns.SentPerSec), ratio(ws.DeliveredPerSec, ns.DeliveredPerSec),
				ratio(ws.Latency.P50, ns.Latency.P50), ratio(ws.Latency.P90, ns.Latency.P90), ratio(ws.Latency.P99, ns.Latency.P99),
				ratio(ws.Latency.P999, ns.Latency.P999), ratio(ws.Latency.Max, ns.Latency.Max), cpuR)
		}
	}
	p("\n")
}

func errorKinds(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sortStrings(parts)
	return strings.Join(parts, ", ")
}

// chattyRows compare the direct ladder with and without users who type
// and read (issue 18's bound: the highest rate within 10% of without), and
// the node's and Redis's CPU per message at each rate both reached.
func chattyRows(w *strings.Builder, res map[string]*result) {
	plain, chatty := res["direct-1k/webchat"], res["direct-1k-chatty/webchat"]
	if plain == nil || chatty == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	bp, _ := best(plain, 100)
	bc, _ := best(chatty, 100)
	p("| direct, 1000 users, 10%% typing and reading: highest rate with p99 ≤ 100 ms, within 10%% of without (%.0f msg/s) | %.0f msg/s | | %s | %s |\n",
		bp, bc, ratio(bc, bp), yes(bp > 0 && bc >= 0.9*bp))
	for _, cs := range chatty.Steps {
		for _, ps := range plain.Steps {
			if ps.Rate != cs.Rate || ps.ServerCPUPerMsgUS == 0 || cs.ServerCPUPerMsgUS == 0 {
				continue
			}
			p("| direct, 1000 users, %g msg/s: node CPU per message, 10%% typing and reading / none | %.0f µs / %.0f µs | | %s | |\n",
				cs.Rate, cs.ServerCPUPerMsgUS, ps.ServerCPUPerMsgUS, ratio(cs.ServerCPUPerMsgUS, ps.ServerCPUPerMsgUS))
			if cs.Redis != nil && ps.Redis != nil {
				p("| direct, 1000 users, %g msg/s: Redis CPU per message, 10%% typing and reading / none | %.0f µs / %.0f µs | | %s | |\n",
					cs.Rate, cs.Redis.CPUPerMsgUS, ps.Redis.CPUPerMsgUS, ratio(cs.Redis.CPUPerMsgUS, ps.Redis.CPUPerMsgUS))
			}
		}
	}
}
