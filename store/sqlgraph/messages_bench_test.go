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
// ARCHIVE_DELAY 1 s (825 messages in half a second over 500 conversations
// of 1,000 users), alone and with the read markers of 10% of the users
// reading what they get (83 markers), on each engine. Per batch.
func BenchmarkArchiveBatch(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			g := e.NewGraph(b)
			ctx := b.Context()
			const users, perBatch, readers = 1000, 825, 83
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
			batch := func(markers bool) ([]store.Message, []store.ReadMarker) {
				msgs := make([]store.Message, 0, perBatch)
				var reads []store.ReadMarker
				for i := range perBatch {
					a := r.IntN(users)
					to := ids[(a+1)%users]
					conv := store.DirectConv(ids[a], to).String()
					seq[conv]++
					msgs = append(msgs, store.Message{Conv: conv, Seq: seq[conv], From: ids[a], To: int64(to), Type: store.TypeSingle, Body: "a message of about the loadtest's size", TS: int64(1_000_000 + i)})
					if markers && len(reads) < readers && a%10 == 0 {
						reads = append(reads, store.ReadMarker{User: to, Conv: conv, Seq: seq[conv]})
					}
				}
				return msgs, reads
			}
			for _, markers := range []bool{false, true} {
				name := "messages"
				if markers {
					name = "messages+markers"
				}
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						b.StopTimer()
						msgs, reads := batch(markers)
						b.StartTimer()
						if _, err := g.Archive(ctx, msgs, reads); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
