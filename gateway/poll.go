package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"webchat/store/plane"
)

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

// formatCursor and parseCursor: the cursor is opaque to clients; it names
// the device, the epoch of Redis's data (plane.Epoch) and the highest
// event id the client has: "<device>-<epoch>-<id>".
func formatCursor(dev, epoch string, id int64) string { return dev + "-" + epoch + "-" + itoa(id) }

// parseCursor returns the cursor's device, epoch and event id (-1: none).
// A cursor from before epochs ("<device>-<id>") has epoch "", which is
// never the current one. Anything not of these forms is errInvalidCursor.
func parseCursor(c string) (dev, epoch string, id int64, err error) {
	if c == "" {
		return "", "", -1, nil
	}
	parts := strings.Split(c, "-")
	switch len(parts) {
	case 2:
		dev = parts[0]
	case 3:
		dev, epoch = parts[0], parts[1]
		if epoch == "" || len(epoch) > 16 || strings.Trim(epoch, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
			return "", "", 0, errInvalidCursor
		}
	default:
		return "", "", 0, errInvalidCursor
	}
	num := parts[len(parts)-1]
	if dev == "" || num == "" || len(num) > 19 || (len(num) > 1 && num[0] == '0') || strings.TrimLeft(num, "0123456789") != "" {
		return "", "", 0, errInvalidCursor
	}
	if id, err = strconv.ParseInt(num, 10, 64); err != nil {
		return "", "", 0, errInvalidCursor
	}
	return dev, epoch, id, nil
}

func (s *Server) handlePoll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		me := currentSession(ctx)
		q := r.URL.Query()
		qTimeout, qCursor := q.Get("timeout"), q.Get("cursor")
		timeout, err := s.parseTimeout(qTimeout)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		cursorDev, cursorEpoch, cursor, err := parseCursor(qCursor)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		epoch, err := s.plane.Epoch(ctx)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		// A cursor of an earlier epoch answers resync, whatever its device
		// (after Redis lost its data everyone logs in again, on a new
		// device); one of now must be this device's.
		stale := qCursor != "" && cursorEpoch != epoch
		if qCursor != "" && !stale && cursorDev != me.device {
			s.writeError(w, r, errInvalidCursor)
			return
		}
		// The server's WriteTimeout is shorter than the longest poll.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + 15*time.Second))
		ans, err := s.poller.Next(ctx, plane.PollQuery{User: me.user, Device: me.device, Token: me.token, Cursor: cursor, Timeout: timeout,
			Stale: stale})
		if err != nil {
			s.answerPoll(w, r, "error", nil, err)
			return
		}
		switch ans.Outcome {
		case plane.PollEvents:
			s.answerEvents(w, r, me.device, epoch, ans.Events)
		case plane.PollResync:
			// A device entered afresh may be the first sign of a Redis
			// that lost its data: the cursor carries the epoch of now.
			s.plane.ForgetEpoch()
			if e, err := s.plane.Epoch(ctx); err == nil {
				epoch = e
			}
			s.answerPoll(w, r, "resync", pollBody(nil, formatCursor(me.device, epoch, ans.EventID), true), nil)
		case plane.PollBadCursor:
			s.answerPoll(w, r, "error", nil, errInvalidCursor)
		case plane.PollSuperseded:
			s.answerPoll(w, r, "superseded", nil, errSuperseded)
		case plane.PollLoggedOut:
			s.answerPoll(w, r, "error", nil, errUnauthorized)
		case plane.PollRefused:
			s.answerPoll(w, r, "error", nil, errTooManyPolls)
		case plane.PollCancelled:
			// Abandoned: whatever the poll moved stays in flight for the next.
			s.metrics.polls.WithLabelValues("cancelled").Inc()
		case plane.PollDrained:
			w.Header().Set("Connection", "close")
			s.answerPoll(w, r, "drained", pollBody(nil, formatCursor(me.device, epoch, ans.EventID), false), nil)
		default: // PollEmpty: the timeout
			s.answerPoll(w, r, "timeout", pollBody(nil, formatCursor(me.device, epoch, ans.EventID), false), nil)
		}
	})
}

func (s *Server) answerEvents(w http.ResponseWriter, r *http.Request, dev, epoch string, events []string) {
	now := time.Now().UnixMilli()
	for _, ev := range events {
		if ts := messageTS(ev); ts > 0 {
			s.metrics.latency.Observe(float64(max(now-ts, 0)) / 1000)
		}
	}
	last := plane.EventID(events[len(events)-1])
	// The cursor acknowledges what was dropped too.
	s.answerPoll(w, r, "events", pollBody(dropExpired(events), formatCursor(dev, epoch, last), false), nil)
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
