package gateway

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

func TestSessionCodecRoundTripAndGobSessions(t *testing.T) {
	deadline := time.Unix(1_800_000_000, 123)
	values := map[string]any{sessUser: int64(42), sessDevice: "0123456789abcdef", sessSeen: int64(1_795_000_000_000)}
	for name, codec := range map[string]scs.Codec{"json": sessionCodec{}, "gob (sessions from before)": scs.GobCodec{}} {
		t.Run(name, func(t *testing.T) {
			b, err := codec.Encode(deadline, values)
			if err != nil {
				t.Fatal(err)
			}
			d, got, err := sessionCodec{}.Decode(b)
			if err != nil || !d.Equal(deadline) || len(got) != 3 || got[sessUser] != int64(42) || got[sessDevice] != "0123456789abcdef" || got[sessSeen] != int64(1_795_000_000_000) {
				t.Fatalf("decoded %v %v %v", d, got, err)
			}
		})
	}
	if _, err := (sessionCodec{}).Encode(deadline, map[string]any{"other": 1}); err == nil {
		t.Fatal("an unknown key was encoded")
	}
	if _, _, err := (sessionCodec{}).Decode([]byte("{broken")); err == nil {
		t.Fatal("a broken session decoded")
	}
}

func BenchmarkSessionDecode(b *testing.B) {
	values := map[string]any{sessUser: int64(12345), sessDevice: "0123456789abcdef", sessSeen: time.Now().UnixMilli()}
	for name, codec := range map[string]scs.Codec{"json": sessionCodec{}, "gob": scs.GobCodec{}} {
		buf, _ := codec.Encode(time.Now().Add(time.Hour), values)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := codec.Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
