package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"webchat/store/plane"
)

// waitingPoll is a poll waiting on this node, known so that a drain can
// wake it: in Redis (BLMOVE) by a marker, or on the node's wake-up
// subscription (waiter set) directly.
type waitingPoll struct {
	ref    plane.DeviceRef
	waiter *plane.Waiter
}

// parseTimeout reads the poll's wait (the timeout parameter, v): whole
// seconds, default POLL_TIMEOUT, 0 answers at once, above the maximum is
// taken as the maximum.
func (s *Server) parseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return s.o.PollTimeout, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, badRequest("invalid_query", "Poll timeout must be a whole number of seconds")
	}
	return min(time.Duration(n)*time.Second, s.o.MaxPollTimeout), nil
}

// pollQuery returns the poll's two parameters from its raw query as
// r.URL.Query().Get would (the first well-formed pair of each name wins;
// a pair with a bad escape or a semicolon is ignored), without building
// the map of every parameter that Query allocates on each poll.
func pollQuery(raw string) (timeout, cursor string) {
	var haveTimeout, haveCursor bool
	for raw != "" && !(haveTimeout && haveCursor) {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := queryUnescape(k)
		if err != nil || !(k == "timeout" && !haveTimeout || k == "cursor" && !haveCursor) {
			continue
		}
		if v, err = queryUnescape(v); err != nil {
			continue
		}
		if k == "timeout" {
			timeout, haveTimeout = v, true
		} else {
			cursor, haveCursor = v, true
		}
	}
	return timeout, cursor
}

// queryUnescape is url.QueryUnescape, which it calls only when s holds
// something to unescape.
func queryUnescape(s string) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// formatCursor and parseCursor: the cursor is opaque to clients; it names
// the device and the highest event id the client has.
func formatCursor(dev string, id int64) string { return dev + "-" + itoa(id) }

func parseCursor(c, dev string) (int64, error) {
	if c == "" {
		return -1, nil
	}
	i := strings.LastIndexByte(c, '-')
	if i < 0 || c[:i] != dev {
		return 0, errInvalidCursor
	}
	num := c[i+1:]
	if num == "" || len(num) > 19 || (len(num) > 1 && num[0] == '0') || strings.TrimLeft(num, "0123456789") != "" {
		return 0, errInvalidCursor
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, errInvalidCursor
	}
	return n, nil
}

func (s *Server) handlePoll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		me := currentSession(ctx)
		qTimeout, qCursor := pollQuery(r.URL.RawQuery)
		timeout, err := s.parseTimeout(qTimeout)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		cursor, err := parseCursor(qCursor, me.device)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		deadline := time.Now().Add(timeout)
		// The server's WriteTimeout is shorter than the longest poll.
		http.NewResponseController(w).SetWriteDeadline(deadline.Add(15 * time.Second))

		mode := plane.PollStart
		if timeout == 0 {
			mode = plane.PollNow
		}
		// With a wake-up subscription, the waiter is entered before any step
		// can mark the poll waiting, so no wake-up comes before it.
		var wt *plane.Waiter
		node := s.o.Wakeups.Node()
		if s.o.Wakeups != nil && timeout > 0 {
			wt = s.o.Wakeups.Register(me.user, me.device)
			defer s.o.Wakeups.Unregister(wt)
		}
		step := mode // the mode of the last step
		refused := false
		st, err := s.plane.Poll(ctx, me.user, me.device, cursor, 0, step, node)
		for {
			if err != nil {
				s.answerPoll(w, r, "error", nil, err)
				return
			}
			switch st.Outcome {
			case plane.PollEvents:
				s.answerEvents(w, r, me.device, st.Events)
				return
			case plane.PollResync:
				// The device was entered afresh. If the session ended
				// meanwhile (a log-out racing this poll, or one that this
				// node's session cache has not heard of yet), take the
				// device out again: nothing may collect its events.
				if xerr := s.liveSession(ctx, me); xerr != nil {
					s.answerPoll(w, r, "error", nil, xerr)
					return
				}
				s.answerPoll(w, r, "resync", pollBody(nil, formatCursor(me.device, st.EventID), true), nil)
				return
			case plane.PollBadCursor:
				s.answerPoll(w, r, "error", nil, errInvalidCursor)
				return
			case plane.PollSuperseded:
				s.answerPoll(w, r, "superseded", nil, errSuperseded)
				return
			case plane.PollGone:
				// Logged out (401), or dropped while waiting: enter afresh.
				if xerr := s.sessionInRedis(ctx, me.token); xerr != nil {
					s.answerPoll(w, r, "error", nil, xerr)
					return
				}
				step = mode
				st, err = s.plane.Poll(ctx, me.user, me.device, -1, 0, step, node)
				continue
			}
			// Empty: wait for the inbox, in slices.
			remaining := time.Until(deadline)
			if timeout > 0 && remaining > 0 && s.o.MaxPolls > 0 && s.nPolls.Load() >= int64(s.o.MaxPolls) {
				refused = true // and stays so: the node is too full to wait on
			}
			if remaining <= 0 || timeout == 0 || refused || step == plane.PollFinal {
				// Not waiting (again). A step that may wait (start,
				// check) marked the poll waiting in pollgen: a final step
				// takes the mark away, or the next delivery or newer poll
				// would wake a poll that is gone. It also takes what came
				// meanwhile. After it the poll answers, never waits:
				// unmarked, nothing would wake it.
				if step == plane.PollStart || step == plane.PollCheck {
					step = plane.PollFinal
					st, err = s.plane.Poll(ctx, me.user, me.device, cursor, st.Gen, step, node)
					continue
				}
				if refused {
					s.answerPoll(w, r, "error", nil, errTooManyPolls)
					return
				}
				s.answerPoll(w, r, "timeout", pollBody(nil, formatCursor(me.device, st.EventID), false), nil)
				return
			}
			if wt != nil {
				wt.Waiting(st.Gen)
			}
			werr := s.wait(r, me, wt, min(remaining, s.o.PollSlice))
			if ctx.Err() != nil {
				// Abandoned: whatever the wait moved stays in flight for the
				// next poll.
				s.metrics.polls.WithLabelValues("cancelled").Inc()
				return
			}
			if s.draining.Load() {
				w.Header().Set("Connection", "close")
				s.answerPoll(w, r, "drained", pollBody(nil, formatCursor(me.device, st.EventID), false), nil)
				return
			}
			if werr != nil {
				s.answerPoll(w, r, "error", nil, werr)
				return
			}
			if wt != nil {
				// Events a delivery put into flight for this poll came with
				// the wake-up: no step needed.
				if evs := wt.Events(); len(evs) > 0 {
					s.answerEvents(w, r, me.device, evs)
					return
				}
			}
			step = plane.PollCheck
			if time.Until(deadline) <= 0 {
				step = plane.PollFinal
			}
			st, err = s.plane.Poll(ctx, me.user, me.device, cursor, st.Gen, step, node)
		}
	})
}

// liveSession checks in Redis, not in the session cache, that the
// session still exists; if not, it removes the device (which a poll may
// just have entered again) and answers errUnauthorized.
func (s *Server) liveSession(ctx context.Context, me caller) error {
	err := s.sessionInRedis(ctx, me.token)
	if err == errUnauthorized {
		if uerr := s.plane.UnregisterDevice(ctx, me.user, me.device); uerr != nil {
			return uerr
		}
	}
	return err
}

// wait waits one slice for the device's inbox, registered for drain and
// counted: on the node's wake-up subscription when wt is set, else in
// Redis (BLMOVE).
func (s *Server) wait(r *http.Request, me caller, wt *plane.Waiter, d time.Duration) error {
	p := &waitingPoll{ref: plane.DeviceRef{User: me.user, Device: me.device}, waiter: wt}
	s.pollsMu.Lock()
	s.polls[p] = struct{}{}
	s.pollsMu.Unlock()
	s.nPolls.Add(1)
	defer func() {
		s.pollsMu.Lock()
		delete(s.polls, p)
		s.pollsMu.Unlock()
		s.nPolls.Add(-1)
	}()
	if s.draining.Load() {
		return nil
	}
	if wt != nil {
		// A hang-up needs nothing in Redis: the waiter is forgotten.
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-wt.C:
		case <-t.C:
		case <-r.Context().Done():
		}
		return nil
	}
	// go-redis does not interrupt BLMOVE when the client hangs up, so a
	// hang-up pushes a wake marker: the abandoned wait ends at once instead
	// of at the end of its slice, and takes no event meant for the next
	// poll. Slices stay as the safety net should the marker be lost.
	stop := context.AfterFunc(r.Context(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.plane.Wake(ctx, []plane.DeviceRef{p.ref})
	})
	defer stop()
	if r.Context().Err() != nil {
		return nil
	}
	// Not the request's context: a cancelled context abandons go-redis's
	// connection wait but not its dial, whose connection then lands in the
	// idle pool past MaxIdleConns. The marker above ends this wait anyway.
	_, err := s.plane.Wait(context.WithoutCancel(r.Context()), me.user, me.device, d)
	return err
}

func (s *Server) answerEvents(w http.ResponseWriter, r *http.Request, dev string, events []string) {
	now := time.Now().UnixMilli()
	for _, ev := range events {
		if ts := messageTS(ev); ts > 0 {
			s.metrics.latency.Observe(float64(max(now-ts, 0)) / 1000)
		}
	}
	last := plane.EventID(events[len(events)-1])
	s.answerPoll(w, r, "events", pollBody(events, formatCursor(dev, last), false), nil)
}

// pollBody builds the answer from events as Redis holds them, without
// decoding and re-encoding them.
func pollBody(events []string, cursor string, resync bool) []byte {
	n := 48 + len(cursor)
	for _, e := range events {
		n += len(e) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	b = append(b, `],"cursor":"`...)
	b = append(b, cursor...)
	b = append(b, '"')
	if resync {
		b = append(b, `,"resync":true`...)
	}
	return append(b, '}')
}

func (s *Server) answerPoll(w http.ResponseWriter, r *http.Request, outcome string, body []byte, err error) {
	if outcome == "error" && errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		outcome = "cancelled" // the client hung up: writeError answers nothing
	}
	s.metrics.polls.WithLabelValues(outcome).Inc()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, body)
}

// messageTS reads the ts of a message event without decoding it: a body
// is JSON-escaped, so `,"ts":` can only be the message's own field.
func messageTS(ev string) int64 {
	if !strings.Contains(ev, `"type":"message"`) {
		return 0
	}
	i := strings.LastIndex(ev, `,"ts":`)
	if i < 0 {
		return 0
	}
	j := i + len(`,"ts":`)
	k := j
	for k < len(ev) && ev[k] >= '0' && ev[k] <= '9' {
		k++
	}
	n, _ := strconv.ParseInt(ev[j:k], 10, 64)
	return n
}
