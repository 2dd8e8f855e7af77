package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// With -procs N the generator runs N copies of itself, each with its share
// of the users and of the rate (groups and friendships stay inside one
// copy), for more connections than one process may open. The children
// stop at the same points as a single run ("ready", "waiting", every step
// start and end); the parent samples the servers there once for all, and
// merges the children's results (histograms included) into one.

// childMsg is one line a child writes to the parent.
type childMsg struct {
	Barrier  string         `json:"barrier,omitempty"`
	Step     *StepResult    `json:"step,omitempty"` // with a step-end barrier
	Progress *childProgress `json:"progress,omitempty"`
}

type childProgress struct {
	Sent      int64   `json:"sent"`
	Delivered int64   `json:"delivered"`
	Errors    int64   `json:"errors"`
	Polls     int64   `json:"polls"`
	Sending   int64   `json:"sending"`
	P99       float64 `json:"p99_ms"`
	P99Step   float64 `json:"p99_step_ms"`
	Step      int     `json:"step"`
}

type childCoord struct {
	in   *bufio.Reader
	out  *lockedWriter
	last *StepResult // the last finished step, sent with step-end
}

func (c *childCoord) stepDone(r StepResult) { c.last = &r }

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) send(m childMsg) {
	b, _ := json.Marshal(m)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(append(b, '\n'))
}

var errStopLadder = errors.New("the parent stopped the ladder")

func (c *childCoord) at(ctx context.Context, point string) error {
	m := childMsg{Barrier: point}
	if strings.HasPrefix(point, "step-end-") {
		m.Step = c.last
	}
	c.out.send(m)
	line, err := c.in.ReadString('\n')
	if err != nil {
		return fmt.Errorf("parent went away: %w", err)
	}
	switch strings.TrimSpace(line) {
	case "go":
		return nil
	case "stop":
		return errStopLadder
	}
	return fmt.Errorf("parent said %q", line)
}

// runChild runs one share of a -procs run, talking to the parent over
// stdin and stdout, and writes its result to -json.
func runChild(ctx context.Context, cfg config, stdin io.Reader, stdout io.Writer) error {
	out := &lockedWriter{w: stdout}
	pr := newProgress(cfg, io.Discard)
	pr.child = func(s snapshot, polls, sending int64) {
		out.send(childMsg{Progress: &childProgress{Sent: s.sent, Delivered: s.delivered, Errors: s.errors, Polls: polls, Sending: sending,
			P99: ms(s.p99), P99Step: ms(s.p99All), Step: s.step}})
	}
	co := &childCoord{in: bufio.NewReader(stdin), out: out}
	res, err := runLoad(ctx, cfg, co, pr)
	if err != nil {
		return err
	}
	return writeJSON(cfg.JSONOut, res)
}

type childProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	json  string
	last  childProgress
}

// runParent starts the children, meets them at every point, prints the
// summed progress, and merges their results.
func runParent(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "loadtest-procs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	n := cfg.Procs
	type msg struct {
		i int
		m childMsg
	}
	msgs := make(chan msg, 64)
	exited := make(chan error, n)
	children := make([]*childProc, n)
	for i := range n {
		c := &childProc{json: filepath.Join(dir, fmt.Sprintf("child-%d.json", i))}
		c.cmd = exec.CommandContext(ctx, self, childArgs(cfg, i, c.json)...)
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		c.cmd.Stderr = stderr
		if c.stdin, err = c.cmd.StdinPipe(); err != nil {
			return err
		}
		out, err := c.cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := c.cmd.Start(); err != nil {
			return fmt.Errorf("start child %d: %w", i, err)
		}
		children[i] = c
		go func() {
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				var m childMsg
				if json.Unmarshal(sc.Bytes(), &m) == nil {
					msgs <- msg{i, m}
				}
			}
			exited <- c.cmd.Wait()
		}()
	}
	defer func() {
		for _, c := range children {
			if c != nil && c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
			}
		}
	}()

	s := newSampler(cfg, stderr)
	arrived := map[string]int{}
	stepParts := map[string][]StepResult{}
	stop := false
	t0 := time.Now()
	lastT := t0
	var lastSum childProgress
	tick := time.NewTicker(max(cfg.Progress, time.Second))
	defer tick.Stop()
	done := 0
	var childErr error
	for done < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			done++
			if err != nil && childErr == nil {
				childErr = err
			}
		case m := <-msgs:
			c := children[m.i]
			if m.m.Progress != nil {
				c.last = *m.m.Progress
			}
			if p := m.m.Barrier; p != "" {
				arrived[p]++
				if m.m.Step != nil {
					stepParts[p] = append(stepParts[p], *m.m.Step)
				}
				if arrived[p] < n {
					continue
				}
				if err := s.sample(ctx, p); err != nil {
					return err
				}
				answer := "go\n"
				if strings.HasPrefix(p, "step-end-") && cfg.StopP99 > 0 {
					merged := mergeSteps(stepParts[p])
					if time.Duration(merged.Latency.P99*float64(time.Millisecond)) > cfg.StopP99 {
						stop = true
					}
				}
				if strings.HasPrefix(p, "step-start-") && stop {
					answer = "stop\n"
				}
				for _, c := range children {
					io.WriteString(c.stdin, answer)
				}
			}
		case now := <-tick.C:
			if cfg.Progress <= 0 {
				continue
			}
			var sum childProgress
			for _, c := range children {
				sum.Sent += c.last.Sent
				sum.Delivered += c.last.Delivered
				sum.Errors += c.last.Errors
				sum.Polls += c.last.Polls
				sum.Sending += c.last.Sending
				sum.P99 = max(sum.P99, c.last.P99)
				sum.P99Step = max(sum.P99Step, c.last.P99Step)
			}
			dt := now.Sub(lastT).Seconds()
			if sum.Sent < lastSum.Sent || sum.Delivered < lastSum.Delivered {
				lastSum = childProgress{} // a new step: the children's counters restarted
			}
			fmt.Fprintf(stderr, "[%6.1fs] %d procs: sent %6.0f/s  delivered %6.0f/s  p99 %7.1f ms (step %7.1f ms, worst child)  polls %6d  sending %5d  errors %d\n",
				now.Sub(t0).Seconds(), n, float64(sum.Sent-lastSum.Sent)/dt, float64(sum.Delivered-lastSum.Delivered)/dt,
				sum.P99, sum.P99Step, sum.Polls, sum.Sending, sum.Errors)
			lastSum, lastT = sum, now
		}
	}
	if childErr != nil {
		return fmt.Errorf("a child failed: %w", childErr)
	}
	var parts []*Result
	for _, c := range children {
		r, err := readResult(c.json)
		if err != nil {
			return err
		}
		parts = append(parts, r)
	}
	res := mergeResults(cfg, parts)
	s.apply(res)
	return finish(cfg, res, stdout)
}

// childArgs are the flags of child i: its share of users, rate and
// in-flight sends; sampling, plotting and ladder stopping stay with the
// parent.
func childArgs(cfg config, i int, jsonPath string) []string {
	n := cfg.Procs
	users := cfg.Users / n
	if i < cfg.Users%n {
		users++
	}
	var rates []string
	for _, r := range cfg.Rates {
		rates = append(rates, strconv.FormatFloat(r/float64(n), 'f', -1, 64))
	}
	return []string{
		"-child", "-json", jsonPath,
		"-target", cfg.Target, "-url", strings.Join(cfg.URLs, ","), "-scenario", cfg.Scenario,
		"-users", strconv.Itoa(users), "-rate", strings.Join(rates, ","),
		"-duration", cfg.Duration.String(), "-drain", cfg.Drain.String(), "-warmup", cfg.Warmup.String(),
		"-group-size", strconv.Itoa(cfg.GroupSize), "-friends", strconv.Itoa(cfg.Friends),
		"-poll-timeout", strconv.Itoa(cfg.PollTimeout), "-body", strconv.Itoa(cfg.BodySize),
		"-setup-concurrency", strconv.Itoa(max(cfg.SetupConc/n, 1)), "-max-inflight", strconv.Itoa(max(cfg.MaxInflight/n, 1)),
		"-hold", cfg.Hold.String(), "-seed", strconv.FormatUint(cfg.Seed+uint64(i), 10),
		"-progress", max(cfg.Progress, time.Second).String(),
		"-check-history=" + strconv.FormatBool(cfg.CheckHistory), "-history-wait", cfg.HistoryWait.String(),
		"-chatty", strconv.FormatFloat(cfg.Chatty, 'f', -1, 64),
	}
}

// mergeResults adds up the children's results.
func mergeResults(cfg config, parts []*Result) *Result {
	res := &Result{Tool: "webchat-loadtest", Started: parts[0].Started, Command: os.Args, Config: cfg, Machine: machine(), Procs: len(parts), Complete: true}
	res.Setup.Errors = map[string]int64{}
	steps := len(parts[0].Steps)
	for _, p := range parts {
		res.Setup.Users += p.Setup.Users
		res.Setup.Groups += p.Setup.Groups
		res.Setup.Friendships += p.Setup.Friendships
		res.Setup.Seconds = max(res.Setup.Seconds, p.Setup.Seconds)
		for k, v := range p.Setup.Errors {
			res.Setup.Errors[k] += v
		}
		steps = min(steps, len(p.Steps))
		res.Complete = res.Complete && p.Complete
	}
	res.History = mergeHistory(parts)
	var warm []StepResult
	for _, p := range parts {
		if p.Warmup != nil {
			warm = append(warm, *p.Warmup)
		}
	}
	if len(warm) == len(parts) {
		w := mergeSteps(warm)
		w.Timeline = nil
		res.Warmup = &w
	}
	for k := range steps {
		var ss []StepResult
		for _, p := range parts {
			ss = append(ss, p.Steps[k])
		}
		res.Steps = append(res.Steps, mergeSteps(ss))
	}
	return res
}

// mergeSteps adds up one step of several children.
func mergeSteps(ss []StepResult) StepResult {
	var m StepResult
	m.Errors = map[string]int64{}
	h, sh := newHist(histSig), newHist(histSig)
	var secHists []*second
	for _, s := range ss {
		m.Rate += s.Rate
		m.Seconds = max(m.Seconds, s.Seconds)
		m.DrainSeconds = max(m.DrainSeconds, s.DrainSeconds)
		m.Scheduled += s.Scheduled
		m.Sent += s.Sent
		m.Failed += s.Failed
		m.Backlog += s.Backlog
		m.Expected += s.Expected
		m.Delivered += s.Delivered
		m.Lost += s.Lost
		m.Duplicated += s.Duplicated
		m.Redelivered += s.Redelivered
		m.StoredTwice += s.StoredTwice
		for k, v := range s.Errors {
			m.Errors[k] += v
		}
		if x, err := decodeHist(s.Hist); err == nil {
			h.Merge(x)
		}
		if x, err := decodeHist(s.SendHist); err == nil {
			sh.Merge(x)
		}
		for _, sec := range s.Timeline {
			for len(secHists) <= sec.T {
				secHists = append(secHists, &second{hist: newHist(secSig)})
			}
			t := secHists[sec.T]
			t.sent += sec.Sent
			t.answered += sec.Answered
			t.delivered += sec.Delivered
			t.errors += sec.Errors
			if x, err := decodeHist(sec.Hist); err == nil {
				t.hist.Merge(x)
			}
		}
	}
	m.Latency, m.SendLatency = percentiles(h), percentiles(sh)
	m.Hist, m.SendHist = encodeHist(h), encodeHist(sh)
	if m.Seconds > 0 {
		m.SentPerSec = float64(m.Sent) / m.Seconds
		m.DeliveredPerSec = float64(m.Delivered) / m.Seconds
	}
	for i, t := range secHists {
		p := percentiles(t.hist)
		m.Timeline = append(m.Timeline, Second{T: i, Sent: t.sent, Answered: t.answered, Delivered: t.delivered, Errors: t.errors,
			P50: p.P50, P99: p.P99, Max: p.Max, Hist: encodeHist(t.hist)})
	}
	return m
}
