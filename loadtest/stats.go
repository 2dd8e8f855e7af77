package main

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 2 minutes.
const (
	histMin  = 1
	histMax  = int64(2 * time.Minute / time.Microsecond)
	histSig  = 3
	secSig   = 2 // per-second histograms: coarser, there are many
	bodyHead = "lt:"
	minBody  = 48
)

func newHist(sig int) *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, sig) }

func record(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	h.RecordValue(us)
}

// makeBody builds a message body that carries the message id and its
// (intended) send time, padded to size.
func makeBody(id uint64, at time.Time, size int) string {
	var b strings.Builder
	b.Grow(size)
	b.WriteString(bodyHead)
	b.WriteString(strconv.FormatUint(id, 10))
	b.WriteByte(':')
	b.WriteString(strconv.FormatInt(at.UnixNano(), 10))
	b.WriteByte(':')
	for b.Len() < size {
		b.WriteByte('x')
	}
	return b.String()
}

// parseBody reads what makeBody wrote.
func parseBody(s string) (id uint64, at time.Time, ok bool) {
	rest, ok := strings.CutPrefix(s, bodyHead)
	if !ok {
		return 0, time.Time{}, false
	}
	idS, rest, ok1 := strings.Cut(rest, ":")
	tsS, _, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return 0, time.Time{}, false
	}
	id, err1 := strconv.ParseUint(idS, 10, 64)
	ns, err2 := strconv.ParseInt(tsS, 10, 64)
	if err1 != nil || err2 != nil || id == 0 {
		return 0, time.Time{}, false
	}
	return id, time.Unix(0, ns), true
}

// Message states.
const (
	msgPending  = iota // sent, not answered yet
	msgAnswered        // answered 201 or 200: every intended device must get it
	msgFailed          // never answered with success: not counted lost
)

// msgRec is what the generator knows about one send.
type msgRec struct {
	step       int32
	sender     int32
	dest       int32 // the friend's index (direct) or the group's index
	recipients int32 // intended devices
	remaining  int32 // intended devices that have not received it yet
	state      uint8
	twoSeqs    bool  // stored under two seqs (counted once)
	seq        int64 // from the answer
	recvSeq    int64 // from the first receipt
	conv       string
}

// tracker accounts for every send and every delivery. It is safe for
// concurrent use; one mutex is enough at the rates two cores reach.
type tracker struct {
	mu          sync.Mutex
	recs        []msgRec // index: message id; 0 unused
	steps       []*stepStats
	cur         *stepStats
	outstanding int64 // answered deliveries not yet received, current step
	setupErrs   map[string]int64
	isIntended  func(rec *msgRec, device int) bool
	ignoreSelf  bool                    // a sender's own echo is neither counted nor an error
	iv          *hdrhistogram.Histogram // latencies since the last progress line
}

func newTracker(intended func(rec *msgRec, device int) bool) *tracker {
	return &tracker{recs: make([]msgRec, 1, 1<<16), setupErrs: map[string]int64{}, isIntended: intended, iv: newHist(secSig)}
}

// stepStats are the counters of one step (one rate).
type stepStats struct {
	rate      float64
	start     time.Time
	sendEnd   time.Time
	end       time.Time
	hist      *hdrhistogram.Histogram // send → receive
	sendHist  *hdrhistogram.Histogram // send → answer
	scheduled int64
	answered  int64
	failed    int64
	backlog   int64
	expected  int64
	delivered int64
	redeliv   int64
	twoSeqs   int64
	lost      int64
	lastRecv  time.Time
	errors    map[string]int64
	secs      []*second
}

type second struct {
	sent, answered, delivered, errors int64
	hist                              *hdrhistogram.Histogram
}

func (s *stepStats) sec(t time.Time) *second {
	i := max(int(t.Sub(s.start)/time.Second), 0)
	if i > 3600 {
		i = 3600
	}
	for len(s.secs) <= i {
		s.secs = append(s.secs, &second{hist: newHist(secSig)})
	}
	return s.secs[i]
}

// beginStep starts counting a new step.
func (t *tracker) beginStep(rate float64, start time.Time) *stepStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &stepStats{rate: rate, start: start, hist: newHist(histSig), sendHist: newHist(histSig), errors: map[string]int64{}}
	t.steps = append(t.steps, st)
	t.cur = st
	t.outstanding = 0
	return st
}

// newMessage records a send about to go out and returns its id.
func (t *tracker) newMessage(sender, dest, recipients int, at time.Time) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := uint64(len(t.recs))
	t.recs = append(t.recs, msgRec{step: int32(len(t.steps) - 1), sender: int32(sender), dest: int32(dest), recipients: int32(recipients), remaining: int32(recipients)})
	t.cur.scheduled++
	t.cur.sec(at).sent++
	return id
}

// backlogged counts a send that was due while -max-inflight sends were
// still unanswered: the open model does not wait for the server.
func (t *tracker) backlogged(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cur.scheduled++
	t.cur.backlog++
	t.cur.errors["backlog"]++
	t.cur.sec(at).errors++
}

// answered records a successful answer to a send.
func (t *tracker) answered(id uint64, conv string, seq int64, at, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := &t.recs[id]
	st := t.steps[r.step]
	if r.state != msgPending {
		return
	}
	r.state, r.conv, r.seq = msgAnswered, conv, seq
	if r.recvSeq != 0 && seq != 0 && r.recvSeq != seq && !r.twoSeqs {
		r.twoSeqs = true
		st.twoSeqs++
	}
	st.answered++
	st.expected += int64(r.recipients)
	st.sec(now).answered++
	record(st.sendHist, now.Sub(at))
	if st == t.cur {
		t.outstanding += int64(r.remaining)
	}
}

// failed records a send that got no successful answer.
func (t *tracker) failed(id uint64, kind string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := &t.recs[id]
	st := t.steps[r.step]
	if r.state == msgPending {
		r.state = msgFailed
		st.failed++
	}
	st.errors[kind]++
	st.sec(now).errors++
}

// storedTwice records a send seen under two seqs (once per send).
func (t *tracker) storedTwice(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id >= uint64(len(t.recs)) {
		return
	}
	r := &t.recs[id]
	if !r.twoSeqs {
		r.twoSeqs = true
		t.steps[r.step].twoSeqs++
	}
}

// redelivered records a (conv, seq) a device received again after it had
// acknowledged it.
func (t *tracker) redelivered(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id < uint64(len(t.recs)) {
		t.steps[t.recs[id].step].redeliv++
	}
}

// received records the first receipt of a message by a device.
func (t *tracker) received(id uint64, device int, conv string, seq int64, sentAt, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id >= uint64(len(t.recs)) || id == 0 {
		t.errorLocked("foreign_message", now)
		return
	}
	r := &t.recs[id]
	st := t.steps[r.step]
	if t.ignoreSelf && int(r.sender) == device {
		return
	}
	if !t.isIntended(r, device) {
		t.errorLocked("unexpected_recipient", now)
		return
	}
	if !st.end.IsZero() {
		// After the drain period: lost already counted it.
		st.errors["late_delivery"]++
		return
	}
	switch {
	case r.twoSeqs || seq == 0:
	case r.state == msgAnswered && (seq != r.seq || conv != r.conv),
		r.recvSeq != 0 && seq != r.recvSeq:
		r.twoSeqs = true
		st.twoSeqs++
	}
	if r.recvSeq == 0 {
		r.recvSeq = seq
	}
	r.remaining--
	if r.state == msgAnswered && st == t.cur {
		t.outstanding--
	}
	st.delivered++
	st.lastRecv = now
	lat := now.Sub(sentAt)
	record(st.hist, lat)
	sc := st.sec(now)
	sc.delivered++
	record(sc.hist, lat)
	record(t.iv, lat)
}

// error counts an error of the current step (or of setup before any).
func (t *tracker) error(kind string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errorLocked(kind, now)
}

func (t *tracker) errorLocked(kind string, now time.Time) {
	if t.cur == nil {
		t.setupErrs[kind]++
		return
	}
	t.cur.errors[kind]++
	t.cur.sec(now).errors++
}

func (t *tracker) pending() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.outstanding
}

// endStep closes the current step and counts what never arrived.
func (t *tracker) endStep(now time.Time) *stepStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.cur
	st.end = now
	idx := int32(len(t.steps) - 1)
	for i := range t.recs {
		r := &t.recs[i]
		if r.step == idx && r.state == msgAnswered && r.remaining > 0 {
			st.lost += int64(r.remaining)
		}
	}
	t.outstanding = 0
	return st
}

// snapshot is a consistent copy of the live counters, for the progress line.
type snapshot struct {
	step                                       int
	sent, answered, delivered, errors, backlog int64
	p99, p99All                                time.Duration // since the last snapshot, and in the step
}

func (t *tracker) snap() snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == nil {
		var e int64
		for _, n := range t.setupErrs {
			e += n
		}
		return snapshot{step: -1, errors: e}
	}
	st := t.cur
	s := snapshot{step: len(t.steps) - 1, sent: st.scheduled, answered: st.answered, delivered: st.delivered, backlog: st.backlog}
	for _, n := range st.errors {
		s.errors += n
	}
	s.p99All = time.Duration(st.hist.ValueAtQuantile(99)) * time.Microsecond
	s.p99 = time.Duration(t.iv.ValueAtQuantile(99)) * time.Microsecond
	t.iv.Reset()
	return s
}
