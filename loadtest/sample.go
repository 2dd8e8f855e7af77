package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// coord is where a run stops at named points: "ready" (set up, no poll
// yet), "waiting" (idle: every poll waiting), "step-start-k",
// "step-end-k". Alone, the run samples the servers there; as a child of
// -procs it waits for the parent, which samples once for all children.
type coord interface {
	at(ctx context.Context, point string) error
}

type localCoord struct{ s *sampler }

func newLocalCoord(cfg config, log io.Writer) *localCoord {
	return &localCoord{s: newSampler(cfg, log)}
}

func (c *localCoord) at(ctx context.Context, point string) error { return c.s.sample(ctx, point) }

// sample is the servers' state at a point.
type sample struct {
	at      time.Time
	rss     int64
	procs   int
	fds     int
	heap    int64
	waiting int
	redis   map[string]string
	cpu     float64 // server CPU seconds so far
	selfCPU float64 // the generator's (with its -procs children)
}

// sampler measures the servers: RSS and descriptors of -pids, Go heap and
// waiting polls from the target's own status page, Redis INFO from -redis.
type sampler struct {
	cfg     config
	log     io.Writer
	hc      *http.Client
	mu      sync.Mutex
	samples map[string]sample
}

func newSampler(cfg config, log io.Writer) *sampler {
	return &sampler{cfg: cfg, log: log, hc: &http.Client{Timeout: 5 * time.Second, Transport: newTransport(4)}, samples: map[string]sample{}}
}

func (s *sampler) sample(ctx context.Context, point string) error {
	if point == "waiting" {
		if err := s.awaitWaiting(ctx); err != nil {
			return err
		}
	}
	sm := s.take(ctx)
	if point == "waiting" || point == "ready" {
		// RSS moves as the runtime returns memory: take the median of three.
		rs := []int64{sm.rss}
		for range 2 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			r, _ := rssOf(s.cfg.PIDs)
			rs = append(rs, r)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
		sm.rss = rs[1]
	}
	s.mu.Lock()
	s.samples[point] = sm
	s.mu.Unlock()
	return nil
}

func (s *sampler) take(ctx context.Context) sample {
	sm := sample{at: time.Now()}
	sm.rss, sm.procs = rssOf(s.cfg.PIDs)
	sm.fds = openFDs(s.cfg.PIDs)
	sm.cpu = cpuOf(s.cfg.PIDs)
	sm.selfCPU = cpuOf([]int{os.Getpid()})
	sm.waiting, sm.heap = s.serverStatus(ctx)
	if s.cfg.Redis != "" {
		if info, err := redisInfo(s.cfg.Redis); err == nil {
			sm.redis = info
		} else {
			fmt.Fprintln(s.log, "loadtest: redis INFO:", err)
		}
	}
	return sm
}

// awaitWaiting waits until the servers hold (nearly) every poll, then for
// -hold, so that what the polls cost has settled.
func (s *sampler) awaitWaiting(ctx context.Context) error {
	want := s.cfg.Users * 99 / 100 // a poll that just timed out is between requests
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, _ := s.serverStatus(ctx)
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(s.log, "loadtest: only %d of %d polls waiting on the servers after 2 minutes; sampling anyway\n", n, s.cfg.Users)
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(s.cfg.Hold):
	}
	return nil
}

// serverStatus sums waiting polls (and the Go heap, when exported) over
// the target URLs: webchat's /metrics, Nchan's /nchan_status.
func (s *sampler) serverStatus(ctx context.Context) (waiting int, heap int64) {
	seen := map[string]bool{}
	for _, u := range s.cfg.URLs {
		if seen[u] {
			continue
		}
		seen[u] = true
		path := "/metrics"
		if s.cfg.Target == "nchan" {
			path = "/nchan_status"
		}
		req, err := http.NewRequestWithContext(ctx, "GET", u+path, nil)
		if err != nil {
			continue
		}
		resp, err := s.hc.Do(req)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case s.cfg.Target == "nchan" && strings.HasPrefix(line, "subscribers:"):
				n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "subscribers:")))
				waiting += n
			case strings.HasPrefix(line, "webchat_polls_waiting "):
				f, _ := strconv.ParseFloat(strings.TrimPrefix(line, "webchat_polls_waiting "), 64)
				waiting += int(f)
			case strings.HasPrefix(line, "go_memstats_heap_inuse_bytes "):
				f, _ := strconv.ParseFloat(strings.TrimPrefix(line, "go_memstats_heap_inuse_bytes "), 64)
				heap += int64(f)
			}
		}
		resp.Body.Close()
	}
	return waiting, heap
}

// apply adds what was sampled to the result.
func (s *sampler) apply(res *Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.samples["waiting"]; ok {
		r := s.samples["ready"]
		n := s.cfg.Users
		id := &IdleResult{Polls: n, ServerWaiting: w.waiting, RSS0: r.rss, RSSN: w.rss, Heap0: r.heap, HeapN: w.heap,
			FDs0: r.fds, FDsN: w.fds, Processes: w.procs}
		if len(s.cfg.PIDs) > 0 {
			id.RSSPerPollKB = float64(w.rss-r.rss) / float64(n) / 1024
		}
		if w.heap > 0 {
			id.HeapPerPollKB = float64(w.heap-r.heap) / float64(n) / 1024
		}
		if r.redis != nil && w.redis != nil {
			id.RedisMem0, id.RedisMemN = infoInt(r.redis, "used_memory"), infoInt(w.redis, "used_memory")
			id.RedisClients0, id.RedisClientsN = infoInt(r.redis, "connected_clients"), infoInt(w.redis, "connected_clients")
			id.RedisBytesPerPoll = float64(id.RedisMemN-id.RedisMem0) / float64(n)
		}
		res.Idle = id
	}
	for k := range res.Steps {
		a, okA := s.samples[fmt.Sprintf("step-start-%d", k)]
		b, okB := s.samples[fmt.Sprintf("step-end-%d", k)]
		if !okA || !okB {
			continue
		}
		st := &res.Steps[k]
		st.ServerRSS = b.rss
		st.GeneratorCPUSeconds = b.selfCPU - a.selfCPU
		if len(s.cfg.PIDs) > 0 {
			st.ServerCPUSeconds = b.cpu - a.cpu
		}
		if st.Sent > 0 {
			st.ServerCPUPerMsgUS = st.ServerCPUSeconds / float64(st.Sent) * 1e6
			st.GeneratorCPUPerMsgUS = st.GeneratorCPUSeconds / float64(st.Sent) * 1e6
		}
		if a.redis == nil || b.redis == nil {
			continue
		}
		ca, cb := commandCalls(a.redis), commandCalls(b.redis)
		d := &RedisDelta{Calls: map[string]int64{}, UsedMemoryEnd: infoInt(b.redis, "used_memory"), ClientsEnd: infoInt(b.redis, "connected_clients")}
		for name, n := range cb {
			// Leave out the INFO calls the sampler itself makes.
			if dn := n - ca[name]; dn > 0 && name != "info" {
				d.Calls[name] = dn
				d.Commands += dn
			}
		}
		cpu := func(m map[string]string) float64 {
			u, _ := strconv.ParseFloat(m["used_cpu_user"], 64)
			sy, _ := strconv.ParseFloat(m["used_cpu_sys"], 64)
			return u + sy
		}
		d.CPUSecondsUsed = cpu(b.redis) - cpu(a.redis)
		if sent := res.Steps[k].Sent; sent > 0 {
			d.PerMessage = float64(d.Commands) / float64(sent)
			d.CPUPerMsgUS = d.CPUSecondsUsed / float64(sent) * 1e6
		}
		res.Steps[k].Redis = d
	}
}

// progress prints the live line: elapsed, sent/s, delivered/s, p99 of the
// last interval and of the step so far, polls in flight, errors.
type progress struct {
	cfg   config
	out   io.Writer
	mu    sync.Mutex
	step  int
	rate  float64
	t0    time.Time
	done  chan struct{}
	wg    sync.WaitGroup
	print func(line string)
	child func(s snapshot, polls, sending int64) // -procs child: report to the parent instead
}

func newProgress(cfg config, out io.Writer) *progress {
	p := &progress{cfg: cfg, out: out, t0: time.Now()}
	p.print = func(line string) { fmt.Fprintln(out, line) }
	return p
}

func (p *progress) setStep(k int, rate float64) {
	p.mu.Lock()
	p.step, p.rate = k, rate
	p.mu.Unlock()
	p.note(fmt.Sprintf("step %d/%d: %g msg/s for %v", k+1, len(p.cfg.Rates), rate, p.cfg.Duration))
}

func (p *progress) note(s string) {
	if p.cfg.Progress > 0 {
		p.print("loadtest: " + s)
	}
}

func (p *progress) start(e *engine) {
	if p.cfg.Progress <= 0 {
		return
	}
	p.done = make(chan struct{})
	p.wg.Go(func() {
		t := time.NewTicker(p.cfg.Progress)
		defer t.Stop()
		var last snapshot
		lastT := time.Now()
		for {
			select {
			case <-p.done:
				return
			case now := <-t.C:
				s := e.tr.snap()
				if p.child != nil {
					p.child(s, e.polling.Load(), e.inflight.Load())
					continue
				}
				if s.step != last.step {
					last = snapshot{step: s.step}
				}
				dt := now.Sub(lastT).Seconds()
				p.print(fmt.Sprintf("[%6.1fs] sent %6.0f/s  delivered %6.0f/s  p99 %7.1f ms (step %7.1f ms)  polls %6d  sending %5d  errors %d",
					now.Sub(p.t0).Seconds(), float64(s.sent-last.sent)/dt, float64(s.delivered-last.delivered)/dt,
					ms(s.p99), ms(s.p99All), e.polling.Load(), e.inflight.Load(), s.errors))
				last, lastT = s, now
			}
		}
	})
}

func (p *progress) stop() {
	if p.done != nil {
		close(p.done)
		p.wg.Wait()
		p.done = nil
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
