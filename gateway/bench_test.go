package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Benchmarks and round-trip counts of the HTTP hot paths — a send, a poll
// that answers events, an empty poll — through the whole handler chain
// (session load, JSON, plane) against a real redis-server. The harness is
// self-contained (names prefixed rt/bench) so it does not lean on the
// other tests' helpers.

// BenchmarkHTTPSend is a 1:1 send through the whole handler chain.
func BenchmarkHTTPSend(b *testing.B) {
	n, a, bob := rtPair(b)
	t0 := n.hook.total.Load()
	i := 0
	for b.Loop() {
		a.send(b, bob, "benchmark message body of a realistic length, 64 bytes long....", fmt.Sprint("b", i), nil)
		i++
	}
	b.ReportMetric(float64(n.hook.total.Load()-t0)/float64(i), "roundtrips/op")
}

// BenchmarkHTTPPollEvents is a poll that answers one waiting message
// (sent outside the timer) and acknowledges the previous answer.
func BenchmarkHTTPPollEvents(b *testing.B) {
	n, a, bob := rtPair(b)
	var trips int64
	i := 0
	for b.Loop() {
		b.StopTimer()
		a.send(b, bob, "benchmark message body of a realistic length, 64 bytes long....", fmt.Sprint("p", i), nil)
		t0 := n.hook.total.Load()
		b.StartTimer()
		if got := bob.poll(b, 0, nil); len(got.Events) != 1 {
			b.Fatalf("poll answered %d events", len(got.Events))
		}
		trips += n.hook.total.Load() - t0
		i++
	}
	b.ReportMetric(float64(trips)/float64(i), "roundtrips/op")
}

// BenchmarkHTTPPollEmpty is a poll with timeout=0 that finds nothing.
func BenchmarkHTTPPollEmpty(b *testing.B) {
	n, _, bob := rtPair(b)
	t0 := n.hook.total.Load()
	i := 0
	for b.Loop() {
		bob.poll(b, 0, nil)
		i++
	}
	b.ReportMetric(float64(n.hook.total.Load()-t0)/float64(i), "roundtrips/op")
}

// BenchmarkDecodePollAnswer is a client decoding a full poll answer (100
// message events), what every browser tab pays per batch.
func BenchmarkDecodePollAnswer(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"events":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%d,"type":"message","message":{"conv":"d1-2","seq":%d,"from":1,"to":2,"type":"single","body":"benchmark message body of a realistic length, 64 bytes long....","ts":1700000000000,"client_id":"c%d"}}`, i+1, i+1, i)
	}
	sb.WriteString(`],"cursor":"dev-100"}`)
	raw := []byte(sb.String())
	type msg struct {
		Conv string `json:"conv"`
		Seq  int64  `json:"seq"`
		Body string `json:"body"`
	}
	var out struct {
		Events []struct {
			ID      int64  `json:"id"`
			Type    string `json:"type"`
			Message *msg   `json:"message"`
		} `json:"events"`
		Cursor string `json:"cursor"`
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := json.Unmarshal(raw, &out); err != nil {
			b.Fatal(err)
		}
	}
}
