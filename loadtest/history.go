package main

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// HistoryResult is what -check-history found: after the last step, every
// conversation that had an answered send is paged back to its first
// message, as its sender, and every answered message must be there once.
// It proves the kept history (Redis's window, then SQL) as the delivery
// counts prove the delivery.
type HistoryResult struct {
	Conversations int64   `json:"conversations"`
	Answered      int64   `json:"answered"`   // messages answered 201/200
	Found         int64   `json:"found"`      // of those, in history
	Lost          int64   `json:"lost"`       // answered, not in history
	Duplicated    int64   `json:"duplicated"` // extra copies of an answered message
	Errors        int64   `json:"errors"`     // failed history requests
	Seconds       float64 `json:"seconds"`
}

// historyPage is GET /api/conversations/{conv}/messages.
type historyPage struct {
	Messages []wMessage `json:"messages"`
	HasMore  bool       `json:"has_more"`
}

// historyPageSize is the largest page the API gives.
const historyPageSize = 100

// checkHistory pages back through each conversation's history.
func (e *engine) checkHistory(ctx context.Context) *HistoryResult {
	start := time.Now()
	type convCheck struct {
		conv   string
		reader *user
		want   map[uint64]int // message id → copies found
	}
	e.tr.mu.Lock()
	byConv := map[string]*convCheck{}
	var answered int64
	for id := 1; id < len(e.tr.recs); id++ {
		r := &e.tr.recs[id]
		if r.state != msgAnswered || r.conv == "" {
			continue
		}
		c := byConv[r.conv]
		if c == nil {
			c = &convCheck{conv: r.conv, reader: e.users[r.sender], want: map[uint64]int{}}
			byConv[r.conv] = c
		}
		c.want[uint64(id)] = 0
		answered++
	}
	e.tr.mu.Unlock()
	convs := make([]*convCheck, 0, len(byConv))
	for _, c := range byConv {
		convs = append(convs, c)
	}
	res := &HistoryResult{Conversations: int64(len(convs)), Answered: answered}
	var errs atomic.Int64
	var mu sync.Mutex
	e.parallel(ctx, len(convs), func(ctx context.Context, i int) error {
		c := convs[i]
		before := int64(0)
		for {
			path := fmt.Sprintf("%s/api/conversations/%s/messages?limit=%d", c.reader.base, url.PathEscape(c.conv), historyPageSize)
			if before > 0 {
				path += fmt.Sprintf("&before=%d", before)
			}
			var p historyPage
			if _, err := doJSON(ctx, e.sendHC, "GET", path, c.reader.cookie, nil, &p, 200); err != nil {
				errs.Add(1)
				return nil // counted; the conversation's unfound messages count as lost
			}
			mu.Lock()
			for _, m := range p.Messages {
				if id, _, ok := parseBody(m.Body); ok {
					if n, mine := c.want[id]; mine {
						c.want[id] = n + 1
					}
				}
			}
			mu.Unlock()
			if !p.HasMore || len(p.Messages) == 0 {
				return nil
			}
			before = p.Messages[0].Seq
		}
	})
	for _, c := range convs {
		for _, n := range c.want {
			switch {
			case n == 0:
				res.Lost++
			default:
				res.Found++
				res.Duplicated += int64(n - 1)
			}
		}
	}
	res.Errors = errs.Load()
	res.Seconds = time.Since(start).Seconds()
	return res
}

// mergeHistory adds up the processes' checks; nil if none checked.
func mergeHistory(parts []*Result) *HistoryResult {
	var m *HistoryResult
	for _, p := range parts {
		h := p.History
		if h == nil {
			continue
		}
		if m == nil {
			m = &HistoryResult{}
		}
		m.Conversations += h.Conversations
		m.Answered += h.Answered
		m.Found += h.Found
		m.Lost += h.Lost
		m.Duplicated += h.Duplicated
		m.Errors += h.Errors
		m.Seconds = max(m.Seconds, h.Seconds)
	}
	return m
}
