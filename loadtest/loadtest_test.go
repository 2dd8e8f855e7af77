package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBodyRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	b := makeBody(42, at, 64)
	if len(b) != 64 {
		t.Fatalf("body is %d bytes, want 64", len(b))
	}
	id, got, ok := parseBody(b)
	if !ok || id != 42 || !got.Equal(at) {
		t.Fatalf("parseBody(%q) = %d, %v, %v", b, id, got, ok)
	}
	for _, bad := range []string{"", "hello", "lt:", "lt:x:1:", "lt:0:1:", "lt:1:", "lt:1:2"} {
		if _, _, ok := parseBody(bad); ok {
			t.Errorf("parseBody(%q) accepted", bad)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80/"} {
		if _, err := loopbackURL(u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1:8080", "http://8.8.8.8", "https://127.0.0.1", "127.0.0.1:80", "http://"} {
		if _, err := loopbackURL(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestMultipartBoundary(t *testing.T) {
	for ct, want := range map[string]string{
		"multipart/mixed; boundary=fQWNGBbVrqm8Tsy6v/XiOdSOp04rw8ic": "fQWNGBbVrqm8Tsy6v/XiOdSOp04rw8ic", // Nchan's, unquoted '/'
		`multipart/mixed; boundary="abc"`:                            "abc",
	} {
		if got, ok := multipartBoundary(ct); !ok || got != want {
			t.Errorf("multipartBoundary(%q) = %q, %v", ct, got, ok)
		}
	}
	if _, ok := multipartBoundary("text/plain"); ok {
		t.Error("text/plain taken as multipart")
	}
}

// TestTrackerAccounting checks the definitions: lost is answered but never
// received by an intended device; duplicated is a repeat after the
// acknowledgement, or one send under two seqs.
func TestTrackerAccounting(t *testing.T) {
	now := time.Now()
	tr := newTracker(func(r *msgRec, dev int) bool { return int(r.dest) == dev })
	tr.beginStep(10, now)
	a := tr.newMessage(0, 1, 1, now) // delivered once
	b := tr.newMessage(0, 2, 1, now) // answered, never delivered: lost
	c := tr.newMessage(0, 1, 1, now) // failed: not lost
	d := tr.newMessage(0, 1, 1, now) // delivered before its answer, under another seq
	tr.answered(a, "d1-2", 1, now, now)
	tr.received(a, 1, "d1-2", 1, now, now)
	tr.answered(b, "d1-3", 1, now, now)
	tr.failed(c, "send_http_503", now)
	tr.received(d, 1, "d1-2", 7, now, now)
	tr.answered(d, "d1-2", 3, now, now)
	tr.redelivered(a)
	tr.received(a, 3, "d1-2", 1, now, now) // not an intended device
	if p := tr.pending(); p != 1 {
		t.Errorf("pending = %d, want 1 (b)", p)
	}
	st := tr.endStep(now)
	if st.lost != 1 || st.redeliv != 1 || st.twoSeqs != 1 || st.failed != 1 || st.delivered != 2 || st.expected != 3 {
		t.Errorf("lost %d redelivered %d stored twice %d failed %d delivered %d expected %d",
			st.lost, st.redeliv, st.twoSeqs, st.failed, st.delivered, st.expected)
	}
	if st.errors["unexpected_recipient"] != 1 || st.errors["send_http_503"] != 1 {
		t.Errorf("errors = %v", st.errors)
	}
	tr.received(b, 2, "d1-3", 1, now, now.Add(time.Minute))
	if st.errors["late_delivery"] != 1 || st.lost != 1 {
		t.Errorf("a delivery after the drain: errors %v, lost %d", st.errors, st.lost)
	}
}

// fakeChat is a small in-memory webchat (the API subset the generator
// uses) that can lose and repeat messages on purpose.
type fakeChat struct {
	mu      sync.Mutex
	users   map[string]int64 // username → id
	friends map[[2]int64]bool
	reqs    map[int64][2]int64
	seq     map[string]int64
	inbox   map[int64][]string // events, oldest first
	evid    map[int64]int64
	wake    map[int64]chan struct{}
	sends   int
	drop    int // drop the delivery of this send (1-based), once
	repeat  int // deliver this send twice, the second after the first is acknowledged
	repeatQ map[int64]string
	// history per conversation, oldest first; histDrop leaves that send
	// (1-based) out of it, histDup keeps that one twice (another seq)
	hist              map[string][]string
	histDrop, histDup int
}

func newFakeChat() *fakeChat {
	return &fakeChat{users: map[string]int64{}, friends: map[[2]int64]bool{}, reqs: map[int64][2]int64{}, seq: map[string]int64{},
		inbox: map[int64][]string{}, evid: map[int64]int64{}, wake: map[int64]chan struct{}{}, repeatQ: map[int64]string{},
		hist: map[string][]string{}}
}

func (f *fakeChat) push(u int64, payload string) {
	f.evid[u]++
	f.inbox[u] = append(f.inbox[u], fmt.Sprintf(`{"id":%d,%s`, f.evid[u], payload[1:]))
	if ch, ok := f.wake[u]; ok {
		close(ch)
		delete(f.wake, u)
	}
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	json.Unmarshal(body, &in)
	me, _ := strconv.ParseInt(strings.TrimPrefix(r.Header.Get("Cookie"), "s="), 10, 64)
	reply := func(status int, v string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, v)
	}
	f.mu.Lock()
	switch {
	case r.URL.Path == "/api/signup":
		id := int64(len(f.users) + 1)
		name := in["username"].(string)
		f.users[name] = id
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "s", Value: strconv.FormatInt(id, 10)})
		reply(201, fmt.Sprintf(`{"user":{"id":%d,"username":%q,"display_name":"x"}}`, id, name))
	case r.URL.Path == "/api/friend-requests":
		to := f.users[in["username"].(string)]
		id := int64(len(f.reqs) + 1)
		f.reqs[id] = [2]int64{me, to}
		f.mu.Unlock()
		reply(201, fmt.Sprintf(`{"request":{"id":%d}}`, id))
	case strings.HasSuffix(r.URL.Path, "/accept"):
		id, _ := strconv.ParseInt(strings.Split(r.URL.Path, "/")[3], 10, 64)
		p := f.reqs[id]
		f.friends[[2]int64{min(p[0], p[1]), max(p[0], p[1])}] = true
		f.push(p[0], `{"type":"friend_added","friend":{}}`)
		f.mu.Unlock()
		reply(200, fmt.Sprintf(`{"friend":{"id":%d}}`, p[0]))
	case r.URL.Path == "/api/messages":
		to := int64(in["to"].(float64))
		conv := fmt.Sprintf("d%d-%d", min(me, to), max(me, to))
		f.seq[conv]++
		f.sends++
		msg := fmt.Sprintf(`{"conv":%q,"seq":%d,"from":%d,"to":%d,"type":"single","body":%q,"ts":1}`, conv, f.seq[conv], me, to, in["body"])
		if f.sends != f.histDrop {
			f.hist[conv] = append(f.hist[conv], msg)
		}
		if f.sends == f.histDup {
			f.seq[conv]++
			f.hist[conv] = append(f.hist[conv], strings.Replace(msg, fmt.Sprintf(`"seq":%d`, f.seq[conv]-1), fmt.Sprintf(`"seq":%d`, f.seq[conv]), 1))
		}
		switch f.sends {
		case f.drop:
		case f.repeat:
			f.push(to, `{"type":"message","message":`+msg+`}`)
			f.repeatQ[to] = `{"type":"message","message":` + msg + `}`
		default:
			f.push(to, `{"type":"message","message":`+msg+`}`)
		}
		f.mu.Unlock()
		reply(201, `{"message":`+msg+`}`)
	case strings.HasPrefix(r.URL.Path, "/api/conversations/") && strings.HasSuffix(r.URL.Path, "/messages"):
		// Pages of 3 at most, oldest first, seq below before.
		conv := strings.Split(r.URL.Path, "/")[3]
		before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
		var below []string
		for _, m := range f.hist[conv] {
			var x struct{ Seq int64 }
			json.Unmarshal([]byte(m), &x)
			if before == 0 || x.Seq < before {
				below = append(below, m)
			}
		}
		begin := max(len(below)-3, 0)
		f.mu.Unlock()
		reply(200, fmt.Sprintf(`{"messages":[%s],"has_more":%t}`, strings.Join(below[begin:], ","), begin > 0))
	case r.URL.Path == "/api/poll":
		cursor, _ := strconv.ParseInt(r.URL.Query().Get("cursor"), 10, 64)
		timeout, _ := strconv.Atoi(r.URL.Query().Get("timeout"))
		// Acknowledge, then answer what waits; a queued repeat comes back
		// once its first copy is acknowledged.
		keep := f.inbox[me][:0]
		for _, ev := range f.inbox[me] {
			var e struct{ ID int64 }
			json.Unmarshal([]byte(ev), &e)
			if e.ID > cursor {
				keep = append(keep, ev)
			}
		}
		f.inbox[me] = keep
		if rq, ok := f.repeatQ[me]; ok && len(keep) == 0 && cursor > 0 {
			delete(f.repeatQ, me)
			f.push(me, rq)
		}
		deadline := time.After(time.Duration(timeout) * time.Second)
		for len(f.inbox[me]) == 0 && timeout > 0 {
			ch := make(chan struct{})
			f.wake[me] = ch
			f.mu.Unlock()
			select {
			case <-ch:
			case <-deadline:
			case <-r.Context().Done():
			}
			f.mu.Lock()
			if r.Context().Err() != nil {
				break
			}
			select {
			case <-deadline:
				timeout = 0
			default:
			}
		}
		evs := f.inbox[me]
		last := cursor
		if len(evs) > 0 {
			var e struct{ ID int64 }
			json.Unmarshal([]byte(evs[len(evs)-1]), &e)
			last = e.ID
		}
		out := fmt.Sprintf(`{"events":[%s],"cursor":"%d"}`, strings.Join(evs, ","), max(last, 0))
		f.mu.Unlock()
		reply(200, out)
	default:
		f.mu.Unlock()
		reply(404, `{"error":{"code":"not_found","message":"no"}}`)
	}
}

// TestHistoryCheckCounts runs the generator with -check-history against
// the fake server, whose history misses one answered message and holds
// another twice, and expects exactly those.
func TestHistoryCheckCounts(t *testing.T) {
	fc := newFakeChat()
	fc.histDrop, fc.histDup = 7, 12
	srv := httptest.NewServer(fc)
	defer srv.Close()
	cfg, err := parseFlags([]string{"-url", srv.URL, "-users", "6", "-rate", "40", "-duration", "1s", "-drain", "2s", "-poll-timeout", "2", "-q",
		"-check-history", "-history-wait", "10ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := runLoad(ctx, cfg, newLocalCoord(cfg, io.Discard), newProgress(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	h := res.History
	if h == nil || h.Answered != 40 || h.Lost != 1 || h.Duplicated != 1 || h.Found != 39 || h.Errors != 0 || h.Conversations == 0 {
		t.Fatalf("history check %+v, want 40 answered, 39 found, 1 lost, 1 duplicated", h)
	}
	var sb strings.Builder
	printTable(&sb, res)
	if !strings.Contains(sb.String(), "history:") {
		t.Errorf("table:\n%s", sb.String())
	}
}

// TestEndToEndAccounting runs the real generator against the fake server
// with one lost and one repeated message and expects exactly those.
func TestEndToEndAccounting(t *testing.T) {
	fc := newFakeChat()
	fc.drop, fc.repeat = 5, 9
	srv := httptest.NewServer(fc)
	defer srv.Close()
	cfg, err := parseFlags([]string{"-url", srv.URL, "-users", "6", "-rate", "40", "-duration", "1s", "-drain", "2s", "-poll-timeout", "2", "-q"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := runLoad(ctx, cfg, newLocalCoord(cfg, io.Discard), newProgress(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Steps[0]
	if s.Sent != 40 || s.Lost != 1 || s.Redelivered != 1 || s.StoredTwice != 0 || s.Delivered != 39 {
		t.Errorf("sent %d delivered %d lost %d redelivered %d stored twice %d; want 40 39 1 1 0 (errors %v)",
			s.Sent, s.Delivered, s.Lost, s.Redelivered, s.StoredTwice, s.Errors)
	}
	if s.Latency.Count != 39 || s.Latency.Max <= 0 {
		t.Errorf("latency = %+v", s.Latency)
	}
	var sb strings.Builder
	printTable(&sb, res)
	if !strings.Contains(sb.String(), "lost") {
		t.Errorf("table:\n%s", sb.String())
	}
}
