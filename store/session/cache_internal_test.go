package session

import (
	"testing"
	"time"
)

func TestSessionCacheAgesEpochsAndPauses(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache()
	c.now = func() time.Time { return now }
	// Nothing is kept before the subscription that carries the news is up.
	c.put("t", []byte("v"), time.Hour, c.begin())
	if _, ok := c.get("t"); ok {
		t.Fatal("kept before the subscription was up")
	}
	c.flush(true) // the subscription is up

	// A read that an invalidation overtook is not kept: it may be the value
	// just deleted.
	e := c.begin()
	c.drop("other")
	c.put("t", []byte("old"), time.Hour, e)
	if _, ok := c.get("t"); ok {
		t.Fatal("kept a read that an invalidation overtook")
	}
	c.put("t", []byte("v"), time.Hour, c.begin())
	if b, ok := c.get("t"); !ok || string(b) != "v" {
		t.Fatalf("get = %q %v", b, ok)
	}

	// Trusted for cacheAge, then read again.
	now = now.Add(cacheAge - time.Millisecond)
	if _, ok := c.get("t"); !ok {
		t.Fatal("dropped before its age")
	}
	now = now.Add(time.Millisecond)
	if _, ok := c.get("t"); ok {
		t.Fatal("kept past its age")
	}

	// Never past the key's own expiry.
	c.put("short", []byte("v"), time.Second, c.begin())
	now = now.Add(time.Second)
	if _, ok := c.get("short"); ok {
		t.Fatal("kept past the key's expiry")
	}

	// Off while the subscription is lost: nothing kept, nothing answered.
	c.put("t", []byte("v"), time.Hour, c.begin())
	c.flush(false)
	c.put("t2", []byte("v"), time.Hour, c.begin())
	if _, ok := c.get("t"); ok {
		t.Fatal("answered while off")
	}
	if c.len() != 0 {
		t.Fatalf("%d entries kept while off", c.len())
	}
	c.flush(true)
	c.put("t", []byte("v"), time.Hour, c.begin())
	if _, ok := c.get("t"); !ok {
		t.Fatal("not kept once back on")
	}

	// The sweep forgets what aged out, so idle polls keep no sessions.
	now = now.Add(cacheAge)
	c.put("fresh", []byte("v"), time.Hour, c.begin())
	c.sweep()
	if c.len() != 1 {
		t.Fatalf("%d entries after the sweep, want 1", c.len())
	}
	// And a put past cacheAge since the last sweep sweeps by itself.
	now = now.Add(cacheAge)
	c.put("fresher", []byte("v"), time.Hour, c.begin())
	if c.len() != 1 {
		t.Fatalf("%d entries after a put that sweeps, want 1", c.len())
	}
}

func TestSessionCacheStaysBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache()
	c.now = func() time.Time { return now }
	c.flush(true) // the subscription is up
	for i := range cacheMax + 10 {
		c.put(string(rune(i))+"-"+time.Duration(i).String(), nil, time.Hour, c.begin())
	}
	if n := c.len(); n > cacheMax {
		t.Fatalf("%d entries, bound %d", n, cacheMax)
	}
}
