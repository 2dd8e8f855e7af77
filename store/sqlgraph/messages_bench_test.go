package sqlgraph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"webchat/store"
	"webchat/store/sqlgraph"
	"webchat/store/storetest"
)

// BenchmarkSearch: a search over 100,000 archived messages in 100
// conversations, of which the reader may read a tenth, on each engine: a
// two-character CJK query (below the trigram index's three, so a scan)
// and a longer Latin one (the index).
func BenchmarkSearch(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			g := e.NewGraph(b)
			ctx := b.Context()
			var users []store.User
			for i := range 20 {
				u, err := g.CreateUser(ctx, fmt.Sprint("u", i), "U", []byte("h"))
				if err != nil {
					b.Fatal(err)
				}
				users = append(users, u)
			}
			words := []string{"hello", "world", "你好", "大家", "早上好", "meeting", "lunch", "明天", "see", "you"}
			r := rand.New(rand.NewPCG(1, 2))
			const total, convs = 100_000, 100
			batch := make([]store.Message, 0, 1000)
			seq := map[string]int64{}
			for i := range total {
				a, c := users[i%convs/10], users[10+i%10] // 10 × 10 pairs
				conv := store.DirectConv(a.ID, c.ID).String()
				seq[conv]++
				body := ""
				for range 6 {
					body += words[r.IntN(len(words))] + " "
				}
				batch = append(batch, store.Message{Conv: conv, Seq: seq[conv], From: a.ID, To: int64(c.ID), Type: store.TypeSingle, Body: body, TS: int64(1_000_000 + i)})
				if len(batch) == cap(batch) {
					if _, err := g.Archive(ctx, batch, nil); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			for _, q := range []string{"你好", "lunch see"} {
				b.Run(q, func(b *testing.B) {
					for b.Loop() {
						ms, err := g.Search(ctx, sqlgraph.SearchQuery{User: users[0].ID, Text: q, Limit: 20})
						if err != nil || len(ms) == 0 {
							b.Fatalf("%d hits: %v", len(ms), err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkArchiveBatch: one archiver batch as at 1,650 messages/s with
// ARCHIVE_DELAY 1 s (825 messages in half a second, over the 1,000
// conversations of 1,000 users in a ring, as the load generator pairs
// them), alone and with the read markers of the 10% of users who read what
// they get (about 83 a batch), on each engine. Per batch; each case on a
// database of its own, so that neither runs on the other's rows.
func BenchmarkArchiveBatch(b *testing.B) {
	for _, e := range storetest.Engines() {
		for _, markers := range []bool{false, true} {
			name := e.Name + "/messages"
			if markers {
				name += "+markers"
			}
			b.Run(name, func(b *testing.B) {
				g := e.NewGraph(b)
				ctx := b.Context()
				const users, perBatch = 1000, 825
				var ids []store.UserID
				for i := range users {
					u, err := g.CreateUser(ctx, fmt.Sprint("u", i), "U", []byte("h"))
					if err != nil {
						b.Fatal(err)
					}
					ids = append(ids, u.ID)
				}
				seq := map[string]int64{}
				r := rand.New(rand.NewPCG(1, 2))
				for b.Loop() {
					b.StopTimer()
					msgs := make([]store.Message, 0, perBatch)
					var reads []store.ReadMarker
					for i := range perBatch {
						a := r.IntN(users)
						to := ids[(a+1)%users]
						conv := store.DirectConv(ids[a], to).String()
						seq[conv]++
						msgs = append(msgs, store.Message{Conv: conv, Seq: seq[conv], From: ids[a], To: int64(to), Type: store.TypeSingle, Body: "a message of about the loadtest's size", TS: int64(1_000_000 + i)})
						if markers && (a+1)%10 == 0 { // the recipient is one of the readers
							reads = append(reads, store.ReadMarker{User: to, Conv: conv, Seq: seq[conv]})
						}
					}
					b.StartTimer()
					if _, err := g.Archive(ctx, msgs, reads); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
